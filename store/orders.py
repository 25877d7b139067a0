"""Work orders: numbering, creation with history, and the owner's own list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import promises
from store.models import DailyCounter, Order, OrderEvent, OrderPhoto, Person, PriceItem
from store.order_states import OrderAction, OrderStatus, next_status


def next_order_number(session: Session, prefix: str, day: str) -> str:
    """Hand out the next number of the day, e.g. R-20261122-0007, safely under concurrency."""
    bumped = session.execute(
        update(DailyCounter)
        .where(DailyCounter.prefix == prefix, DailyCounter.day == day)
        .values(value=DailyCounter.value + 1)
        .returning(DailyCounter.value)
    ).scalar()
    if bumped is None:
        try:
            with session.begin_nested():
                session.add(DailyCounter(prefix=prefix, day=day, value=1))
            bumped = 1
        except IntegrityError:  # another worker created the day's counter first
            return next_order_number(session, prefix, day)
    return f"{prefix}-{day}-{bumped:04d}"


@dataclass(frozen=True)
class NewRepair:
    """Everything the intake collected for one repair (R1)."""

    location: str
    category: str
    description: str
    contact_phone: str
    urgent: bool
    visit_start: datetime | None
    visit_end: datetime | None
    price_item_id: int | None
    quote_kind: str
    quoted_fen: int | None
    photos: tuple[str, ...]
    channel: str


def create_repair(
    session: Session,
    owner: Person,
    repair: NewRepair,
    number: str,
    at: datetime,
    entered_by: Person | None = None,
    intake: str | None = None,
) -> Order:
    """Store a submitted repair with its photos and the first lines of its history (R4, R50);
    one the front desk entered for a caller records the agent and "phone"/"counter" (R1)."""
    actor = entered_by if entered_by is not None else owner
    order = Order(
        number=number,
        kind="repair",
        owner=owner,
        unit_id=owner.unit_id,
        location=repair.location,
        category=repair.category,
        description=repair.description,
        contact_phone=repair.contact_phone,
        urgent=repair.urgent,
        visit_start=repair.visit_start,
        visit_end=repair.visit_end,
        price_item_id=repair.price_item_id,
        quote_kind=repair.quote_kind,
        quoted_fen=repair.quoted_fen,
        status=OrderStatus.SUBMITTED,
        created_at=at,
    )
    session.add(order)
    for ref in repair.photos:
        order.photos.append(OrderPhoto(channel=repair.channel, file_ref=ref))
    order.events.append(
        OrderEvent(
            at=at,
            actor_id=actor.id,
            action="submitted",
            to_status=OrderStatus.SUBMITTED,
            note=intake,
        )
    )
    if repair.quote_kind == "list":
        order.events.append(
            OrderEvent(
                at=at,
                actor_id=actor.id,
                action="quote_agreed",
                amount_fen=repair.quoted_fen,
                note=intake,
            )
        )
    session.flush()
    promises.order_waiting(session, order, at, new=True)
    return order


def apply_action(
    order: Order, action: OrderAction, actor_id: int | None, at: datetime, **extra: object
) -> OrderEvent:
    """Move an order through the state machine and append the event; illegal moves raise."""
    before = OrderStatus(order.status)
    after = next_status(before, action)
    order.status = after
    event = OrderEvent(
        at=at,
        actor_id=actor_id,
        action=action.value,
        from_status=before,
        to_status=after,
        amount_fen=extra.get("amount_fen") if isinstance(extra.get("amount_fen"), int) else None,
        note=str(extra["note"]) if extra.get("note") is not None else None,
    )
    order.events.append(event)
    return event


def orders_of(session: Session, owner_id: int, limit: int = 10) -> list[Order]:
    """The owner's most recent orders, newest first."""
    return list(
        session.scalars(
            select(Order)
            .where(Order.owner_id == owner_id)
            .order_by(Order.created_at.desc(), Order.id.desc())
            .limit(limit)
        )
    )


def order_of_owner(session: Session, owner_id: int, order_id: int) -> Order | None:
    """One order, only if it belongs to this owner."""
    return session.scalar(select(Order).where(Order.id == order_id, Order.owner_id == owner_id))


def price_item(session: Session, item_id: int) -> PriceItem | None:
    """An active price-list item by id."""
    item = session.get(PriceItem, item_id)
    return item if item is not None and item.active else None
