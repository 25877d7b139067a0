"""The outbox sender: every chat a lane of its own, in order, at its own pace; one overall
budget shared fairly, interactive replies first.

Telegram limits a bot per chat (about 1 message a second in a private chat, 20 a minute in a
group) and overall (about 30 a second). A lane holds one chat's leased rows and sends them one
after another, waiting for its own chat's bucket alone (a busy group never holds anyone else
up), then for a token of the overall budget, which goes to the most urgent waiting lane
(interactive replies, then job cards, reminders, reports; one that waited long enough goes
first whatever its kind, so nothing starves) and, among equals, in turn. The
rows a lane holds stay leased while it works: a keeper renews the leases, and every record
is fenced by the lease token (store.outbox), so two workers never send a row twice.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from bot.background import Background
from handlers.messages import Outbound
from store import outbox
from store.clock import Clock
from store.db import Database, RefusedWrites
from store.models import OutboxMessage

log = logging.getLogger(__name__)
RECORD_RETRY_SECONDS = 0.5  # how often an outcome is written again while writes are refused
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


@dataclass(frozen=True)
class Limits:
    """How fast the sender may go, as token buckets: per private chat, per group, overall
    (a rate of 0 means no limit)."""

    private_per_second: float = 1.0
    private_burst: int = 3  # a turn's notice and question go out together
    group_per_second: float = 20 / 60
    group_burst: int = 3  # so no minute ever sees much more than 20
    overall_per_second: float = 30.0
    overall_burst: int = 10


TELEGRAM_LIMITS = Limits()
UNPACED = Limits(0, 1, 0, 1, 0, 1)


def is_group(chat_id: str) -> bool:
    """Telegram groups, supergroups and channels have negative ids."""
    return chat_id.startswith("-")


def priority_of(chat_id: str, payload: dict[str, Any]) -> int:
    """Who goes first when the overall budget is short: interactive replies, then job cards
    (and anything else to a group), reminders (rows written by timers), reports (files)."""
    if payload.get("upload"):
        return outbox.REPORT
    if is_group(chat_id):
        return outbox.CARD
    return int(payload.get("priority", outbox.INTERACTIVE))


class Bucket:
    """A token bucket on monotonic time: `rate` tokens a second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self.tokens = self.burst
        self.at = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def wait_seconds(self) -> float:
        """How long until a token is there (0: now)."""
        self._refill()
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        """Spend a token (callers wait for `wait_seconds()` first)."""
        self._refill()
        self.tokens -= 1

    def idle(self) -> bool:
        """Full again: nothing to remember about this chat."""
        self._refill()
        return self.tokens >= self.burst

    async def acquire(self) -> None:
        """Wait for a token and spend it."""
        while (wait := self.wait_seconds()) > 0:
            await asyncio.sleep(wait)
        self.take()


class Budget:
    """The overall budget: one token a message. The next token goes to the waiting lane with
    the earliest deadline, the time it asked plus `step` seconds per priority level: owners'
    replies go before cards that asked up to `step` earlier, yet a card never starves while
    owners keep the budget busy. Equal deadlines in the order asked."""

    def __init__(self, rate: float, burst: int, step: float = 1.0) -> None:
        self.bucket = Bucket(rate, burst) if rate > 0 else None
        self.step = step
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._turn = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    async def take(self, priority: int) -> None:
        """Wait for this lane's turn and a token."""
        if self.bucket is None:
            return
        if not self._waiting and self.bucket.wait_seconds() == 0:
            self.bucket.take()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        deadline = time.monotonic() + priority * self.step
        heapq.heappush(self._waiting, (deadline, next(self._turn), future))
        self._arm()
        await future  # cancelling the lane cancels the future: _grant skips it

    def _arm(self) -> None:
        if self._timer is None and self._waiting and self.bucket is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.bucket.wait_seconds(), self._grant)

    def _grant(self) -> None:
        self._timer = None
        bucket = self.bucket
        assert bucket is not None
        while self._waiting and bucket.wait_seconds() == 0:
            _, _, future = heapq.heappop(self._waiting)
            if future.done():
                continue
            bucket.take()
            future.set_result(None)
        self._arm()


@dataclass(eq=False)
class _Lane:
    """One chat's leased rows, sent in order by one task."""

    chat_id: str
    pace: Bucket | None
    rows: deque[OutboxMessage] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    busy: bool = False  # sending or recording: let it finish when stopping
    more: bool = False  # its last claim was full: the chat likely has more rows waiting
    lost: bool = False  # another worker took the chat over: drop what is left


def _lease_seconds() -> float:
    return outbox.LEASE.total_seconds()


class OutboxSender:
    """Claims due outbox rows a chat at a time and delivers each chat in its own lane."""

    def __init__(
        self,
        db: Database,
        deliverer: Deliverer,
        clock: Clock,
        poll_seconds: float = 1.0,
        limits: Limits = TELEGRAM_LIMITS,
    ) -> None:
        self.db = db
        self.deliverer = deliverer
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.limits = limits
        self.budget = Budget(limits.overall_per_second, limits.overall_burst)
        self._wake = asyncio.Event()
        self._runner = Background("outbox-sender", self._loop)
        self._keeper = Background("outbox-leases", self._keep_leases)
        self._refused = RefusedWrites(log, "outbox")
        self._stopping = False
        self._lanes: dict[str, _Lane] = {}
        self._paces: dict[str, Bucket] = {}
        # claims, records and renewals of this sender take turns: a record never races the
        # renewal that changes its token
        self._ledger = asyncio.Lock()
        self._renewed_at = time.monotonic()
        # outcomes waiting to be recorded, written together by one recorder task: under load
        # many lanes finish a send at once, and one transaction records them all
        self._outcomes: list[tuple[OutboxMessage, DeliveryResult, asyncio.Future[bool]]] = []
        self._recorder: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """Something new is in the outbox: deliver it now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Run the delivery loop and the lease keeper in the background."""
        self._stopping = False
        self._runner.start()
        self._keeper.start()

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the messages being sent (up to `grace` s), give the rest back, then stop."""
        self._stopping = True
        self._wake.set()
        await self._runner.stop(grace=grace)
        lanes = list(self._lanes.values())
        for lane in lanes:
            if lane.task is not None and not lane.busy:
                lane.task.cancel()  # waiting for its pace or the budget: nothing in flight
        tasks = [lane.task for lane in lanes if lane.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        if self._recorder is not None:  # outcomes of sends that went out are written first
            await asyncio.wait([self._recorder])
        await self._keeper.stop()

    async def _loop(self) -> None:
        failing = False  # in an episode of failed claims (the database refuses writes)
        while not self._stopping:
            try:
                while not self._stopping and await self.send_due():
                    self._refused.worked()  # a claim wrote its lease (finding none writes none)
                if failing:
                    failing = False
                    log.warning("outbox: claims work again")
            except Exception as exc:  # keep delivering whatever happens to one claim
                if not self._refused.caught(exc) and not failing:  # once per episode
                    log.exception("outbox claim failed; retrying every poll until it works")
                    failing = True
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()

    async def send_due(self) -> int:
        """Lease the due rows of chats nobody holds and hand each chat to its lane; returns how
        many rows were leased (the lanes send them on their own)."""
        rows = await self._claim(None)
        for row in rows:
            lane = self._lanes.get(row.chat_id) or self._open_lane(row.chat_id)
            held = next((r for r in lane.rows if r.id == row.id), None)
            if held is not None:  # our own lease had run out and we took it again
                held.lease_until = row.lease_until
            else:
                lane.rows.append(row)
            lane.more = len(lane.rows) >= outbox.PER_CHAT
        return len(rows)

    def _open_lane(self, chat_id: str) -> _Lane:
        lane = _Lane(chat_id, self._pace(chat_id))
        self._lanes[chat_id] = lane
        lane.task = asyncio.create_task(self._run_lane(lane), name=f"outbox-lane:{chat_id}")
        return lane

    def _pace(self, chat_id: str) -> Bucket | None:
        """The chat's own bucket, kept between lanes (a group's minute outlives a lane)."""
        limits = self.limits
        rate, burst = (
            (limits.group_per_second, limits.group_burst)
            if is_group(chat_id)
            else (limits.private_per_second, limits.private_burst)
        )
        if rate <= 0:
            return None
        if len(self._paces) > 4096:
            for key in [k for k, b in self._paces.items() if b.idle() and k not in self._lanes]:
                del self._paces[key]
        return self._paces.setdefault(chat_id, Bucket(rate, burst))

    async def _run_lane(self, lane: _Lane) -> None:
        try:
            while not self._stopping and not lane.lost:
                if not lane.rows:
                    if not lane.more:  # rows written meanwhile: the next claim of all chats
                        self.notify()
                        return
                    lane.busy = True
                    try:
                        lane.rows.extend(await self._claim(lane.chat_id))
                    finally:
                        lane.busy = False
                    lane.more = len(lane.rows) >= outbox.PER_CHAT
                    if not lane.rows:
                        return  # the chat is done; the next claim opens a new lane
                    continue
                if not await self._send_head(lane):
                    return
        except Exception as exc:
            if not self._refused.caught(exc):
                log.exception("outbox lane of chat %s failed", lane.chat_id)
        finally:
            self._close_lane(lane)

    async def _send_head(self, lane: _Lane) -> bool:
        """Send the lane's first row when its chat and the budget allow; False ends the lane."""
        row = lane.rows[0]
        if lane.pace is not None:
            await lane.pace.acquire()  # over its own limit, a chat waits alone
        await self.budget.take(priority_of(row.chat_id, row.payload))
        if self._stopping or lane.lost:
            return False
        if time.monotonic() - self._renewed_at > _lease_seconds() / 2:
            await self.renew_leases()  # the keeper fell behind: never send on a stale lease
            if lane.lost:
                return False
        lane.busy = True
        try:
            result = await self._deliver(row)
            kept = await self._record(row, result)
        finally:
            lane.busy = False
        lane.rows.popleft()
        self._log_outcome(row, result, kept)
        if not kept:
            lane.lost = True
            return False
        return isinstance(result, Delivered)  # after a failure the chat waits, in order

    def _close_lane(self, lane: _Lane) -> None:
        """Forget the lane; rows it leased but never tried go back (synchronously: this may
        run in a cancelled task)."""
        if self._lanes.get(lane.chat_id) is lane:
            del self._lanes[lane.chat_id]
        leftovers = [] if lane.lost else list(lane.rows)
        lane.rows.clear()
        if leftovers:
            try:
                self._give_back(leftovers)
            except Exception as exc:  # they come free when their lease runs out
                if not self._refused.caught(exc):
                    log.exception("could not give back outbox rows of chat %s", lane.chat_id)

    async def _deliver(self, row: OutboxMessage) -> DeliveryResult:
        try:
            return await self.deliverer.deliver(Outbound.from_payload(row.chat_id, row.payload))
        except Exception as exc:  # an adapter bug must not lose the message
            log.exception("delivering outbox row %s failed", row.id)
            return RetryLater(None, repr(exc))

    @staticmethod
    def _log_outcome(row: OutboxMessage, result: DeliveryResult, kept: bool) -> None:
        """One line per failure, never a traceback: the outbox retries by itself."""
        if not kept:
            log.warning(
                "outbox row %s of chat %s: lease lost to another worker", row.id, row.chat_id
            )
        elif isinstance(result, RetryLater):
            if result.after_seconds is not None:
                log.info(
                    "chat %s: retry_after %.0f s (%s); message %s waits, the chat in order",
                    row.chat_id,
                    result.after_seconds,
                    result.error,
                    row.id,
                )
            else:
                log.info(
                    "chat %s: message %s failed for now (%s)", row.chat_id, row.id, result.error
                )
        elif isinstance(result, Undeliverable):
            log.warning("chat %s: message %s undeliverable (%s)", row.chat_id, row.id, result.error)

    # --- the database side: every call takes its turn on the ledger ------------------------

    async def _claim(self, chat_id: str | None) -> list[OutboxMessage]:
        async with self._ledger:
            return await asyncio.to_thread(self._claim_rows, chat_id)

    def _claim_rows(self, chat_id: str | None) -> list[OutboxMessage]:
        with self.db.unit_of_work() as uow:
            rows = outbox.claim_due(
                uow.session, self.deliverer.channel, self.clock(), chat_id=chat_id
            )
            uow.commit()
            return rows

    async def _record(self, row: OutboxMessage, result: DeliveryResult) -> bool:
        """Record the outcome (with whatever other lanes finished meanwhile, in one
        transaction); False when the row's lease was lost. While the database refuses writes
        the record is tried again: the message went out, and giving up would send it twice
        (once the lease runs out our own claim takes the row back and the record follows the
        new token)."""
        while True:
            future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._outcomes.append((row, result, future))
            if self._recorder is None or self._recorder.done():
                self._recorder = asyncio.create_task(self._write_outcomes(), name="outbox-recorder")
            try:
                kept = await future
            except Exception as exc:
                if self._stopping or not self._refused.caught(exc):
                    raise
                await asyncio.sleep(RECORD_RETRY_SECONDS)
                continue
            self._refused.worked()
            return kept

    async def _write_outcomes(self) -> None:
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            try:
                async with self._ledger:
                    kept = await asyncio.to_thread(
                        self._write_records, [(row, result) for row, result, _ in batch]
                    )
            except Exception as exc:  # each lane sees the failure of its own record
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), one in zip(batch, kept, strict=True):
                if not future.done():  # a lane cancelled meanwhile no longer waits
                    future.set_result(one)

    def _write_records(
        self, outcomes: Sequence[tuple[OutboxMessage, DeliveryResult]]
    ) -> list[bool]:
        """Record each outcome under its row's lease token, all in one transaction; for each,
        False when that lease was lost."""
        now = self.clock()
        with self.db.unit_of_work() as uow:
            kept = [self._write_record(uow.session, row, result, now) for row, result in outcomes]
            uow.commit()
            return kept

    @staticmethod
    def _write_record(
        session: Session, row: OutboxMessage, result: DeliveryResult, now: datetime
    ) -> bool:
        """Record one outcome under the row's lease token; False when the lease was lost."""
        token = row.lease_until
        assert token is not None
        if isinstance(result, Delivered):
            return outbox.mark_sent(session, row.id, token, now, result.external_id)
        if isinstance(result, Undeliverable) or row.attempts + 1 >= MAX_ATTEMPTS:
            return outbox.mark_failed(session, row.id, token, result.error)
        wait = result.after_seconds
        delay = wait if wait is not None else backoff_seconds(row.attempts)
        return outbox.reschedule(
            session, row.id, token, now + timedelta(seconds=delay), result.error
        )

    def _give_back(self, rows: Sequence[OutboxMessage]) -> None:
        with self.db.unit_of_work() as uow:
            for token in {r.lease_until for r in rows}:
                if token is not None:
                    ids = [r.id for r in rows if r.lease_until == token]
                    outbox.release(uow.session, ids, token)
            uow.commit()

    async def _keep_leases(self) -> None:
        while True:
            await asyncio.sleep(_lease_seconds() / 4)
            try:
                await self.renew_leases()
            except Exception as exc:  # the next round tries again; a record checks its token
                if not self._refused.caught(exc):
                    log.exception("renewing outbox leases failed")

    async def renew_leases(self) -> None:
        """Extend the lease of every row this sender holds; a lane whose rows were taken over
        (it stalled past its lease) stops."""
        async with self._ledger:
            held = [row for lane in self._lanes.values() for row in lane.rows]
            kept = await asyncio.to_thread(self._renew, held) if held else set()
            self._renewed_at = time.monotonic()
        for lane in list(self._lanes.values()):
            if any(row.id not in kept for row in lane.rows):
                log.warning("outbox: chat %s was taken over by another worker", lane.chat_id)
                lane.lost = True

    def _renew(self, rows: Sequence[OutboxMessage]) -> set[int]:
        new_token = self.clock() + outbox.LEASE
        kept: set[int] = set()
        with self.db.unit_of_work() as uow:
            for token in {r.lease_until for r in rows}:
                if token is None:
                    continue
                ids = [r.id for r in rows if r.lease_until == token]
                if token == new_token:  # a clock that stood still: nothing to extend
                    kept |= set(ids)
                else:
                    kept |= outbox.renew(uow.session, ids, token, new_token)
            uow.commit()
        for row in rows:
            if row.id in kept:
                row.lease_until = new_token
        return kept


class SenderChannel:
    """A channel whose outbox one sender delivers (the Official Account, WeCom): started and
    stopped with it, and woken, with the other channels' senders, after a message wrote."""

    def __init__(self, sender: OutboxSender) -> None:
        self.sender = sender
        # senders of other channels, woken when this channel's message wrote to them
        self.also_notify: list[Callable[[], None]] = []

    def written(self) -> None:
        """New outbox rows may be waiting: wake every sender."""
        self.sender.notify()
        for notify in self.also_notify:
            notify()

    def start(self) -> None:
        """Start delivering (anything committed before a restart goes out now)."""
        self.sender.start()
        self.sender.notify()

    async def stop(self) -> None:
        """Stop delivering; what is not sent stays in the outbox."""
        await self.sender.stop()
        await self.close()

    async def close(self) -> None:
        """Release what the channel holds besides its sender (an API client)."""
