"""Complaint figures for the managers' daily digest (R52) and the monthly summary (R35): counts
by SQL aggregation, numbers only — never who complained (R30)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import progress
from store.complaints.models import Complaint, ComplaintEvent, LiaisonForm
from store.complaints.records import OPEN, PROGRESS_SUBJECT
from store.models import Timer
from store.reports import day_range, month_range


@dataclass(frozen=True)
class ComplaintDay:
    """The complaint lines of one day's digest."""

    complaints: int  # received that day
    suggestions: int
    closed: int  # closed that day
    open_by_status: dict[str, int]  # as of the digest
    open_by_class: dict[str, int]
    overdue_progress: list[str]  # numbers whose progress update is late (R33)
    flagged: list[tuple[str, str]]  # (number, status) of flagged complaints not closed (R34)

    @property
    def empty(self) -> bool:
        """Nothing to say: no complaint received, open or closed."""
        return not (self.complaints or self.suggestions or self.closed or self.open_by_status)


def complaint_day(session: Session, day: date, tz: ZoneInfo, now: datetime) -> ComplaintDay:
    """Complaints received and closed on the local day `day`, and what is open at `now`."""
    start, end = day_range(day, tz)
    received = dict(
        session.execute(
            select(Complaint.kind, func.count())
            .where(Complaint.created_at >= start, Complaint.created_at < end)
            .group_by(Complaint.kind)
        ).all()
    )
    closed = session.scalar(
        select(func.count()).where(Complaint.closed_at >= start, Complaint.closed_at < end)
    )
    by_status = dict(
        session.execute(
            select(Complaint.status, func.count())
            .where(Complaint.status.in_(OPEN))
            .group_by(Complaint.status)
        ).all()
    )
    by_class = dict(
        session.execute(
            select(Complaint.klass, func.count())
            .where(Complaint.status.in_(OPEN), Complaint.klass.is_not(None))
            .group_by(Complaint.klass)
        ).all()
    )
    # a progress timer past its first period, or already due, means an update is late
    late = session.execute(
        select(Complaint.number, Timer.due_at, Timer.data)
        .join(Timer, Timer.subject_id == Complaint.id)
        .where(Timer.kind == progress.kind_for(PROGRESS_SUBJECT), Timer.status == "pending")
        .order_by(Complaint.number)
    ).all()
    overdue = [n for n, due, data in late if due <= now or int(dict(data).get("step", 0)) > 0]
    flagged = [
        (n, s)
        for n, s in session.execute(
            select(Complaint.number, Complaint.status)
            .where(Complaint.flagged.is_(True), Complaint.status != "closed")
            .order_by(Complaint.number)
        )
    ]
    return ComplaintDay(
        complaints=int(received.get("complaint", 0)),
        suggestions=int(received.get("suggestion", 0)),
        closed=int(closed or 0),
        open_by_status={str(k): int(v) for k, v in by_status.items()},
        open_by_class={str(k): int(v) for k, v in by_class.items()},
        overdue_progress=overdue,
        flagged=flagged,
    )


@dataclass(frozen=True)
class ComplaintMonth:
    """The monthly complaint summary (R35)."""

    month: str
    by_kind: dict[str, int] = field(default_factory=dict)
    by_class: dict[str, int] = field(default_factory=dict)
    by_subject: dict[str, int] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)
    median_classify_minutes: float | None = None
    median_close_hours: float | None = None
    missed_progress: int = 0  # escalations of silent periods (R33)
    reopenings: int = 0
    liaisons_awaiting: int = 0


def complaint_month(session: Session, month: str, tz: ZoneInfo) -> ComplaintMonth:
    """Counts by type, class, subject and outcome of the month's complaints; medians of the
    time to classify and to close; missed progress updates; reopenings; liaison forms still
    awaiting a reply."""
    start, end = month_range(month, tz)
    in_month = (Complaint.created_at >= start, Complaint.created_at < end)

    def counts(column: object) -> dict[str, int]:
        rows = session.execute(
            select(column, func.count()).where(*in_month).group_by(column)  # type: ignore[call-overload]
        ).all()
        return {str(k): int(v) for k, v in rows if k is not None}

    times = session.execute(
        select(Complaint.created_at, Complaint.classified_at, Complaint.closed_at).where(
            *in_month, Complaint.kind == "complaint"
        )
    ).all()
    classify = [(c - a).total_seconds() / 60 for a, c, _ in times if c is not None]
    close = [(z - a).total_seconds() / 3600 for a, _, z in times if z is not None]
    missed = session.scalar(
        select(func.count())
        .select_from(Timer)
        .where(
            Timer.kind == progress.kind_for(PROGRESS_SUBJECT),
            Timer.status == "done",
            Timer.done_at >= start,
            Timer.done_at < end,
        )
    )
    reopenings = session.scalar(
        select(func.count())
        .select_from(ComplaintEvent)
        .where(
            ComplaintEvent.action == "reopen", ComplaintEvent.at >= start, ComplaintEvent.at < end
        )
    )
    awaiting = session.scalar(
        select(func.count()).select_from(LiaisonForm).where(LiaisonForm.status == "awaiting")
    )
    return ComplaintMonth(
        month=month,
        by_kind=counts(Complaint.kind),
        by_class=counts(Complaint.klass),
        by_subject=counts(Complaint.subject),
        by_outcome=counts(Complaint.outcome),
        median_classify_minutes=statistics.median(classify) if classify else None,
        median_close_hours=statistics.median(close) if close else None,
        missed_progress=int(missed or 0),
        reopenings=int(reopenings or 0),
        liaisons_awaiting=int(awaiting or 0),
    )
