"""The outbox sender: delivers queued messages through a channel, with retries, in chat order."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from bot.background import Background
from handlers.messages import Outbound
from store import outbox
from store.clock import Clock
from store.db import Database
from store.models import OutboxMessage

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class Delivered:
    """The channel took the message."""

    external_id: str | None = None


@dataclass(frozen=True)
class RetryLater:
    """The channel asked us to wait (429) or failed for now (5xx, network)."""

    after_seconds: float | None  # None: use exponential backoff
    error: str


@dataclass(frozen=True)
class Undeliverable:
    """The channel refused for good (blocked by the user, chat not found, bad request)."""

    error: str


DeliveryResult = Delivered | RetryLater | Undeliverable


class Deliverer(Protocol):
    """A channel adapter that can send one outbound message."""

    channel: str

    async def deliver(self, message: Outbound) -> DeliveryResult:
        """Send one message and say how it went."""
        ...


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff for transient failures: 1, 2, 4 ... up to 5 minutes."""
    return float(min(2 ** max(attempts, 0), 300))


class OutboxSender:
    """Claims due outbox rows and delivers them; chats in parallel, each chat in order."""

    def __init__(
        self, db: Database, deliverer: Deliverer, clock: Clock, poll_seconds: float = 1.0
    ) -> None:
        self.db = db
        self.deliverer = deliverer
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._runner = Background("outbox-sender", self._loop)
        self._stopping = False

    def notify(self) -> None:
        """Something new is in the outbox: deliver it now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Run the delivery loop in the background."""
        self._stopping = False
        self._runner.start()

    async def stop(self) -> None:
        """Finish the batch in hand (up to 10 s), then stop; the rest waits for the next start."""
        self._stopping = True
        self._wake.set()
        await self._runner.stop(grace=10.0)

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                while not self._stopping and await self.send_due():
                    pass
            except Exception:  # keep delivering whatever happens to one batch
                log.exception("outbox batch failed")
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()

    async def send_due(self) -> int:
        """Deliver one batch of due messages; return how many were attempted."""
        rows = await asyncio.to_thread(self._claim)
        if not rows:
            return 0
        by_chat: dict[str, list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            by_chat[row.chat_id].append(row)
        counts = await asyncio.gather(*(self._send_chat(chat) for chat in by_chat.values()))
        return sum(counts)

    def _claim(self) -> list[OutboxMessage]:
        with self.db.unit_of_work() as uow:
            rows = outbox.claim_due(uow.session, self.deliverer.channel, self.clock())
            uow.commit()
            return rows

    async def _send_chat(self, rows: list[OutboxMessage]) -> int:
        for index, row in enumerate(rows):
            result = await self._deliver(row)
            await asyncio.to_thread(self._record, row, result)
            if not isinstance(result, Delivered):
                rest = [r.id for r in rows[index + 1 :]]
                await asyncio.to_thread(self._release, rest)
                return index + 1
        return len(rows)

    async def _deliver(self, row: OutboxMessage) -> DeliveryResult:
        try:
            return await self.deliverer.deliver(Outbound.from_payload(row.chat_id, row.payload))
        except Exception as exc:  # an adapter bug must not lose the message
            log.exception("delivering outbox row %s failed", row.id)
            return RetryLater(None, repr(exc))

    def _record(self, row: OutboxMessage, result: DeliveryResult) -> None:
        now = self.clock()
        with self.db.unit_of_work() as uow:
            if isinstance(result, Delivered):
                outbox.mark_sent(uow.session, row.id, now, result.external_id)
            elif isinstance(result, Undeliverable) or row.attempts + 1 >= MAX_ATTEMPTS:
                outbox.mark_failed(uow.session, row.id, result.error)
            else:
                wait = result.after_seconds
                delay = wait if wait is not None else backoff_seconds(row.attempts)
                outbox.reschedule(uow.session, row.id, now + timedelta(seconds=delay), result.error)
            uow.commit()

    def _release(self, ids: list[int]) -> None:
        with self.db.unit_of_work() as uow:
            outbox.release(uow.session, ids)
            uow.commit()
