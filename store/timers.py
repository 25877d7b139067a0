"""Durable timers: rows written and cancelled in the same transaction as their cause, claimed
by the sweeper with a lease, and run exactly once (the run and its effects commit together)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import Timer

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8


def schedule(
    session: Session,
    kind: str,
    subject_id: int,
    due_at: datetime,
    data: dict[str, Any] | None = None,
) -> Timer:
    """Add a timer to the current transaction."""
    timer = Timer(kind=kind, subject_id=subject_id, due_at=due_at, data=data or {})
    session.add(timer)
    session.flush()
    return timer


def schedule_once(
    session: Session, kind: str, subject_id: int, due_at: datetime, once_key: str
) -> bool:
    """Add a timer unless one with `once_key` was ever added (by any worker); True if added."""
    if session.scalar(select(Timer.id).where(Timer.once_key == once_key)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                Timer(kind=kind, subject_id=subject_id, due_at=due_at, data={}, once_key=once_key)
            )
    except IntegrityError:  # another worker added it between our check and our insert
        return False
    return True


def cancel(session: Session, subject_id: int, kinds: Sequence[str], at: datetime) -> int:
    """Cancel the pending timers of these kinds about a subject; returns how many."""
    result = session.execute(
        update(Timer)
        .where(Timer.subject_id == subject_id, Timer.kind.in_(kinds), Timer.status == "pending")
        .values(status="cancelled", done_at=at, lease_until=None)
    )
    return _rowcount(result)


def pending(session: Session, subject_id: int, kind: str) -> Timer | None:
    """The earliest pending timer of a kind about a subject."""
    return session.scalar(
        select(Timer)
        .where(Timer.subject_id == subject_id, Timer.kind == kind, Timer.status == "pending")
        .order_by(Timer.due_at)
        .limit(1)
    )


def claim_due(session: Session, now: datetime, limit: int = 100) -> list[tuple[int, str]]:
    """Lease up to `limit` due timers, earliest first; other workers skip them meanwhile.
    Returns (id, kind) of each."""
    due = (
        select(Timer.id)
        .where(
            Timer.status == "pending",
            Timer.due_at <= now,
            (Timer.lease_until.is_(None)) | (Timer.lease_until <= now),
        )
        .order_by(Timer.due_at, Timer.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    # one statement for the batch (ix_timers_due finds it), not an UPDATE per leased timer
    leased = session.execute(
        update(Timer)
        .where(Timer.id.in_(due.scalar_subquery()))
        .values(lease_until=now + LEASE)
        .returning(Timer.id, Timer.kind, Timer.due_at)
        .execution_options(synchronize_session=False)
    ).all()
    # RETURNING keeps no order: earliest first again
    in_order = sorted(leased, key=lambda row: (_aware(row[2]), row[0]))
    return [(timer_id, kind) for timer_id, kind, _due in in_order]


def begin_run(session: Session, timer_id: int, now: datetime) -> Timer | None:
    """Mark a timer done inside the transaction that runs its effect; None if it already ran,
    was cancelled, or is not due. The row stays locked until that transaction ends, so a second
    worker waits and then finds it done: the effect happens once."""
    result = session.execute(
        update(Timer)
        .where(Timer.id == timer_id, Timer.status == "pending", Timer.due_at <= now)
        .values(status="done", done_at=now, lease_until=None, attempts=Timer.attempts + 1)
    )
    if _rowcount(result) != 1:
        return None
    return session.get(Timer, timer_id, populate_existing=True)


def begin_runs(session: Session, timer_ids: Sequence[int], now: datetime) -> list[Timer]:
    """`begin_run` for a batch in one statement: marks done those still pending and due (their
    rows stay locked until this transaction ends) and returns them, in the order given."""
    if not timer_ids:
        return []
    begun = set(
        session.scalars(
            update(Timer)
            .where(Timer.id.in_(timer_ids), Timer.status == "pending", Timer.due_at <= now)
            .values(status="done", done_at=now, lease_until=None, attempts=Timer.attempts + 1)
            .returning(Timer.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not begun:
        return []
    loaded = session.scalars(
        select(Timer).where(Timer.id.in_(begun)).execution_options(populate_existing=True)
    )
    by_id = {timer.id: timer for timer in loaded}
    return [by_id[i] for i in timer_ids if i in by_id]


def fail_run(session: Session, timer_id: int, now: datetime, error: str) -> str:
    """A timer begun in this transaction whose effect raised (its writes taken back by a
    SAVEPOINT): pending again with backoff, or given up after MAX_ATTEMPTS; its attempt was
    counted when it began."""
    timer = session.get(Timer, timer_id, populate_existing=True)
    if timer is None or timer.status != "done":
        return "gone"
    timer.status, timer.done_at = "pending", None
    _back_off(timer, now, error)
    session.flush()
    return timer.status


def defer(session: Session, timer: Timer, until: datetime) -> None:
    """Put a timer back to wait until `until` (e.g. an owner message in quiet hours)."""
    timer.status, timer.done_at, timer.due_at = "pending", None, until
    timer.attempts = max(0, timer.attempts - 1)
    session.flush()


def record_failure(session: Session, timer_id: int, now: datetime, error: str) -> str:
    """After an effect raised: retry later with backoff, or give up after MAX_ATTEMPTS."""
    # read afresh: in a batch the timer was loaded (and marked done) in a rolled-back SAVEPOINT
    timer = session.get(Timer, timer_id, with_for_update=True, populate_existing=True)
    if timer is None or timer.status != "pending":
        return "gone"
    timer.attempts += 1
    _back_off(timer, now, error)
    session.flush()
    return timer.status


def _back_off(timer: Timer, now: datetime, error: str) -> None:
    timer.last_error = error[:500]
    timer.lease_until = None
    if timer.attempts >= MAX_ATTEMPTS:
        timer.status, timer.done_at = "failed", now
    else:
        timer.due_at = now + timedelta(seconds=30 * 2 ** (timer.attempts - 1))


def _rowcount(result: object) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


def overview(session: Session) -> list[tuple[str, str, int, datetime | None]]:
    """(kind, status, count, earliest due) of pending and failed timers, by kind."""
    rows = session.execute(
        select(Timer.kind, Timer.status, func.count(), func.min(Timer.due_at))
        .where(Timer.status.in_(("pending", "failed")))
        .group_by(Timer.kind, Timer.status)
        .order_by(Timer.status, Timer.kind)
    ).all()
    return [(kind, status, int(n), _aware(due)) for kind, status, n, due in rows]


def failures(session: Session, limit: int = 20) -> list[Timer]:
    """The most recent timers given up on, with their last error."""
    return list(
        session.scalars(
            select(Timer)
            .where(Timer.status == "failed")
            .order_by(Timer.done_at.desc(), Timer.id.desc())
            .limit(limit)
        )
    )


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates bypass the column type: SQLite hands back naive UTC (or text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
