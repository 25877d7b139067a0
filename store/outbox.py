"""The outbox: messages waiting to be delivered, leased a chat at a time so nothing is sent
twice and no chat is split between workers.

A worker leases the first few due rows of a chat by writing `lease_until`; that value is also
its fencing token: every record of the outcome (sent, retry, failed, release) and every renewal
matches it, so a worker whose lease ran out and was taken over can no longer touch the rows.
Leases are short and renewed while their holder is working (bot.outbox), so a dead worker's
chats are free again within seconds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    event,
    exists,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased, sessionmaker

from store.clock import session_now
from store.models import OutboxMessage

LEASE = timedelta(seconds=10)  # renewed every quarter of it while the holder works
PER_CHAT = 5  # rows of one chat leased at once: a busy group does not hog a batch
# claims of all workers take turns (PostgreSQL), so one never misses the other's fresh lease
_CLAIM_LOCK = 0x70D5_0B0C

# who goes first when the sender's overall budget is short (bot.outbox.priority_of)
INTERACTIVE, CARD, REMINDER, REPORT = 0, 1, 2, 3
# a unit of work whose session.info carries this key stamps its new rows' payload "priority"
PRIORITY_KEY = "propdesk_outbox_priority"


def stamp_priorities(factory: sessionmaker[Session]) -> None:
    """Rows written by a unit of work marked with PRIORITY_KEY (the timer sweeper marks its
    own as REMINDER) carry that priority in their payload: no column needed."""

    @event.listens_for(factory, "before_flush")
    def _stamp(session: Session, _context: Any, _instances: Any) -> None:
        if session.info.get(PRIORITY_KEY) is None:
            return
        for row in session.new:
            if isinstance(row, OutboxMessage):
                row.payload = with_priority(session, row.payload)


def with_priority(session: Session, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with the unit of work's priority (PRIORITY_KEY), unless it has its own."""
    priority = session.info.get(PRIORITY_KEY)
    if priority is None or "priority" in payload:
        return payload
    return {**payload, "priority": int(priority)}


def queue(session: Session, channel: str, messages: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Queue (chat id, payload) messages in the current transaction with one Core INSERT, no
    ORM objects to track and flush (issue 15.4); rows the unit of work added before are
    flushed first, so the ids keep the order written."""
    if not messages:
        return
    session.flush()
    now = session_now(session)
    rows = [
        {
            "channel": channel,
            "chat_id": chat_id,
            "payload": with_priority(session, payload),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for chat_id, payload in messages
    ]
    session.execute(_QUEUE, rows)


def _due_rows(limit: int, one_chat: bool) -> Select[int, str]:
    """The ids and chats of due rows of chats no worker holds, oldest first: built once, run
    with the parameters `channel`, `now` (and `chat_id`). Building it per claim (its operators,
    the alias, the cache key) was about half of a claim's CPU (issue 15.4)."""
    now: BindParameter[datetime] = bindparam("now")
    other = aliased(OutboxMessage)
    held = exists().where(
        and_(
            other.channel == OutboxMessage.channel,
            other.chat_id == OutboxMessage.chat_id,
            other.status == "pending",
            other.lease_until.is_not(None) & (other.lease_until > now)
            | ((other.id < OutboxMessage.id) & (other.next_attempt_at > now)),
        )
    )
    query = (
        select(OutboxMessage.id, OutboxMessage.chat_id)
        .where(
            OutboxMessage.channel == bindparam("channel"),
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.lease_until.is_(None) | (OutboxMessage.lease_until <= now),
            ~held,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if one_chat:
        query = query.where(OutboxMessage.chat_id == bindparam("chat_id"))
    return query


_DUE: dict[tuple[int, bool], Select[int, str]] = {}
# the rows just claimed become leased by `token` (a row taken meanwhile, e.g. a passive WeChat
# reply, is skipped, not overwritten), then come back with that token
_LEASE_ROWS = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id.in_(bindparam("ids", expanding=True)),
        OutboxMessage.status == "pending",
        OutboxMessage.lease_until.is_(None) | (OutboxMessage.lease_until <= bindparam("now")),
    )
    .values(lease_until=bindparam("token"))
    .execution_options(synchronize_session=False)
)
_LEASED_ROWS = (
    select(OutboxMessage)
    .where(
        OutboxMessage.id.in_(bindparam("ids", expanding=True)),
        OutboxMessage.lease_until == bindparam("token"),
    )
    .order_by(OutboxMessage.id)
    .execution_options(populate_existing=True)
)


def claim_due(
    session: Session,
    channel: str,
    now: datetime,
    limit: int = 50,
    *,
    chat_id: str | None = None,
    per_chat: int = PER_CHAT,
) -> list[OutboxMessage]:
    """Lease the first due messages of chats no worker holds, oldest first (all of a channel,
    or of one chat). A chat is held while any of its rows has a live lease, and waits while an
    earlier row waits for its next attempt (a 429 delays the whole chat, in order). The rows
    come back with `lease_until` set: the token their holder records with."""
    if session.get_bind().dialect.name == "postgresql":
        # without it two claims at the same moment each miss the other's uncommitted lease
        # and split a chat (issue 14.4); SQLite's BEGIN IMMEDIATE already serializes them
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK})
    key = (limit, chat_id is not None)
    query = _DUE.get(key)
    if query is None:
        query = _DUE[key] = _due_rows(limit, chat_id is not None)
    params: dict[str, Any] = {"channel": channel, "now": now}
    if chat_id is not None:
        params["chat_id"] = chat_id
    by_chat: dict[str, list[int]] = defaultdict(list)
    for row_id, row_chat in session.execute(query, params):
        if len(by_chat[row_chat]) < per_chat:
            by_chat[row_chat].append(row_id)
    ids = [row_id for chat_ids in by_chat.values() for row_id in chat_ids]
    if not ids:
        return []
    token = now + LEASE
    session.execute(_LEASE_ROWS, {"ids": ids, "now": now, "token": token})
    return list(session.scalars(_LEASED_ROWS, {"ids": ids, "token": token}).all())


def unsent_tail(session: Session, channel: str, chat_id: str) -> OutboxMessage | None:
    """The chat's newest message not yet sent, locked for the rest of the transaction (None
    when there is none). Only a row no sender holds (`lease_until` None) may still be
    rewritten: a sender's lease waits for this lock, then reads what was written (PostgreSQL
    re-checks its UPDATE after the lock; SQLite runs one writer at a time)."""
    return session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.status == "pending",
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def renew(
    session: Session, message_ids: Sequence[int], token: datetime, new_token: datetime
) -> set[int]:
    """Extend a holder's lease on its rows; returns the rows it still holds."""
    if not message_ids:
        return set()
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(message_ids)),
            OutboxMessage.status == "pending",
            OutboxMessage.lease_until == token,
        )
        .values(lease_until=new_token)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


_OUTBOX = cast(Table, OutboxMessage.__table__)
_QUEUE = insert(_OUTBOX)


def _fenced_update(**values: Any) -> Update:
    """An outcome of one attempt, recorded only while the row is still pending and still
    leased by the holder of `token`: built once with bind parameters (`row_id`, `token` and
    its own), a Core statement (no ORM bulk-update machinery per row), issue 15.4."""
    outbox = _OUTBOX.c
    return (
        update(_OUTBOX)
        .where(
            outbox.id == bindparam("row_id"),
            outbox.status == "pending",
            outbox.lease_until == bindparam("token"),
        )
        .values(lease_until=None, attempts=outbox.attempts + 1, **values)
    )


_MARK_SENT = _fenced_update(
    status="sent", sent_at=bindparam("at"), external_id=bindparam("external_id_value")
)
_RESCHEDULE = _fenced_update(next_attempt_at=bindparam("when"), last_error=bindparam("error"))
_MARK_FAILED = _fenced_update(status="failed", last_error=bindparam("error"))


def _changed(session: Session, statement: Update, params: dict[str, Any]) -> bool:
    result = session.execute(statement, params)
    return bool(getattr(result, "rowcount", 0))


def mark_sent(
    session: Session, message_id: int, token: datetime, at: datetime, external_id: str | None
) -> bool:
    """Record a delivery by the lease holder; False when the lease was lost."""
    return _changed(
        session,
        _MARK_SENT,
        {"row_id": message_id, "token": token, "at": at, "external_id_value": external_id},
    )


def reschedule(
    session: Session, message_id: int, token: datetime, when: datetime, error: str
) -> bool:
    """Try again later (429 retry_after, 5xx or network error); False when the lease was lost."""
    return _changed(
        session,
        _RESCHEDULE,
        {"row_id": message_id, "token": token, "when": when, "error": error[:500]},
    )


def mark_failed(session: Session, message_id: int, token: datetime, error: str) -> bool:
    """Give up on a message that can never be delivered (blocked bot, bad request)."""
    return _changed(
        session, _MARK_FAILED, {"row_id": message_id, "token": token, "error": error[:500]}
    )


def release(session: Session, message_ids: Sequence[int], token: datetime) -> None:
    """Give leased but unattempted messages back, e.g. after an earlier one of the chat failed."""
    if message_ids:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(list(message_ids)),
                OutboxMessage.status == "pending",
                OutboxMessage.lease_until == token,
            )
            .values(lease_until=None)
            .execution_options(synchronize_session=False)
        )
