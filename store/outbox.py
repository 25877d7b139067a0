"""The outbox: messages waiting to be delivered, claimed with a lease so nothing is sent twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from store.models import OutboxMessage

LEASE = timedelta(seconds=60)


def claim_due(
    session: Session, channel: str, now: datetime, limit: int = 50
) -> list[OutboxMessage]:
    """Lease the due messages of a channel, oldest first, never overtaking an earlier message
    of the same chat that is still waiting (a 429 delays the whole chat, in order)."""
    earlier = aliased(OutboxMessage)
    blocked = exists().where(
        and_(
            earlier.channel == OutboxMessage.channel,
            earlier.chat_id == OutboxMessage.chat_id,
            earlier.status == "pending",
            earlier.id < OutboxMessage.id,
            (earlier.next_attempt_at > now)
            | (earlier.lease_until.is_not(None) & (earlier.lease_until > now)),
        )
    )
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            (OutboxMessage.lease_until.is_(None)) | (OutboxMessage.lease_until <= now),
            ~blocked,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    for row in rows:
        row.lease_until = now + LEASE
    session.flush()
    return rows


def mark_sent(session: Session, message_id: int, at: datetime, external_id: str | None) -> None:
    """Record a delivery."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            status="sent",
            sent_at=at,
            lease_until=None,
            external_id=external_id,
            attempts=OutboxMessage.attempts + 1,
        )
    )


def reschedule(session: Session, message_id: int, when: datetime, error: str) -> None:
    """Try again later (429 retry_after, 5xx or network error)."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            next_attempt_at=when,
            lease_until=None,
            last_error=error[:500],
            attempts=OutboxMessage.attempts + 1,
        )
    )


def mark_failed(session: Session, message_id: int, error: str) -> None:
    """Give up on a message that can never be delivered (blocked bot, bad request)."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            status="failed",
            lease_until=None,
            last_error=error[:500],
            attempts=OutboxMessage.attempts + 1,
        )
    )


def release(session: Session, message_ids: list[int]) -> None:
    """Give leased but unattempted messages back, e.g. after an earlier one of the chat failed."""
    if message_ids:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(message_ids)).values(lease_until=None)
        )
