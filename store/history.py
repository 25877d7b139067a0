"""The digital three-copy order (R50): one order and its append-only history, as text."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Order, Person


def _fen(fen: int | None) -> str:
    return "" if fen is None else f"{fen // 100}.{fen % 100:02d} yuan"


def order_history(session: Session, number: str, zone: ZoneInfo) -> list[str] | None:
    """Every fact of an order and every event (when, who, what, amount); None if unknown."""
    order = session.scalar(select(Order).where(Order.number == number))
    if order is None:
        return None

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "-"

    names = {
        p.id: p.name
        for p in session.scalars(
            select(Person).where(Person.id.in_({e.actor_id for e in order.events if e.actor_id}))
        )
    }
    when = (
        "urgent (come now)"
        if order.urgent
        else (
            f"{local(order.visit_start)} - {local(order.visit_end)}" if order.visit_start else "-"
        )
    )
    lines = [
        f"{order.number}  {order.status}  ({order.kind}, {order.department})",
        f"owner:     {order.owner.name}  {order.contact_phone}",
        f"room:      {order.unit.code if order.unit else '-'}  ({order.location})",
        f"category:  {order.category}",
        f"problem:   {order.description}",
        f"visit:     {when}",
        f"price:     {order.quote_kind} {_fen(order.quoted_fen)}".rstrip(),
        f"assignee:  {order.assignee.name if order.assignee else '-'}",
        f"photos:    {len(order.photos)}",
        "history:",
    ]
    for event in order.events:
        who = names.get(event.actor_id or -1, "system")
        move = f" {event.from_status or ''}->{event.to_status}" if event.to_status else ""
        extra = " ".join(x for x in (_fen(event.amount_fen), event.note or "") if x)
        lines.append(f"  {local(event.at)}  {who:<12} {event.action}{move} {extra}".rstrip())
    return lines
