"""The desk's policy as the use cases see it: time zone, hours, language, groups, clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from store.clock import Clock, system_clock
from store.promises import TimerPolicy


@dataclass(frozen=True)
class Desk:
    """Settings the handlers need, free of any transport or config library."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    default_language: str = "zh"
    opens: time = time(8, 0)
    closes: time = time(18, 0)
    visit_window_hours: int = 2
    booking_days: int = 7
    staff_groups: frozenset[str] = frozenset()
    default_group: str | None = None
    complaints_group: str | None = None  # the agents' group for complaint cards, if its own
    department_groups: tuple[tuple[str, str], ...] = ()  # (department, chat id)
    callout_fee_fen: int = 0  # charged when the owner declines an on-site quote (R5)
    timers: TimerPolicy = field(default_factory=TimerPolicy)
    staff_channel: str = "telegram"  # staff groups live on Telegram, whatever owners use
    card_batch: int = 1  # orders one unsent job card may gather for a group (issue 15.3)
    web_chat_url: str | None = None  # the web chat's public page, where /web links point
    clock: Clock = system_clock

    def now(self) -> datetime:
        """The current time (UTC, aware); tests pass a controllable clock."""
        return self.clock()

    def complaint_group(self) -> str | None:
        """Where complaint cards go: the agents' group if configured, else the staff group."""
        return self.complaints_group or self.default_group

    def group_for(self, department: str) -> str | None:
        """The staff group whose members do a department's jobs."""
        return dict(self.department_groups).get(department, self.default_group)

    def local(self, moment: datetime) -> datetime:
        """A moment in the property's time zone."""
        return moment.astimezone(self.timezone)
