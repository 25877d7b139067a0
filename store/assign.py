"""A supervisor hands a job to a person (R6): assign an open job, or reassign a taken one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from store.jobs import FIELD_ROLES, take
from store.models import Order, OrderEvent, Person, PersonRole
from store.order_states import OrderStatus

ASSIGNERS = frozenset({"supervisor", "manager"})
# a taken job may change hands until the work on site has gone further than arriving
REASSIGNABLE = (OrderStatus.CLAIMED, OrderStatus.ON_THE_WAY, OrderStatus.ARRIVED)


def may_assign(session: Session, person_id: int, department: str) -> bool:
    """A manager, or a supervisor of the department (or of every department)."""
    rows = session.execute(
        select(PersonRole.role, PersonRole.department).where(PersonRole.person_id == person_id)
    ).all()
    return any(
        role == "manager" or (role == "supervisor" and dept in (department, None))
        for role, dept in rows
    )


def takers(session: Session, department: str, limit: int = 30) -> list[Person]:
    """The people who may take the department's jobs (its field staff and supervisors)."""
    roles = [FIELD_ROLES.get(department, "engineer"), "supervisor"]
    query = (
        select(Person)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .where(
            PersonRole.role.in_(roles),
            (PersonRole.department == department) | PersonRole.department.is_(None),
        )
        .distinct()
        .order_by(Person.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def _changed(result: Any) -> bool:
    return int(cast(CursorResult[Any], result).rowcount or 0) == 1


def assign(
    session: Session, order_id: int, version: int, assignee: Person, actor_id: int, at: datetime
) -> bool:
    """Give a waiting job to `assignee`; like a claim, exactly one change wins per version."""
    won = take(session, order_id, version, assignee.id, at)
    if won:
        _event(
            session,
            order_id,
            at,
            actor_id,
            "assign",
            OrderStatus.SUBMITTED,
            OrderStatus.CLAIMED,
            assignee.name,
        )
    return won


def reassign(
    session: Session, order: Order, version: int, assignee: Person, actor_id: int, at: datetime
) -> Person | None:
    """Hand a taken job to someone else; the status stays, the version moves. The old holder."""
    old = order.assignee
    if old is None or old.id == assignee.id:
        return None
    won = _changed(
        session.execute(
            update(Order)
            .where(
                Order.id == order.id,
                Order.status.in_([s.value for s in REASSIGNABLE]),
                Order.version == version,
                Order.assignee_id == old.id,
            )
            .values(assignee_id=assignee.id, version=Order.version + 1)
        )
    )
    if not won:
        return None
    status = OrderStatus(order.status)
    _event(
        session,
        order.id,
        at,
        actor_id,
        "reassign",
        status,
        status,
        f"{old.name} -> {assignee.name}",
    )
    return old


def _event(
    session: Session,
    order_id: int,
    at: datetime,
    actor_id: int,
    action: str,
    before: OrderStatus,
    after: OrderStatus,
    note: str,
) -> None:
    session.add(
        OrderEvent(
            order_id=order_id,
            at=at,
            actor_id=actor_id,
            action=action,
            from_status=before,
            to_status=after,
            note=note[:200],
        )
    )
    session.flush()
    session.expire_all()
