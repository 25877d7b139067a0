"""The chaos harness (issue 14): owners walk a whole repair intake against the real
`propdesk run` (a subprocess in its own process group, long polling the fake Bot API) while the
harness kills the process group with SIGKILL every 1-4 s and starts it again, and/or the fake
answers 20% of sends with 429 and 10% with 502. Closed loop: each owner waits for the bot's
answer before the next step.

Checks, against a fault-free run of the same owners: every expected message delivered (none
lost), duplicates counted, per-chat order kept (first deliveries in the fault-free order), one
order per owner, and in the staff group one card per order plus one re-post per "still
waiting" timer that ran (a timer run twice or a card sent twice shows as an extra). Used by
tests/chaos (smoke size, in CI) and bench/chaos.py (bigger, by hand).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from store import migrate
from store.clock import system_clock
from store.db import Database
from store.models import Identity, Order, OutboxMessage, Timer
from store.price_list import import_prices
from store.promises import REANNOUNCE
from store.units import import_units
from tests.fake_telegram import ApiError, FakeTelegram, TgUser

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
STAFF_GROUP = -1001500
ORDER_NUMBER = re.compile(r"R-\d{8}-\d{4}")
SENDS = {"sendmessage", "editmessagetext", "sendphoto", "sendmediagroup", "senddocument"}


class FlakyTelegram(FakeTelegram):
    """The fake Bot API, answering a share of the bot's sends with 429 (retry after 1 s) or
    502, at random."""

    def __init__(self, too_many: float = 0.0, server_error: float = 0.0, seed: int = 1) -> None:
        super().__init__()
        self.too_many, self.server_error = too_many, server_error
        self._dice = random.Random(seed)
        self.injected: Counter[int] = Counter()

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
    expected: int = 0  # messages the fault-free run delivered to owners
    delivered: int = 0  # distinct expected messages delivered
    lost: int = 0
    duplicates: int = 0
    reordered: int = 0  # chats whose first deliveries are not in the fault-free order
    cards_extra: int = 0  # staff group posts beyond one card + one re-post per timer run
    reposts: int = 0  # "still waiting" timers that ran
    injected: str = ""
    errors: int = 0  # tracebacks in the bot's log
    exits: int = 0  # the bot stopped by itself (e.g. refused to start) and was restarted
    storage_errors: int = 0  # log lines naming a full disk or a read-only database
    chats: dict[int, list[str]] = field(default_factory=dict, repr=False)


def _key(params: dict[str, Any]) -> str:
    """A message as an owner reads it: its text (order numbers masked) and its buttons."""
    text = ORDER_NUMBER.sub("R-#", str(params.get("text") or params.get("caption") or ""))
    markup = params.get("reply_markup") or {}
    if isinstance(markup, str):
        import json

        markup = json.loads(markup)
    labels = [b.get("text", "") for row in markup.get("inline_keyboard", []) for b in row]
    return text + (" [" + "|".join(labels) + "]" if labels else "")


def deliveries(fake: FakeTelegram, chat_id: int) -> list[str]:
    """The messages sent or edited into a chat (successful calls), in the order they came."""
    return [
        ("edit: " if c.method == "editMessageText" else "") + _key(c.params)
        for c in fake.calls
        if c.method in ("sendMessage", "editMessageText")
        and not c.failed
        and str(c.params.get("chat_id")) == str(chat_id)
    ]


class Desk:
    """`propdesk run` as a subprocess in its own process group, killed and started at will."""

    def __init__(self, url: str, fake: FakeTelegram, workdir: Path, log: Path) -> None:
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
            "PROPDESK_TIMERS": "reannounce=0.1m",  # "still waiting" re-posts every 6 s
        }
        self.workdir, self.log = workdir, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.exits = 0  # times it stopped by itself and was started again

    def start(self) -> None:
        """Start the bot (its own session, so a kill takes the whole group)."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run"],
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
            if self.proc is not None and self.proc.poll() is not None:
                self.exits += 1
                self.start()

    def kill(self) -> None:
        """SIGKILL the bot's process group, then start it again."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.kills += 1
        self.start()

    def stop(self) -> None:
        """Stop it as an operator would (SIGTERM), killing it if it hangs."""
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Walker:
    """One owner walking the repair intake, step by step, waiting for each answer."""

    def __init__(self, fake: FakeTelegram, profile: Profile, timeout: float) -> None:
        self.fake, self.profile, self.timeout = fake, profile, timeout
        self.chat_id = profile.user.id

    def _messages(self) -> list[dict[str, Any]]:
        return self.fake.sent(self.chat_id)

    async def _answer(self, before: list[dict[str, Any]], action: str | None) -> bool:
        """Wait for a message not seen before this step (a late duplicate of an earlier one
        does not count), carrying a button for `action` when given."""
        seen = {_key(m) for m in before}
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for message in self._messages()[len(before) :]:
                if _key(message) in seen:
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

    async def walk(self) -> bool:
        """The whole intake: register, then a home repair booked and agreed; False if stuck."""
        p, user = self.profile, self.profile.user
        steps: list[tuple[Any, str | None]] = [
            (lambda: self.fake.user_text(user, "/start"), None),
            (lambda: self.fake.user_text(user, p.name), None),
            (lambda: self.fake.user_text(user, p.room), None),
            (lambda: self.fake.user_contact(user, p.phone), "repair"),
            (lambda: self._press("repair"), "where"),
            (lambda: self._press("where", "home"), "cat"),
            (lambda: self._press("cat", "plumbing"), "item"),
            (lambda: self._press("item"), None),
            (lambda: self.fake.user_text(user, "The kitchen tap drips"), "photos_done"),
            (lambda: self._press("photos_done"), "when"),
            (lambda: self._press("when", "book"), "date"),
            (lambda: self._press("date"), "slot"),
            (lambda: self._press("slot"), "phone"),
            (lambda: self._press("phone", "mine"), "quote"),
            (lambda: self._press("quote", "agree"), "submit"),
            (lambda: self._press("submit"), None),
        ]
        for act, expect in steps:
            before = self._messages()
            act()
            if not await self._answer(before, expect):
                return False
        return True


class Storage:
    """A real full disk for SQLite: the database on a small tmpfs of its own, filled up (a
    filler file written to ENOSPC) for `seconds`, `after` seconds into the run, then emptied.
    Needs mount(2) (root, or a container allowed to mount); see `mountable`. (A read-only
    remount is refused while the bot holds the file open, so read-only is tested at the
    database layer in tests/test_read_only_database.py.)"""

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
        with filler.open("wb") as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        try:
            await asyncio.sleep(self.seconds)
        finally:
            filler.unlink()

    def close(self) -> None:
        """Unmount (the database goes with it)."""
        subprocess.run(["umount", "-l", str(self.folder)], check=False)


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
    """A fresh schema with the example estate's homes and price list."""
    migrate.upgrade(url)
    db = Database(url, system_clock)
    try:
        with db.unit_of_work() as uow:
            assert import_units(uow.session, EXAMPLES / "units.csv").ok
            assert import_prices(uow.session, EXAMPLES / "prices.csv").ok
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
    storage: Storage | None = None,
    min_kills: int = 0,
    too_many: float = 0.0,
    server_error: float = 0.0,
    step_timeout: float = 60.0,
    seed: int = 1,
) -> Result:
    """One run on a fresh database `url`; the result holds each owner chat's deliveries."""
    prepare(url)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{name}.log"
    result = Result(name, owners)
    dice = random.Random(seed)
    people = profiles(owners)
    started = time.monotonic()
    fake = FlakyTelegram(too_many, server_error, seed)
    with fake:
        desk = Desk(url, fake, workdir, log)
        desk.start()
        await _up(fake, timeout=60)
        keeper = asyncio.create_task(desk.keep_running())
        walks = [asyncio.create_task(Walker(fake, p, step_timeout).walk()) for p in people]
        try:
            if storage is not None:
                await storage.window()
            if kill_every is not None:
                # the next kill comes 1-4 s after the bot is up again (it polls): counting from
                # the restart would, on a busy machine, kill it mostly while it imports
                while not all(w.done() for w in walks) or desk.kills < min_kills:
                    await asyncio.sleep(dice.uniform(*kill_every))
                    polls = len(fake.calls_of("getUpdates"))
                    desk.kill()
                    await _up(fake, timeout=60, after=polls)
            done = await asyncio.gather(*walks)
            result.stuck = sum(1 for ok in done if not ok)
            await _drained(url, timeout=60)
            await asyncio.sleep(1.5)  # a last sweep / send, so a timer run twice would show
            await _drained(url, timeout=30)
        finally:
            for walk in walks:
                walk.cancel()
            keeper.cancel()
            desk.stop()
        result.kills = desk.kills
        result.exits = desk.exits
        result.seconds = time.monotonic() - started
        result.injected = f"{fake.injected[429]}x429 {fake.injected[502]}x502"
        result.chats = {p.user.id: deliveries(fake, p.user.id) for p in people}
        group = [
            str(c.params.get("text") or "")
            for c in fake.calls_of("sendMessage", include_failed=False)
            if str(c.params.get("chat_id")) == str(STAFF_GROUP)
        ]
    _check_database(url, people, group, result)
    logged = log.read_text(encoding="utf-8", errors="replace")
    result.errors = logged.count("Traceback")
    result.storage_errors = sum(
        1
        for line in logged.splitlines()
        if "disk is full" in line or "readonly database" in line or "read-only" in line
    )
    return result


async def _up(fake: FakeTelegram, timeout: float, after: int = 0) -> None:
    """Wait until the bot polls (it is up and its database is open): a getUpdates call
    beyond the first `after`."""
    deadline = time.monotonic() + timeout
    while len(fake.calls_of("getUpdates")) <= after and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def _drained(url: str, timeout: float) -> None:
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


def _check_database(url: str, people: list[Profile], group: list[str], result: Result) -> None:
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
            for order_id, number in s.execute(select(Order.id, Order.number)).all():
                runs = s.scalar(
                    select(func.count())
                    .select_from(Timer)
                    .where(
                        Timer.kind == REANNOUNCE,
                        Timer.subject_id == order_id,
                        Timer.status == "done",
                    )
                )
                result.reposts += int(runs or 0)
                posts = sum(1 for text in group if number in text)
                result.cards_extra += max(0, posts - 1 - int(runs or 0))
    finally:
        db.dispose()


def compare(result: Result, baseline: Result) -> None:
    """Fill lost, duplicates and reordered from the fault-free run's deliveries."""
    for chat, want in baseline.chats.items():
        got = result.chats.get(chat, [])
        expected, actual = Counter(want), Counter(got)
        result.expected += len(want)
        result.lost += sum(max(0, n - actual[k]) for k, n in expected.items())
        result.duplicates += sum(max(0, n - expected[k]) for k, n in actual.items())
        result.delivered += sum(min(n, actual[k]) for k, n in expected.items())
        first = list(dict.fromkeys(k for k in got if k in expected))
        result.reordered += first != list(dict.fromkeys(want))[: len(first)]


def table(results: list[Result]) -> str:
    """The runs side by side, one line each."""
    head = (
        f"{'run':<14}{'owners':>7}{'kills':>6}{'secs':>6}{'stuck':>6}{'1 order':>8}"
        f"{'expected':>9}{'lost':>5}{'dups':>5}{'reord':>6}{'reposts':>8}{'card+':>6}"
        f"{'tracebacks':>11}{'storage':>8}{'exits':>6}  injected"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.name:<14}{r.owners:>7}{r.kills:>6}{r.seconds:>6.0f}{r.stuck:>6}"
            f"{r.orders_ok:>8}{r.expected:>9}{r.lost:>5}{r.duplicates:>5}{r.reordered:>6}"
            f"{r.reposts:>8}{r.cards_extra:>6}{r.errors:>11}{r.storage_errors:>8}{r.exits:>6}"
            f"  {r.injected}"
        )
    return "\n".join(lines)
