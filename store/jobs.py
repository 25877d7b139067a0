"""The staff half of an order: who may take it, and the claim that only one person wins."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from store import promises
from store.callbacks import POOR, open_call, plan_after_acceptance
from store.finance import open_bill
from store.models import Order, OrderEvent, OrderPhoto, PersonRole
from store.order_states import OrderAction, OrderStatus
from store.orders import apply_action

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


def take(session: Session, order_id: int, version: int, assignee_id: int, at: datetime) -> bool:
    """Make `assignee_id` the holder of a waiting order. The database decides: of any number of
    simultaneous presses, exactly one UPDATE matches the row still submitted at that version."""
    result = session.execute(
        update(Order)
        .where(
            Order.id == order_id,
            Order.status == OrderStatus.SUBMITTED,
            Order.version == version,
        )
        .values(
            status=OrderStatus.CLAIMED,
            assignee_id=assignee_id,
            claimed_at=at,
            version=Order.version + 1,
        )
        # never "evaluate" the WHERE on the loaded order: on PostgreSQL the loser's UPDATE
        # matches no row after waiting, but the stale order in memory still matches it
        .execution_options(synchronize_session=False)
    )
    if int(cast(CursorResult[Any], result).rowcount or 0) != 1:
        lost = session.get(Order, order_id)
        if lost is not None:  # read the winner's committed row, not the stale copy
            session.refresh(lost)
        return False
    order = session.get(Order, order_id, populate_existing=True)
    if order is not None:
        promises.order_taken(session, order, at)
    return True


def claim(session: Session, order_id: int, version: int, person_id: int, at: datetime) -> bool:
    """Take an unclaimed order for oneself; only the first valid press wins."""
    if not take(session, order_id, version, person_id, at):
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


class StaleButton(ValueError):
    """A button drawn for an older version of the order."""


def order_for_update(session: Session, order_id: int) -> Order | None:
    """An order, locked for the rest of the transaction."""
    return session.get(Order, order_id, with_for_update=True)


def act(
    session: Session,
    order: Order,
    action: OrderAction,
    actor_id: int | None,
    at: datetime,
    version: int,
    **extra: object,
) -> OrderEvent:
    """Apply a staff or owner action drawn for `version`; stale buttons and illegal moves raise."""
    if order.version != version:
        raise StaleButton(order.number)
    event = apply_action(order, action, actor_id, at, **extra)
    if action is OrderAction.RELEASE:
        order.assignee_id = None
        order.claimed_at = None
    order.version += 1
    session.flush()
    promises.after_action(session, order, action, at)
    if action is OrderAction.ACCEPT:
        plan_after_acceptance(session, order, at)
    return event


def note(
    session: Session, order: Order, action: str, actor_id: int, at: datetime, **extra: object
) -> OrderEvent:
    """Record a change that does not move the status (re-booking, rating); bumps the version."""
    event = OrderEvent(
        at=at,
        actor_id=actor_id,
        action=action,
        amount_fen=extra.get("amount_fen") if isinstance(extra.get("amount_fen"), int) else None,
        note=str(extra["note"]) if extra.get("note") is not None else None,
    )
    order.events.append(event)
    order.version += 1
    session.flush()
    return event


def rebook(
    session: Session, order: Order, start: datetime, end: datetime, actor_id: int, at: datetime
) -> OrderEvent:
    """Store the owner's new visit time after nobody was home (R7)."""
    order.urgent = False
    order.visit_start, order.visit_end = start, end
    event = note(session, order, "rebook", actor_id, at, note=start.isoformat())
    promises.order_rebooked(session, order, at)
    return event


RATINGS = ("satisfied", "average", "unsatisfied")  # 满意 / 一般 / 不满意


def rate(session: Session, order: Order, rating: str, actor_id: int, at: datetime) -> OrderEvent:
    """Store the owner's rating of accepted work (R9)."""
    if rating not in RATINGS:
        raise ValueError(f"unknown rating {rating!r}")
    order.rating = rating
    event = note(session, order, "rate", actor_id, at, note=rating)
    if rating in POOR:
        open_call(session, order, "rating", at)  # R22: a person calls back at once
    return event


def create_rework(session: Session, order: Order, number: str, at: datetime) -> Order:
    """A free rework order (返修, R12) for work the owner reported not fixed."""
    rework = Order(
        number=number,
        kind="rework",
        rework_of_id=order.id,
        owner_id=order.owner_id,
        unit_id=order.unit_id,
        location=order.location,
        category=order.category,
        description=order.description,
        contact_phone=order.contact_phone,
        urgent=order.urgent,
        price_item_id=order.price_item_id,
        quote_kind="free",
        status=OrderStatus.SUBMITTED,
        department=order.department,
        created_at=at,
    )
    session.add(rework)
    for photo in order.photos:
        rework.photos.append(OrderPhoto(channel=photo.channel, file_ref=photo.file_ref))
    rework.events.append(
        OrderEvent(
            at=at,
            actor_id=order.owner_id,
            action="submitted",
            to_status=OrderStatus.SUBMITTED,
            note=f"rework of {order.number}",
        )
    )
    session.flush()
    promises.order_waiting(session, rework, at, new=True)
    return rework


def materials_fen(order: Order) -> int:
    """The sum of materials taken from stock (R8)."""
    return sum(e.amount_fen or 0 for e in order.events if e.action == "materials_stock")


def fee_total(order: Order) -> int:
    """What the owner owes at completion: the agreed price plus stock materials (R4, R8)."""
    return (order.quoted_fen or 0) + materials_fen(order)


FEE_SETTLEMENTS = ("fee_cash", "fee_unpaid")  # 现金已收 / 欠费 (R10)


def settle_fee(
    session: Session, order: Order, settlement: str, actor_id: int, at: datetime
) -> OrderEvent:
    """Record how a priced order's fee was settled at completion, with the amount, and open
    its bill: paid in cash on the spot, or unpaid (欠费) for finance's arrears list (R10)."""
    if settlement not in FEE_SETTLEMENTS:
        raise ValueError(f"unknown settlement {settlement!r}")
    total = fee_total(order)
    event = OrderEvent(at=at, actor_id=actor_id, action=settlement, amount_fen=total)
    order.events.append(event)
    session.flush()
    paid_by = "cash" if settlement == "fee_cash" else None
    open_bill(session, order, total, at, paid_by=paid_by, recorded_by=actor_id)
    return event
