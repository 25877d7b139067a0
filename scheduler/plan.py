"""Which reports are due: the daily digest (R52), the monthly report (R51) and the complaint
summary on the 25th (R35) become timers
with a once-key, so however many workers (or restarts) ask, each report is made once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from store.timers import schedule_once

DAILY_DIGEST = "daily_digest"  # subject: the reported local day as YYYYMMDD
MONTHLY_REPORT = "monthly_report"  # subject: the reported month as YYYYMM
COMPLAINT_SUMMARY = "complaint_summary"  # subject: the month so far as YYYYMM (R35)


@dataclass(frozen=True)
class ReportTimes:
    """When the reports go out, in the property's local time."""

    timezone: ZoneInfo
    digest_at: time = time(8, 30)
    monthly_day: int = 1
    monthly_at: time = time(9, 0)
    complaint_day: int = 25  # R35: the month's complaint summary reaches managers by the 25th


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
    if (local.day, local.time()) >= (times.complaint_day, times.monthly_at):
        # this month's only: a summary missed for a whole month is not sent weeks late
        key = f"{COMPLAINT_SUMMARY}:{local:%Y-%m}"
        if schedule_once(session, COMPLAINT_SUMMARY, local.year * 100 + local.month, now, key):
            added.append(key)
    return added
