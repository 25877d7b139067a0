"""What a page catches up from: the web chat's delivered outbox rows, by message id."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.webchat.delivery import CHANNEL, event_of
from handlers.messages import Outbound
from store.models import OutboxMessage

CATCH_UP = 200  # a page opened afresh shows the chat's last 200 messages
MESSAGE_ID = re.compile(r"[0-9a-f]{1,32}")


def _chat(chat_id: str) -> Any:
    return (
        (OutboxMessage.channel == CHANNEL)
        & (OutboxMessage.chat_id == chat_id)
        & (OutboxMessage.status == "sent")
    )


def messages_after(session: Session, chat_id: str, after: str | None) -> list[dict[str, Any]]:
    """The chat's deliveries after the one whose cursor is `after` (messages and edits, in
    order), or the last CATCH_UP of them when `after` is unknown or not given."""
    start = None
    if after:
        start = session.scalar(
            select(OutboxMessage.id).where(_chat(chat_id), OutboxMessage.external_id == after)
        )
    query = select(OutboxMessage).where(_chat(chat_id))
    if start is not None:
        later = query.where(OutboxMessage.id > start).order_by(OutboxMessage.id)
        rows = list(session.scalars(later))
    else:
        newest = session.scalars(query.order_by(OutboxMessage.id.desc()).limit(CATCH_UP))
        rows = list(reversed(list(newest)))
    return [
        event_of(row.external_id or str(row.id), Outbound.from_payload(chat_id, row.payload))
        for row in rows
    ]


def offered(session: Session, chat_id: str, message_id: str, data: str) -> bool:
    """Whether the chat was shown a button with `data` on the message `message_id` (as sent
    or as edited since): a page can press only what its own chat was offered."""
    if not MESSAGE_ID.fullmatch(message_id):
        return False
    payloads = session.scalars(
        select(OutboxMessage.payload).where(
            _chat(chat_id),
            or_(
                OutboxMessage.external_id == message_id,
                OutboxMessage.external_id.startswith(f"{message_id}~"),
            ),
        )
    )
    return any(
        button[1] == data for payload in payloads for row in payload["buttons"] for button in row
    )


def photo_shown(session: Session, chat_ids: list[str], name: str) -> bool:
    """Whether the desk sent a photo to one of these web chats (delivered or on its way: a
    page asks for it the moment the message arrives, before the outbox records it as sent)."""
    payloads = session.scalars(
        select(OutboxMessage.payload).where(
            OutboxMessage.channel == CHANNEL, OutboxMessage.chat_id.in_(chat_ids)
        )
    )
    return any(payload.get("photo") == name for payload in payloads)
