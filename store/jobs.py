"""The staff half of an order: who may take it, and the claim that only one person wins."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from store.models import Order, OrderEvent, PersonRole
from store.order_states import OrderAction, OrderStatus

DEPARTMENT_OF_CATEGORY = {
    "cleaning": "cleaning",
    "greening": "greening",
}
FIELD_ROLES = {"engineering": "engineer", "cleaning": "cleaner", "greening": "gardener"}


def department_for(category: str) -> str:
    """The department that does a category's work (engineering unless cleaning or greening)."""
    return DEPARTMENT_OF_CATEGORY.get(category, "engineering")


def may_take(session: Session, person_id: int, department: str) -> bool:
    """Whether a person may claim the department's jobs: its field staff or its supervisor."""
    wanted = {FIELD_ROLES.get(department, "engineer"), "supervisor"}
    rows = session.execute(
        select(PersonRole.role, PersonRole.department).where(PersonRole.person_id == person_id)
    ).all()
    return any(role in wanted and dept in (department, None) for role, dept in rows)


def claim(session: Session, order_id: int, version: int, person_id: int, at: datetime) -> bool:
    """Take an unclaimed order. The database decides: of any number of simultaneous presses,
    exactly one UPDATE matches the row still submitted at that version."""
    result = session.execute(
        update(Order)
        .where(
            Order.id == order_id,
            Order.status == OrderStatus.SUBMITTED,
            Order.version == version,
        )
        .values(
            status=OrderStatus.CLAIMED,
            assignee_id=person_id,
            claimed_at=at,
            version=Order.version + 1,
        )
    )
    if int(cast(CursorResult[Any], result).rowcount or 0) != 1:
        return False
    session.add(
        OrderEvent(
            order_id=order_id,
            at=at,
            actor_id=person_id,
            action=OrderAction.CLAIM.value,
            from_status=OrderStatus.SUBMITTED,
            to_status=OrderStatus.CLAIMED,
        )
    )
    session.flush()
    session.expire_all()
    return True
