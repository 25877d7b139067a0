"""Progress promises (R33): something open must report progress every N hours; each silent
period escalates one step further (e.g. the butler, then the supervisor, then the manager)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from store import timers
from store.hours import BusinessHours

FAMILY = "progress"


def kind_for(subject: str) -> str:
    """The timer kind of a subject type, e.g. "progress:complaint"."""
    return f"{FAMILY}:{subject}"


def watch(
    session: Session,
    subject: str,
    subject_id: int,
    title: str,
    at: datetime,
    every: timedelta,
    escalation: Sequence[Sequence[str]],
    hours: BusinessHours | None = None,
) -> None:
    """Expect progress on `subject` #`subject_id` every `every` (counted in business `hours`
    when given); the n-th silent period alerts the roles of escalation step n (the last step
    repeats)."""
    if not escalation or every <= timedelta():
        raise ValueError("a progress watch needs a positive period and at least one step")
    data = {
        "title": title[:200],
        "every_s": every.total_seconds(),
        "step": 0,
        "escalation": [list(step) for step in escalation],
    }
    if hours is not None:
        data["hours"] = hours.to_data()
    timers.cancel(session, subject_id, (kind_for(subject),), at)
    timers.schedule(session, kind_for(subject), subject_id, _next(at, every, data), data)


def _next(at: datetime, every: timedelta, data: dict[str, object]) -> datetime:
    """The end of the next period: plain time, or business time when the watch has hours."""
    hours = BusinessHours.from_data(data.get("hours"))
    return hours.add(at, every) if hours is not None else at + every


def reported(session: Session, subject: str, subject_id: int, at: datetime) -> bool:
    """Progress was reported: the clock starts again at the first step. False if not watched."""
    current = timers.pending(session, subject_id, kind_for(subject))
    if current is None:
        return False
    data = dict(current.data)
    timers.cancel(session, subject_id, (kind_for(subject),), at)
    data["step"] = 0
    every = timedelta(seconds=data["every_s"])
    timers.schedule(session, current.kind, subject_id, _next(at, every, data), data)
    return True


def stop(session: Session, subject: str, subject_id: int, at: datetime) -> int:
    """The subject is closed: no more progress is expected."""
    return timers.cancel(session, subject_id, (kind_for(subject),), at)


def escalate(
    session: Session, kind: str, subject_id: int, data: dict[str, object], at: datetime
) -> list[str]:
    """After a silent period: the roles to alert now; the next period is scheduled one step up."""
    steps = data.get("escalation")
    step = data.get("step")
    every = data.get("every_s")
    if not isinstance(steps, list) or not steps or not isinstance(step, int):
        return []
    if not isinstance(every, (int, float)):
        return []
    roles = [str(r) for r in steps[min(step, len(steps) - 1)]]
    following = dict(data, step=step + 1)
    due = _next(at, timedelta(seconds=every), following)
    timers.schedule(session, kind, subject_id, due, following)
    return roles
