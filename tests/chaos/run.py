"""The chaos harness (issue 14): owners walk a whole repair intake against the real
`propdesk run` (a subprocess in its own process group) while faults are injected: the harness
kills the process group with SIGKILL every 1-4 s and starts it again; the fake Bot API answers
20% of sends with 429 and 10% with 502; the database's disk fills up or PostgreSQL turns
read-only for a while; or two webhook workers share one PostgreSQL, one of them killed midway,
the updates it did not answer posted again to the other (as Telegram does). Closed loop: each
owner waits for the bot's answer before the next step. Two engineers in the staff group press
Claim on every copy of every card they see (odd orders at once, even ones once their "still
waiting" re-post came), and each owner's walk ends when they are told who took the job.

Checks, against a fault-free run of the same owners: every expected message delivered (none
lost), duplicates counted, per-chat order kept (first deliveries in the fault-free order), one
order per owner, each order claimed exactly once, and in the staff group one card per order
plus at most one re-post per "still waiting" timer run (a card queued twice or a timer run
twice shows as card+; a card the bot sent again because it was killed between the send and its
mark-sent is at-least-once and counted apart). Used by tests/chaos (smoke size, in CI) and
bench/chaos.py (bigger, by hand).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from store import migrate
from store.clock import system_clock
from store.db import Database
from store.models import Identity, Order, OrderEvent, OutboxMessage, Timer
from store.people import add_person
from store.price_list import import_prices
from store.promises import REANNOUNCE
from store.staff import create_invite, redeem_invite
from store.units import import_units
from tests.fake_telegram import ApiError, FakeTelegram, JSONDict, TgUser

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
STAFF_GROUP = -1001500
ORDER_NUMBER = re.compile(r"R-\d{8}-\d{4}")
SENDS = {"sendmessage", "editmessagetext", "sendphoto", "sendmediagroup", "senddocument"}
ENGINEERS = (TgUser(7900, "Wang", "en"), TgUser(7901, "Zhou", "en"))
# who wins a race for a card differs from run to run; the owner is told either name
ENGINEER_NAME = re.compile(r"\b(?:Wang|Zhou)\b")
SECRET = "chaos-webhook-secret"
TOLD_TAKEN = "has taken your request"
_MIGRATING = threading.Lock()  # Alembic's context is global: one migration at a time


class FlakyTelegram(FakeTelegram):
    """The fake Bot API, answering a share of the bot's sends with 429 (retry after 1 s) or
    502, at random; in webhook mode the relay takes updates from its queue."""

    def __init__(self, too_many: float = 0.0, server_error: float = 0.0, seed: int = 1) -> None:
        super().__init__()
        self.too_many, self.server_error = too_many, server_error
        self._dice = random.Random(seed)
        self.injected: Counter[int] = Counter()

    def take(self, update_id: int) -> None:
        """Drop a delivered update from the queue (a webhook answered it with 2xx)."""
        with self._lock:
            self._queue = [e for e in self._queue if e.update_id != update_id]

    def _handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method.lower() in SENDS and (self.too_many or self.server_error):
            with self._lock:
                roll = self._dice.random()
            if roll < self.too_many:
                self.injected[429] += 1
                error = ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
                self._record_failed(method, params, error)
                return error.status, error.payload()
            if roll < self.too_many + self.server_error:
                self.injected[502] += 1
                error = ApiError(502, "Bad Gateway")
                self._record_failed(method, params, error)
                return error.status, error.payload()
        return super()._handle(method, params)

    def _record_failed(self, method: str, params: dict[str, Any], error: ApiError) -> None:
        from tests.fake_telegram import Call

        name = self._methods.get(method.lower(), (method, None))[0]
        self._record(Call(name, params, time.time(), True, error.status, None, error.description))


@dataclass
class Profile:
    """An owner of the example estate: who writes, from which home, with the phone on file."""

    user: TgUser
    name: str
    room: str
    phone: str


def profiles(count: int) -> list[Profile]:
    """`count` owners of distinct homes from examples/units.csv (one phone each)."""
    chosen: list[Profile] = []
    for line in (EXAMPLES / "units.csv").read_text(encoding="utf-8").splitlines()[1:]:
        building, unit, room, _name, phones = line.split(",")
        if len(chosen) == count:
            break
        i = len(chosen)
        user = TgUser(7100 + i, f"Owner {i}", "en")
        phone = "+86" + phones.split(";")[0]
        chosen.append(Profile(user, f"Owner {i}", f"{building}-{unit}-{room}", phone))
    return chosen


@dataclass
class Result:
    """What one run measured."""

    name: str
    owners: int
    kills: int = 0
    seconds: float = 0.0
    stuck: int = 0
    orders_ok: int = 0  # owners with exactly one order
    claimed_once: int = 0  # orders with exactly one claim
    expected: int = 0  # messages the fault-free run delivered to owners
    delivered: int = 0  # distinct expected messages delivered
    lost: int = 0
    duplicates: int = 0
    reordered: int = 0  # chats whose first deliveries are not in the fault-free order
    cards_extra: int = 0  # cards queued twice, or re-posts beyond one per timer run
    cards_resent: int = 0  # a queued card or re-post sent more than once (kill after send)
    handovers_extra: int = 0  # "You took R-…" sent to engineers beyond one per order
    refused: int = 0  # claim presses answered "already taken" / "you already took"
    reposts: int = 0  # "still waiting" timers that ran
    updates_again: int = 0  # webhook: updates posted more than once (not answered 2xx)
    injected: str = ""
    errors: int = 0  # tracebacks in the bot's log
    exits: int = 0  # the bot stopped by itself (e.g. refused to start) and was restarted
    storage_errors: int = 0  # log lines naming a full disk or a read-only database
    stuck_at: list[str] = field(default_factory=list)
    chats: dict[int, list[str]] = field(default_factory=dict, repr=False)


def _key(params: dict[str, Any]) -> str:
    """A message as an owner reads it: its text (order numbers and the engineer's name
    masked) and its buttons."""
    text = ORDER_NUMBER.sub("R-#", str(params.get("text") or params.get("caption") or ""))
    text = ENGINEER_NAME.sub("<engineer>", text)
    markup = params.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    labels = [b.get("text", "") for row in markup.get("inline_keyboard", []) for b in row]
    return text + (" [" + "|".join(labels) + "]" if labels else "")


def deliveries(fake: FakeTelegram, chat_id: int) -> list[str]:
    """The messages sent or edited into a chat (successful calls), in the order they came. A
    new message and an edit showing the same are one: whether a step edits the message
    pressed or sends a new one may depend on what else reached the chat meanwhile."""
    return [
        _key(c.params)
        for c in fake.calls
        if c.method in ("sendMessage", "editMessageText")
        and not c.failed
        and str(c.params.get("chat_id")) == str(chat_id)
    ]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Desk:
    """`propdesk run` as a subprocess in its own process group, killed and started at will;
    long polling, or serving the webhook on `webhook_port`."""

    def __init__(
        self, url: str, fake: FakeTelegram, workdir: Path, log: Path, webhook_port: int = 0
    ) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": "123456:CHAOS",
            "PROPDESK_TELEGRAM_API_BASE_URL": fake.base_url,
            "PROPDESK_TELEGRAM_FILE_BASE_URL": fake.base_file_url,
            "PROPDESK_DATABASE_URL": url,
            "PROPDESK_STAFF_GROUP_CHAT_ID": str(STAFF_GROUP),
            "PROPDESK_OUTBOX_POLL_SECONDS": "0.1",
            "PROPDESK_TELEGRAM_CHAT_PER_SECOND": "0",
            "PROPDESK_TELEGRAM_GROUP_PER_MINUTE": "0",
            "PROPDESK_SWEEP_SECONDS": "1",
            "PROPDESK_TIMERS": "reannounce=0.05m",  # "still waiting" re-posts every 3 s
        }
        self.command = [sys.executable, "-m", "bot.cli", "run"]
        self.webhook_port = webhook_port
        if webhook_port:
            self.command.append("--webhook")
            self.env |= {
                "PROPDESK_WEBHOOK_URL": f"http://127.0.0.1:{webhook_port}/telegram",
                "PROPDESK_WEBHOOK_SECRET": SECRET,
                "PROPDESK_WEBHOOK_LISTEN": "127.0.0.1",
                "PROPDESK_WEBHOOK_PORT": str(webhook_port),
            }
        self.workdir, self.log = workdir, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.exits = 0  # times it stopped by itself and was started again
        self.retired = False  # killed for good (a webhook worker lost midway)

    def start(self) -> None:
        """Start the bot (its own session, so a kill takes the whole group)."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.workdir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def keep_running(self) -> None:
        """Start the bot again when it exits on its own (as systemd's Restart=always would,
        e.g. after refusing to start on a full or read-only disk)."""
        while True:
            await asyncio.sleep(1.0)
            if not self.retired and self.proc is not None and self.proc.poll() is not None:
                self.exits += 1
                self.start()

    def kill(self, *, restart: bool = True) -> None:
        """SIGKILL the bot's process group, then start it again (unless `restart` is False)."""
        assert self.proc is not None
        self.retired = not restart
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.kills += 1
        if restart:
            self.start()

    def stop(self) -> None:
        """Stop it as an operator would (SIGTERM), killing it if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    async def serving(self, timeout: float) -> None:
        """Wait until the webhook worker answers GET /healthz."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    answer = await client.get(f"http://127.0.0.1:{self.webhook_port}/healthz")
                    if answer.status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"webhook worker on port {self.webhook_port} did not come up")


def _sender(update: JSONDict) -> int:
    """Who sent an update (a message or a button press)."""
    inner = update.get("message") or update.get("callback_query") or {}
    return int(inner.get("from", {}).get("id", 0))


class Relay:
    """Telegram's webhook delivery through a load balancer: each queued update is POSTed to a
    live worker chosen at random; one not answered 2xx (503 while nothing can be committed, a
    connection refused or cut by a kill) is posted again after a short backoff to whichever
    worker is alive, as Telegram retries. One sender's updates go one at a time, in order;
    different senders' at the same time (so two engineers' presses race)."""

    def __init__(self, fake: FlakyTelegram, ports: list[int], seed: int) -> None:
        self.fake, self.alive = fake, list(ports)
        self._dice = random.Random(seed)
        self.posts = 0
        self.again = 0  # updates posted more than once
        self.failed: Counter[str] = Counter()  # why a post was not a 2xx
        self.in_flight: Counter[int] = Counter()  # posts awaiting an answer, per worker port
        self._busy: set[int] = set()  # senders with an update in flight

    async def run(self) -> None:
        """Deliver queued updates until cancelled."""
        async with httpx.AsyncClient(timeout=30.0) as client:
            flights: set[asyncio.Task[None]] = set()
            while True:
                seen: set[int] = set()
                for update in self.fake.pending_updates():
                    sender = _sender(update)
                    if sender in seen:
                        continue  # an earlier update of theirs is still queued
                    seen.add(sender)
                    if sender not in self._busy:
                        self._busy.add(sender)
                        flight = asyncio.create_task(self._deliver(client, update, sender))
                        flights.add(flight)
                        flight.add_done_callback(flights.discard)
                await asyncio.sleep(0.02)

    def drop(self, port: int) -> None:
        """The load balancer's health check found a worker gone: no more posts to it."""
        self.alive.remove(port)

    async def _deliver(self, client: httpx.AsyncClient, update: JSONDict, sender: int) -> None:
        tries = 0
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        try:
            while True:
                tries += 1
                self.posts += 1
                port = self._dice.choice(self.alive)
                self.in_flight[port] += 1
                try:
                    answer = await client.post(
                        f"http://127.0.0.1:{port}/telegram", json=update, headers=headers
                    )
                    if answer.is_success:
                        self.fake.take(int(update["update_id"]))
                        return
                    self.failed[str(answer.status_code)] += 1
                except httpx.HTTPError as exc:
                    self.failed[type(exc).__name__] += 1
                finally:
                    self.in_flight[port] -= 1
                await asyncio.sleep(min(0.2 * tries, 2.0))
        finally:
            self.again += tries > 1
            self._busy.discard(sender)


class Walker:
    """One owner walking the repair intake, step by step, waiting for each answer."""

    def __init__(self, fake: FakeTelegram, profile: Profile, timeout: float) -> None:
        self.fake, self.profile, self.timeout = fake, profile, timeout
        self.chat_id = profile.user.id
        self.steps_done = 0
        self.stuck_at = ""  # where the walk gave up, for the report

    def _messages(self) -> list[dict[str, Any]]:
        return self.fake.sent(self.chat_id)

    async def _answer(
        self, before: list[dict[str, Any]], action: str | None, text: str | None = None
    ) -> bool:
        """Wait for a message not seen before this step (a late duplicate of an earlier one
        does not count), carrying a button for `action` or saying `text` when given."""
        seen = {_key(m) for m in before}
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for message in self._messages()[len(before) :]:
                if _key(message) in seen:
                    continue
                if text is not None and text not in str(message.get("text") or ""):
                    continue
                if action is None or self._button(message, action) is not None:
                    return True
            await asyncio.sleep(0.05)
        return False

    @staticmethod
    def _button(message: dict[str, Any], action: str, arg: str | None = None) -> str | None:
        markup = message.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                parts = button.get("callback_data", "").split("|")
                if parts[1:2] == [action] and (arg is None or parts[2:3] == [arg]):
                    if action == "item" and parts[2:3] == ["other"]:
                        continue
                    return str(button["callback_data"])
        return None

    def _press(self, action: str, arg: str | None = None) -> None:
        for message in reversed(self._messages()):
            data = self._button(message, action, arg)
            if data is not None:
                self.fake.user_press(self.profile.user, data, message)
                return
        raise AssertionError(f"no {action} button for {self.chat_id}")

    def steps(self) -> list[tuple[Callable[[], object] | None, str | None, str | None]]:
        """The owner's steps: what they do (None: nothing, only wait), and the button (or
        words) the answer brings."""
        p, user = self.profile, self.profile.user
        return [
            (lambda: self.fake.user_text(user, "/start"), None, None),
            (lambda: self.fake.user_text(user, p.name), None, None),
            (lambda: self.fake.user_text(user, p.room), None, None),
            (lambda: self.fake.user_contact(user, p.phone), "repair", None),
            (lambda: self._press("repair"), "where", None),
            (lambda: self._press("where", "home"), "cat", None),
            (lambda: self._press("cat", "plumbing"), "item", None),
            (lambda: self._press("item"), None, None),
            (lambda: self.fake.user_text(user, "The kitchen tap drips"), "photos_done", None),
            (lambda: self._press("photos_done"), "when", None),
            (lambda: self._press("when", "book"), "date", None),
            (lambda: self._press("date"), "slot", None),
            (lambda: self._press("slot"), "phone", None),
            (lambda: self._press("phone", "mine"), "quote", None),
            (lambda: self._press("quote", "agree"), "submit", None),
            (lambda: self._press("submit"), None, None),
            # the engineers in the group do the next step: the owner is told who took it
            (None, None, TOLD_TAKEN),
        ]

    async def walk(self) -> bool:
        """The whole intake: register, a home repair booked, agreed and submitted, then
        claimed by an engineer; False if stuck."""
        before: list[dict[str, Any]] = []
        for act, expect, words in self.steps():
            if act is not None:
                before = self._messages()
                act()
            # else: since the last act (the claim's news may come before submit's answer)
            if not await self._answer(before, expect, words):
                wanted = words or (f"a {expect} button" if expect else "an answer")
                self.stuck_at = f"chat {self.chat_id} step {self.steps_done} waits for {wanted}"
                return False
            self.steps_done += 1
        return True


class Engineer:
    """An engineer in the staff group, pressing Claim once on every copy of every card that
    has one (a re-post, or a card sent twice, as well): odd-numbered orders at once, even ones
    only once their "still waiting" re-post came, so the re-post timer runs in every run. Two
    engineers do this at about the same time, so most cards are raced for."""

    def __init__(self, fake: FakeTelegram, user: TgUser, seed: int) -> None:
        self.fake, self.user = fake, user
        self._dice = random.Random(seed)
        self.presses = 0

    async def work(self) -> None:
        """Press Claim on cards until cancelled."""
        pressed: set[int] = set()  # message ids of cards already pressed
        while True:
            group = self.fake.sent(STAFF_GROUP)
            reposted = {
                match.group()
                for m in group
                if str(m.get("text") or "").startswith("⏰")
                for match in [ORDER_NUMBER.search(str(m.get("text")))]
                if match
            }
            for message in group:
                data = Walker._button(message, "claim")
                number = ORDER_NUMBER.search(str(message.get("text") or ""))
                if data is None or number is None or message["message_id"] in pressed:
                    continue
                if int(number.group()[-1]) % 2 == 0 and number.group() not in reposted:
                    continue
                pressed.add(message["message_id"])
                await asyncio.sleep(self._dice.uniform(0.0, 0.3))
                # as the engineer's phone shows it: the edit that took the button away
                # (someone claimed it meanwhile) may not have reached it yet
                self.fake.user_press(self.user, data, message, strict=False)
                self.presses += 1
            await asyncio.sleep(0.1)


class Fault(Protocol):
    """A storage fault with a window in time."""

    async def window(self) -> None:
        """Wait, break the storage for a while, mend it."""
        ...


class Storage:
    """A real full disk for SQLite: the database on a small tmpfs of its own, filled up (a
    filler file written to ENOSPC) for `seconds`, `after` seconds into the run, then emptied.
    Needs mount(2) (root, or a container allowed to mount); see `mountable`. (A read-only
    remount is refused while the bot holds the file open: see ReadOnlyServer.)"""

    def __init__(self, folder: Path, after: float, seconds: float) -> None:
        self.folder, self.after, self.seconds = folder, after, seconds
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(folder)], check=True)

    @property
    def url(self) -> str:
        """The database on this file system."""
        return f"sqlite:///{self.folder / 'desk.db'}"

    async def window(self) -> None:
        """Wait `after` s, fill the file system, wait `seconds` s, free it again."""
        await asyncio.sleep(self.after)
        filler = self.folder / "filler"
        # until ENOSPC (which may come at once, when the bot's files already fill it)
        with contextlib.suppress(OSError), filler.open("wb") as out:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        try:
            await asyncio.sleep(self.seconds)
        finally:
            filler.unlink(missing_ok=True)

    def close(self) -> None:
        """Unmount (the database goes with it)."""
        subprocess.run(["umount", "-l", str(self.folder)], check=False)


class ReadOnlyServer:
    """A PostgreSQL database that takes no writes for `seconds`, `after` seconds into the run,
    as after a failover to a read-only standby: ALTER DATABASE … SET
    default_transaction_read_only, and every connection to it ended so the bot's new ones
    are read-only; then the setting is taken back and the connections ended again."""

    def __init__(self, url: str, after: float, seconds: float) -> None:
        self.url, self.after, self.seconds = url, after, seconds
        self.database = str(make_url(url).database)
        # ALTER DATABASE from the maintenance database: a session on this one is read-only
        self._admin = make_url(url).set(database="postgres")

    async def window(self) -> None:
        """Wait `after` s, make the database read-only, wait `seconds` s, writable again."""
        await asyncio.sleep(self.after)
        await asyncio.to_thread(self._set, True)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            await asyncio.to_thread(self._set, False)

    def _set(self, read_only: bool) -> None:
        engine = create_engine(self._admin, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as admin:
                admin.execute(
                    text(
                        f'ALTER DATABASE "{self.database}" SET default_transaction_read_only = '
                        + ("on" if read_only else "off")
                    )
                )
                admin.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": self.database},
                )
        finally:
            engine.dispose()


def mountable(folder: Path) -> bool:
    """Whether this process may mount a tmpfs (root in a container that allows it)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        return False
    subprocess.run(["umount", str(folder)], check=False)
    return True


def prepare(url: str) -> None:
    """A fresh schema with the example estate's homes and price list, and two engineers."""
    with _MIGRATING:
        migrate.upgrade(url)
    db = Database(url, system_clock)
    try:
        with db.unit_of_work() as uow:
            s, now = uow.session, system_clock()
            assert import_units(s, EXAMPLES / "units.csv").ok
            assert import_prices(s, EXAMPLES / "prices.csv").ok
            for user in ENGINEERS:
                person = add_person(
                    s,
                    channel="telegram",
                    external_id=str(user.id),
                    name=user.first_name,
                    language="en",
                )
                invite = create_invite(s, "engineer", "engineering", now)
                assert redeem_invite(s, invite.code, person, now) is not None
            uow.commit()
    finally:
        db.dispose()


async def run(
    name: str,
    url: str,
    workdir: Path,
    owners: int,
    *,
    kill_every: tuple[float, float] | None = None,
    storage: Fault | None = None,
    min_kills: int = 0,
    max_kills: int | None = None,
    too_many: float = 0.0,
    server_error: float = 0.0,
    webhook_workers: int = 0,
    step_timeout: float = 60.0,
    seed: int = 1,
) -> Result:
    """One run on a fresh database `url`; the result holds each owner chat's deliveries.
    Kills (`kill_every`) go on until every owner is through and `min_kills` are done, but
    stop at `max_kills`. With `webhook_workers` (2), that many `propdesk run --webhook`
    share the database and the last one is killed for good once the owners are half way."""
    prepare(url)
    workdir.mkdir(parents=True, exist_ok=True)
    result = Result(name, owners)
    dice = random.Random(seed)
    people = profiles(owners)
    started = time.monotonic()
    fake = FlakyTelegram(too_many, server_error, seed)
    logs: list[Path] = []
    with fake:
        desks = []
        for i in range(max(webhook_workers, 1)):
            log = workdir / f"{name}{f'-{i}' if webhook_workers else ''}.log"
            logs.append(log)
            desks.append(Desk(url, fake, workdir, log, free_port() if webhook_workers else 0))
        for desk in desks:
            desk.start()
        relay = Relay(fake, [d.webhook_port for d in desks], seed) if webhook_workers else None
        if relay is not None:
            await asyncio.gather(*(desk.serving(timeout=60) for desk in desks))
        else:
            await _up(fake, timeout=60)
        background = [asyncio.create_task(desk.keep_running()) for desk in desks]
        if relay is not None:
            background.append(asyncio.create_task(relay.run()))
        engineers = [Engineer(fake, user, seed + n) for n, user in enumerate(ENGINEERS)]
        background += [asyncio.create_task(e.work()) for e in engineers]
        walkers = [Walker(fake, p, step_timeout) for p in people]
        walks = [asyncio.create_task(w.walk()) for w in walkers]
        try:
            if storage is not None:
                await storage.window()
            if relay is not None and webhook_workers > 1:
                await _lose_a_worker(walkers, desks[-1], relay)
            if kill_every is not None:
                desk = desks[0]
                # the next kill comes 1-4 s after the bot is up again (it polls): counting from
                # the restart would, on a busy machine, kill it mostly while it imports
                while (not all(w.done() for w in walks) or desk.kills < min_kills) and (
                    max_kills is None or desk.kills < max_kills
                ):
                    await asyncio.sleep(dice.uniform(*kill_every))
                    polls = len(fake.calls_of("getUpdates"))
                    desk.kill()
                    await _up(fake, timeout=60, after=polls)
            done = await asyncio.gather(*walks)
            result.stuck = sum(1 for ok in done if not ok)
            result.stuck_at = [w.stuck_at for w in walkers if w.stuck_at]
            await drained(url, timeout=60)
            await asyncio.sleep(1.5)  # a last sweep / send, so a timer run twice would show
            await drained(url, timeout=30)
        finally:
            for task in [*walks, *background]:
                task.cancel()
            for desk in desks:
                desk.stop()
        result.kills = sum(desk.kills for desk in desks)
        result.exits = sum(desk.exits for desk in desks)
        result.seconds = time.monotonic() - started
        result.injected = f"{fake.injected[429]}x429 {fake.injected[502]}x502"
        if relay is not None:
            result.updates_again = relay.again
            result.injected += " " + " ".join(f"{n}x{why}" for why, n in relay.failed.items())
        result.chats = {p.user.id: deliveries(fake, p.user.id) for p in people}
        _check_delivery(url, people, fake, result)
    logged = "\n".join(log.read_text(encoding="utf-8", errors="replace") for log in logs)
    result.errors = logged.count("Traceback")
    result.storage_errors = sum(
        1
        for line in logged.splitlines()
        if "disk is full" in line or "readonly database" in line or "read-only" in line
    )
    return result


async def _lose_a_worker(walkers: list[Walker], worker: Desk, relay: Relay) -> None:
    """Once the owners are half way, kill `worker` for good while it handles an update (so
    that one is cut and goes again to the other); the load balancer notices a second later
    (meanwhile posts to it are refused and go again to the other)."""
    total = sum(len(w.steps()) for w in walkers)
    while sum(w.steps_done for w in walkers) < total / 2:
        await asyncio.sleep(0.05)
    deadline = time.monotonic() + 30
    while not relay.in_flight[worker.webhook_port] and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    worker.kill(restart=False)
    await asyncio.sleep(1.0)
    relay.drop(worker.webhook_port)


async def _up(fake: FakeTelegram, timeout: float, after: int = 0) -> None:
    """Wait until the bot polls (it is up and its database is open): a getUpdates call
    beyond the first `after`."""
    deadline = time.monotonic() + timeout
    while len(fake.calls_of("getUpdates")) <= after and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def drained(url: str, timeout: float) -> None:
    """Wait until the outbox has nothing pending (the bot is alive and sending)."""
    db = Database(url, system_clock)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with db.unit_of_work() as uow:
                pending = uow.session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == "pending")
                )
            if not pending:
                return
            await asyncio.sleep(0.2)
    finally:
        db.dispose()


def _claims(payload: dict[str, Any]) -> bool:
    """Whether a queued message is a job card (or its re-post): it carries a Claim button."""
    return any("|claim|" in str(data) for row in payload.get("buttons") or [] for _l, data in row)


def _check_delivery(url: str, people: list[Profile], fake: FakeTelegram, result: Result) -> None:
    """Orders, claims, cards, re-posts and hand-overs: what the database meant to send
    against what the fake Bot API received."""
    posted = [  # the cards the group received, each send of each
        str(c.params.get("text") or "")
        for c in fake.calls_of("sendMessage", include_failed=False)
        if str(c.params.get("chat_id")) == str(STAFF_GROUP)
        and "|claim|" in json.dumps(c.params.get("reply_markup") or {})
    ]
    handovers = [
        str(c.params.get("text") or "")
        for c in fake.calls_of("sendMessage", include_failed=False)
        if str(c.params.get("chat_id")) in {str(e.id) for e in ENGINEERS}
    ]
    result.refused = sum(  # the press's own notice, or (before issue 11.5) a chat message
        1
        for c in fake.calls
        if c.method in ("answerCallbackQuery", "sendMessage")
        and not c.failed
        and any(words in str(c.params.get("text")) for words in ("already taken", "already took"))
    )
    db = Database(url, system_clock)
    try:
        with db.unit_of_work() as uow:
            s = uow.session
            for p in people:
                count = s.scalar(
                    select(func.count())
                    .select_from(Order)
                    .join(Identity, Identity.person_id == Order.owner_id)
                    .where(Identity.channel == "telegram", Identity.external_id == str(p.user.id))
                )
                result.orders_ok += count == 1
            queued = [
                row.payload
                for row in s.scalars(
                    select(OutboxMessage).where(OutboxMessage.chat_id == str(STAFF_GROUP))
                )
                if _claims(row.payload) and not row.payload.get("edit_message_id")
            ]
            for order_id, number in s.execute(select(Order.id, Order.number)).all():
                runs = int(
                    s.scalar(
                        select(func.count())
                        .select_from(Timer)
                        .where(
                            Timer.kind == REANNOUNCE,
                            Timer.subject_id == order_id,
                            Timer.status == "done",
                        )
                    )
                    or 0
                )
                result.reposts += runs
                mine = [str(q["text"]) for q in queued if number in str(q["text"])]
                again = sum(1 for t in mine if t.startswith("⏰"))
                result.cards_extra += max(0, len(mine) - again - 1) + max(0, again - runs)
                result.cards_resent += max(0, sum(1 for t in posted if number in t) - len(mine))
                claims = s.scalar(
                    select(func.count())
                    .select_from(OrderEvent)
                    .where(OrderEvent.order_id == order_id, OrderEvent.action == "claim")
                )
                result.claimed_once += claims == 1
                took = sum(1 for t in handovers if number in t and "You took" in t)
                result.handovers_extra += max(0, took - 1)
    finally:
        db.dispose()


def compare(result: Result, baseline: Result) -> None:
    """Fill lost, duplicates and reordered from the fault-free run's deliveries (the
    baseline may have more owners: the same first ones, chatting the same)."""
    result.expected = result.lost = result.duplicates = result.delivered = 0
    result.reordered = 0
    for chat, got in result.chats.items():
        want = baseline.chats[chat]
        expected, actual = Counter(want), Counter(got)
        result.expected += len(want)
        result.lost += sum(max(0, n - actual[k]) for k, n in expected.items())
        result.duplicates += sum(max(0, n - expected[k]) for k, n in actual.items())
        result.delivered += sum(min(n, actual[k]) for k, n in expected.items())
        first = list(dict.fromkeys(k for k in got if k in expected))
        result.reordered += first != list(dict.fromkeys(want))[: len(first)]


COLUMNS: list[tuple[str, str, int]] = [  # (heading, Result field, width)
    ("owners", "owners", 7),
    ("kills", "kills", 6),
    ("secs", "seconds", 5),
    ("stuck", "stuck", 6),
    ("1 order", "orders_ok", 8),
    ("1 claim", "claimed_once", 8),
    ("expected", "expected", 9),
    ("lost", "lost", 5),
    ("dups", "duplicates", 5),
    ("reord", "reordered", 6),
    ("reposts", "reposts", 8),
    ("card+", "cards_extra", 6),
    ("resent", "cards_resent", 7),
    ("took+", "handovers_extra", 6),
    ("refused", "refused", 8),
    ("again", "updates_again", 6),
    ("tb", "errors", 4),
    ("storage", "storage_errors", 8),
    ("exits", "exits", 6),
]


def table(results: list[Result]) -> str:
    """The runs side by side, one line each."""
    head = f"{'run':<16}" + "".join(f"{h:>{w}}" for h, _f, w in COLUMNS) + "  injected"
    lines = [head, "-" * len(head)]
    for r in results:
        cells = "".join(
            f"{getattr(r, f):>{w}.0f}" if f == "seconds" else f"{getattr(r, f):>{w}}"
            for _h, f, w in COLUMNS
        )
        lines.append(f"{r.name:<16}{cells}  {r.injected}")
    lines += [f"{r.name}: stuck: {where}" for r in results for where in r.stuck_at]
    return "\n".join(lines)
