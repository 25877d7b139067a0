"""Which reports are due: the daily digest (R52) and the monthly report (R51) become timers
with a once-key, so however many workers (or restarts) ask, each report is made once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from store.timers import schedule_once

DAILY_DIGEST = "daily_digest"  # subject: the reported local day as YYYYMMDD
MONTHLY_REPORT = "monthly_report"  # subject: the reported month as YYYYMM


@dataclass(frozen=True)
class ReportTimes:
    """When the reports go out, in the property's local time."""

    timezone: ZoneInfo
    digest_at: time = time(8, 30)
    monthly_day: int = 1
    monthly_at: time = time(9, 0)


def previous_month(day: date) -> tuple[int, int]:
    """(year, month) of the month before `day`."""
    first = day.replace(day=1) - timedelta(days=1)
    return first.year, first.month


def plan_reports(session: Session, now: datetime, times: ReportTimes) -> list[str]:
    """Schedule the latest digest and monthly report whose time has come and that were never
    scheduled (a missed run after downtime is caught up); returns the once-keys added."""
    local = now.astimezone(times.timezone)
    added: list[str] = []
    if local.time() >= times.digest_at:
        day = local.date() - timedelta(days=1)
        key = f"{DAILY_DIGEST}:{day.isoformat()}"
        if schedule_once(session, DAILY_DIGEST, int(f"{day:%Y%m%d}"), now, key):
            added.append(key)
    if (local.day, local.time()) >= (times.monthly_day, times.monthly_at):
        year, month = previous_month(local.date())
        key = f"{MONTHLY_REPORT}:{year:04d}-{month:02d}"
        if schedule_once(session, MONTHLY_REPORT, year * 100 + month, now, key):
            added.append(key)
    return added
