"""On-site quotes (R5) and materials (R8): proposals, approval, the owner's answer, the bill."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.finance import open_bill
from store.jobs import act, note
from store.models import Order, OrderEvent, Person, PersonRole, PriceItem
from store.order_states import OrderAction

PROPOSED = "quote_proposed"  # an off-list amount waiting for a supervisor (R5)
REJECTED = "quote_rejected"
MATERIAL_ACTIONS = ("materials_owner", "materials_stock")  # R8


def supervisors_of(session: Session, department: str) -> list[Person]:
    """The department's supervisors, and those over every department."""
    return list(
        session.scalars(
            select(Person)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(
                PersonRole.role == "supervisor",
                (PersonRole.department == department) | PersonRole.department.is_(None),
            )
            .distinct()
            .order_by(Person.id)
        )
    )


def is_supervisor_of(session: Session, person_id: int, department: str) -> bool:
    """Whether a person supervises the department."""
    return any(p.id == person_id for p in supervisors_of(session, department))


def category_items(session: Session, category: str) -> list[PriceItem]:
    """The active, priced price-list items of a category."""
    return list(
        session.scalars(
            select(PriceItem)
            .where(
                PriceItem.category == category,
                PriceItem.active.is_(True),
                PriceItem.price_fen.is_not(None),
            )
            .order_by(PriceItem.code)
        )
    )


def last_event(order: Order, *actions: str) -> OrderEvent | None:
    """The newest event of the order with one of these actions."""
    return next((e for e in reversed(order.events) if e.action in actions), None)


def pending_proposal(order: Order) -> OrderEvent | None:
    """The off-list quote waiting for approval, if it is the newest event."""
    last = order.events[-1] if order.events else None
    return last if last is not None and last.action == PROPOSED else None


def propose(
    session: Session, order: Order, amount_fen: int, text: str, actor_id: int, at: datetime
) -> OrderEvent:
    """Record an off-list amount for the supervisor to approve."""
    return note(session, order, PROPOSED, actor_id, at, amount_fen=amount_fen, note=text)


def reject_proposal(session: Session, order: Order, actor_id: int, at: datetime) -> OrderEvent:
    """The supervisor turned the off-list amount down."""
    proposal = pending_proposal(order)
    amount = proposal.amount_fen if proposal is not None else None
    return note(session, order, REJECTED, actor_id, at, amount_fen=amount)


def quote(
    session: Session,
    order: Order,
    amount_fen: int,
    text: str,
    actor_id: int,
    at: datetime,
    item_id: int | None = None,
) -> OrderEvent:
    """Put the quote to the owner (item or approved amount); the order waits for the owner."""
    if item_id is not None:
        order.price_item_id = item_id
    return act(
        session,
        order,
        OrderAction.QUOTE,
        actor_id,
        at,
        order.version,
        amount_fen=amount_fen,
        note=text,
    )


def quoted_amount(order: Order) -> int:
    """The amount of the newest quote put to the owner."""
    event = last_event(order, OrderAction.QUOTE.value)
    return (event.amount_fen or 0) if event is not None else 0


def agree(session: Session, order: Order, actor_id: int, at: datetime) -> OrderEvent:
    """The owner agrees: the amount is stored and work may start."""
    amount = quoted_amount(order)
    order.quoted_fen = amount
    return act(session, order, OrderAction.AGREE, actor_id, at, order.version, amount_fen=amount)


def decline(
    session: Session, order: Order, actor_id: int, at: datetime, callout_fen: int
) -> OrderEvent:
    """The owner declines: the order closes, with an unpaid call-out fee if one is set."""
    event = act(
        session,
        order,
        OrderAction.DECLINE,
        actor_id,
        at,
        order.version,
        amount_fen=quoted_amount(order),
    )
    if callout_fen > 0:
        note(session, order, "callout_fee", actor_id, at, amount_fen=callout_fen)
        open_bill(session, order, callout_fen, at)
    return event


def add_material(
    session: Session,
    order: Order,
    action: str,
    text: str,
    actor_id: int,
    at: datetime,
    amount_fen: int | None = None,
) -> OrderEvent:
    """Note owner-supplied material, or charge material from stock."""
    if action not in MATERIAL_ACTIONS:
        raise ValueError(f"unknown material action {action!r}")
    return note(session, order, action, actor_id, at, amount_fen=amount_fen, note=text)
