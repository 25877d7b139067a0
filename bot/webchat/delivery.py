"""Deliver outbox messages of the web channel: push them to the browsers that are watching.

A web message is "delivered" when the desk has it ready for the browser: the outbox row,
marked sent with its message id, is what a reloaded page catches up from; pages that are
open get it at once through the live hub."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from bot.outbox import Delivered, DeliveryResult
from handlers.messages import Outbound

CHANNEL = "web"
RECENT = 50  # per chat: what a page that subscribes just now may have missed by a hair
Live = tuple[str, dict[str, Any]]  # (chat id, event) handed to a watching page
UNRECORDED_SECONDS = 15.0  # a delivery is recorded in the outbox well within this (its lease)


def event_of(cursor: str, message: Outbound) -> dict[str, Any]:
    """The JSON a page receives for one delivery (live or when catching up): `cursor` is the
    delivery's own id (where a reloaded page goes on from), `id` the message it shows or
    edits (what a button press names)."""
    upload = None
    if message.upload is not None:
        kind = "image/png" if message.upload.kind == "photo" else "application/octet-stream"
        data = base64.b64encode(message.upload.data).decode("ascii")
        upload = {
            "kind": message.upload.kind,
            "filename": message.upload.filename,
            "url": f"data:{kind};base64,{data}",
        }
    message_id = message.edit_message_id or cursor
    return {
        "id": message_id,
        "cursor": cursor,
        "edit": message.edit_message_id is not None,
        "text": message.text,
        "buttons": [[[b.label, b.data] for b in row] for row in message.buttons],
        "photo": message.photo,
        "upload": upload,
        # "share my phone": no browser can vouch for a number, so the page offers a phone
        # field; a typed number is confirmed by staff, as on WeChat
        "ask_contact": message.ask_contact,
    }


@dataclass
class _Watchers:
    queues: set[asyncio.Queue[Live]] = field(default_factory=set)
    recent: deque[tuple[float, dict[str, Any]]] = field(
        default_factory=lambda: deque(maxlen=RECENT)
    )


class LiveHub:
    """The open pages of each chat; each gets every message delivered to its chat."""

    def __init__(self) -> None:
        self._chats: dict[str, _Watchers] = {}

    def publish(self, chat_id: str, event: dict[str, Any]) -> None:
        """Hand a delivered message to every page watching its chat."""
        watchers = self._chats.setdefault(chat_id, _Watchers())
        watchers.recent.append((time.monotonic(), event))
        for queue in watchers.queues:
            queue.put_nowait((chat_id, event))

    def subscribe(
        self, chat_id: str, since: str | None, queue: asyncio.Queue[Live]
    ) -> list[dict[str, Any]]:
        """Put the chat's deliveries from now on into `queue` (one queue may watch several
        chats); returns the latest ones the outbox may not have recorded yet (after `since`,
        or of the last few seconds): a message delivered while the page was catching up is
        not lost."""
        watchers = self._chats.setdefault(chat_id, _Watchers())
        watchers.queues.add(queue)
        cursors = [event["cursor"] for _, event in watchers.recent]
        if since in cursors:
            recent = [event for _, event in watchers.recent][cursors.index(since) + 1 :]
        else:
            fresh = time.monotonic() - UNRECORDED_SECONDS
            recent = [event for at, event in watchers.recent if at > fresh]
        return recent

    def unsubscribe(self, chat_id: str, queue: asyncio.Queue[Live]) -> None:
        """The page went away."""
        watchers = self._chats.get(chat_id)
        if watchers is not None:
            watchers.queues.discard(queue)

    def watching(self, chat_id: str) -> int:
        """How many pages watch a chat now."""
        watchers = self._chats.get(chat_id)
        return len(watchers.queues) if watchers is not None else 0


class WebDelivery:
    """The outbox sender's Deliverer for the "web" channel."""

    channel = CHANNEL

    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub

    async def deliver(self, message: Outbound) -> DeliveryResult:
        """Give the delivery its id and push it live. A message's id is its first delivery's;
        an edit is delivered as "<edited id>~<own id>", so a page can go on after it."""
        cursor = secrets.token_hex(8)
        if message.edit_message_id is not None:
            cursor = f"{message.edit_message_id}~{cursor}"
        self.hub.publish(message.chat_id, event_of(cursor, message))
        return Delivered(cursor)
