"""Business hours: spans of time counted only while the desk is open (R33's 4 hours, the
30 minutes to classify a complaint), so nobody is alerted at night for a promise that only
runs in the daytime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 60  # a span longer than this many business days is not a promise the desk keeps


@dataclass(frozen=True)
class BusinessHours:
    """Opening and closing time (every day) in the property's time zone."""

    opens: time
    closes: time
    zone: ZoneInfo

    def add(self, start: datetime, span: timedelta) -> datetime:
        """`start` plus `span`, counting only the time between opening and closing."""
        if self.closes <= self.opens or span <= timedelta():
            return start + span
        left = span
        local = start.astimezone(self.zone)
        for _day in range(MAX_DAYS):
            opens = datetime.combine(local.date(), self.opens, tzinfo=self.zone)
            closes = datetime.combine(local.date(), self.closes, tzinfo=self.zone)
            local = max(local, opens)
            if local < closes:
                if local + left <= closes:
                    return local + left
                left -= closes - local
            local = opens + timedelta(days=1)
        return start + span

    def to_data(self) -> list[str]:
        """A JSON-able form for a timer's data."""
        return [self.opens.isoformat("minutes"), self.closes.isoformat("minutes"), self.zone.key]

    @classmethod
    def from_data(cls, value: object) -> BusinessHours | None:
        """Rebuild from `to_data`; None when absent or malformed."""
        if not isinstance(value, list) or len(value) != 3:
            return None
        try:
            return cls(
                time.fromisoformat(value[0]), time.fromisoformat(value[1]), ZoneInfo(value[2])
            )
        except (ValueError, TypeError, KeyError):
            return None
