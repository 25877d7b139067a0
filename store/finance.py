"""Bills and payments (R10, R26, R27): what is owed, what was paid, how, and who recorded it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import promises
from store.models import Bill, Order, OrderEvent, Payment, Unit

METHODS = ("cash", "wechat", "alipay", "bank")
MAX_FEN = 10_000_000  # 100,000 yuan: anything above is a typing mistake, not a repair fee


class PaymentRefused(ValueError):
    """A payment that cannot be recorded; the message says why."""


def open_bill(
    session: Session,
    order: Order,
    amount_fen: int,
    at: datetime,
    paid_by: str | None = None,
    recorded_by: int | None = None,
) -> Bill:
    """A bill for a finished order: settled at once when `paid_by` is given, else unpaid."""
    bill = Bill(order_id=order.id, owner_id=order.owner_id, amount_fen=amount_fen, created_at=at)
    session.add(bill)
    session.flush()
    if paid_by is not None and amount_fen > 0:  # the fee_cash event already tells this one
        record_payment(session, bill, amount_fen, paid_by, recorded_by, at, event=False)
    elif amount_fen == 0:
        bill.status, bill.paid_at = "paid", at
    promises.bill_opened(session, bill, at)
    return bill


def record_payment(
    session: Session,
    bill: Bill,
    amount_fen: int,
    method: str,
    recorded_by: int | None,
    at: datetime,
    *,
    event: bool = True,
) -> Payment:
    """Take money against a bill; a partial payment leaves the rest outstanding. The payment
    is a line of the order's history too (R50), without bumping the order's version: an
    owner's sign-off buttons stay valid while finance records money."""
    if method not in METHODS:
        raise PaymentRefused("method")
    if bill.status == "paid":
        raise PaymentRefused("already paid")
    outstanding = bill.amount_fen - bill.paid_fen
    if amount_fen <= 0 or amount_fen > MAX_FEN:
        raise PaymentRefused("amount")
    if amount_fen > outstanding:
        raise PaymentRefused("more than owed")
    payment = Payment(
        bill_id=bill.id, amount_fen=amount_fen, method=method, recorded_by_id=recorded_by, at=at
    )
    session.add(payment)
    if event:
        bill.order.events.append(
            OrderEvent(at=at, actor_id=recorded_by, action="payment", amount_fen=amount_fen,
                       note=method)
        )
    bill.paid_fen += amount_fen
    if bill.paid_fen >= bill.amount_fen:
        bill.status, bill.paid_at = "paid", at
        promises.bill_paid(session, bill, at)
    session.flush()
    return payment


def receipt_sent(session: Session, bill: Bill, at: datetime, recorded_by: int | None) -> None:
    """Note in the order's history that the owner was sent a receipt (R10); the note says
    what is still to pay."""
    rest = bill.amount_fen - bill.paid_fen
    bill.order.events.append(
        OrderEvent(at=at, actor_id=recorded_by, action="receipt", note=f"outstanding {rest}")
    )
    session.flush()


def bill_of(session: Session, number: str) -> Bill | None:
    """The bill of an order, by order number."""
    return session.scalar(select(Bill).join(Order).where(Order.number == number))


@dataclass(frozen=True)
class Arrear:
    """One unpaid bill on the arrears list."""

    bill_id: int
    number: str
    room: str
    outstanding_fen: int
    since: datetime
    follow_up: bool = False  # reminders ran out: customer service asks why (R26)


def arrears(session: Session, limit: int = 50) -> tuple[list[Arrear], int, int]:
    """Unpaid bills oldest first (up to `limit`), their count and the total outstanding."""
    rows = session.execute(
        select(
            Bill.id,
            Order.number,
            Unit.code,
            Bill.amount_fen - Bill.paid_fen,
            Bill.created_at,
            Bill.follow_up_since,
        )
        .join(Order, Bill.order_id == Order.id)
        .outerjoin(Unit, Order.unit_id == Unit.id)
        .where(Bill.status == "unpaid")
        .order_by(Bill.created_at, Bill.id)
        .limit(limit)
    ).all()
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(Bill.amount_fen - Bill.paid_fen), 0)).where(
            Bill.status == "unpaid"
        )
    ).one()
    items = [Arrear(b, n, r or "-", int(o), c, f is not None) for b, n, r, o, c, f in rows]
    return items, int(count), int(total)
