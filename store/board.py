"""The supervisor's board: open work by state, what waits unclaimed, what is overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from store.models import Order, Person
from store.order_states import OPEN, OrderStatus

URGENT_ARRIVAL = timedelta(minutes=30)  # R3
# nobody is on site yet: what R3 and booked visits are measured against
NOT_ON_SITE = (OrderStatus.SUBMITTED, OrderStatus.CLAIMED, OrderStatus.ON_THE_WAY)


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Overdue: nobody on site yet, and an urgent order older than 30 minutes (R3) or a booked
    visit whose start has passed."""
    return and_(
        Order.status.in_([s.value for s in NOT_ON_SITE]),
        or_(
            and_(Order.urgent.is_(True), Order.created_at < now - URGENT_ARRIVAL),
            and_(Order.visit_start.is_not(None), Order.visit_start < now),
        ),
    )


@dataclass(frozen=True)
class WaitingJob:
    """An order nobody has taken yet."""

    number: str
    department: str
    urgent: bool
    waiting: timedelta


@dataclass(frozen=True)
class HeldJob:
    """An open order someone holds, with what a Reassign button needs."""

    order_id: int
    number: str
    version: int
    status: str
    assignee: str


@dataclass(frozen=True)
class Board:
    """Counts by status, the unclaimed queue (oldest first) and the overdue orders."""

    by_status: dict[str, int]
    unclaimed: list[WaitingJob]
    overdue: list[str]
    held: list[HeldJob]


def held_jobs(session: Session, limit: int = 20) -> list[HeldJob]:
    """Open orders with an assignee, longest held first; only `limit` rows are read."""
    rows = session.execute(
        select(Order.id, Order.number, Order.version, Order.status, Person.name)
        .join(Person, Person.id == Order.assignee_id)
        .where(Order.status.in_([s.value for s in OPEN]))
        .order_by(Order.claimed_at, Order.id)
        .limit(limit)
    ).all()
    return [HeldJob(i, number, v, str(status), name) for i, number, v, status, name in rows]


def board(session: Session, now: datetime, limit: int = 20) -> Board:
    """Read the board with SQL aggregation; only the listed rows are loaded."""
    open_states = [s.value for s in OPEN]
    counts = dict(
        session.execute(
            select(Order.status, func.count())
            .where(Order.status.in_(open_states))
            .group_by(Order.status)
        ).all()
    )
    unclaimed = [
        WaitingJob(o.number, o.department, o.urgent, now - o.created_at)
        for o in session.scalars(
            select(Order)
            .where(Order.status == OrderStatus.SUBMITTED)
            .order_by(Order.created_at)
            .limit(limit)
        )
    ]
    overdue = list(
        session.scalars(
            select(Order.number).where(overdue_clause(now)).order_by(Order.created_at).limit(limit)
        )
    )
    by_status = {str(k): int(v) for k, v in counts.items()}
    return Board(by_status, unclaimed, overdue, held_jobs(session, limit))
