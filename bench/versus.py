"""propdesk against the framework floor (issue 15.5): the real `propdesk run` and a bare
python-telegram-bot echo bot (bench/echo_bot.py), one after the other in the same run, under
the same closed-loop load against a loopback fake Bot API, Telegram's limits off.

The load: N owners at once, each walking a whole repair intake (register with name, home and
shared contact, then a home plumbing repair: category, item, description, no photos, a booked
date and slot, own phone, agree to the quote, submit: 16 steps, 11 of them button presses),
each step waiting for the bot's answer before the next (closed loop). The echo bot gets the
same 16 updates per owner (the same texts, the contact, presses of its button) and answers
each with one message. Printed for each program: updates/s, p50/p99 of a step's answer, the
bot process's CPU per update (user + system from /proc, so neither this driver's nor the
fake's), peak RSS and start-up to the first getUpdates; then the ratios propdesk/echo.

Self-checks (the run fails otherwise): every step answered; exactly one order per owner; no
reply lost or sent twice: each owner chat received exactly the messages the outbox marked
sent for it, and nothing is left pending.

    .venv/bin/python bench/versus.py                     # 30 owners, SQLite
    .venv/bin/python bench/versus.py --owners 200 --postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH

from bench.turns import cpu_seconds, peak_rss_mib
from tests.chaos.run import drained
from tests.fake_telegram import FakeTelegram, TgUser

ROOT = Path(__file__).resolve().parent.parent
STAFF_GROUP = -1001500
SENDS = ("sendMessage", "editMessageText", "sendPhoto", "sendMediaGroup", "sendDocument")
ORDER_NUMBER = re.compile(r"R-\d{8}-\d{4}")
# (what the owner does, what the step's answer ends with: a button action, "?" for a question
# without buttons, "R-" for a message naming the new order); a step's answer may be several
# messages (or edits), the step is done when the one it ends with has come
INTAKE: list[tuple[str, str, str]] = [
    ("text", "/start", "?"),
    ("text", "{name}", "back"),
    ("text", "{room}", "back"),
    ("contact", "{phone}", "repair"),
    ("press", "repair", "where"),
    ("press", "where|home", "cat"),
    ("press", "cat|plumbing", "item"),
    ("press", "item", "back"),
    ("text", "The kitchen tap drips", "photos_done"),
    ("press", "photos_done", "when"),
    ("press", "when|book", "date"),
    ("press", "date", "slot"),
    ("press", "slot", "phone"),
    ("press", "phone|mine", "quote"),
    ("press", "quote|agree", "submit"),
    ("press", "submit", "R-"),
]


@dataclass
class Owner:
    """An owner of the example estate: who writes, from which home, with the phone on file."""

    user: TgUser
    name: str
    room: str
    phone: str


EXAMPLE_UNITS = ROOT / "examples" / "units.csv"


def estate(count: int, folder: Path) -> Path:
    """A units file with homes for `count` owners: the example estate's, then as many more
    homes in further buildings as needed (a storm night has more owners than the example)."""
    lines = EXAMPLE_UNITS.read_text(encoding="utf-8").splitlines()
    extra = [
        f"{20 + i // 40},1,{101 + i % 40},业主{i},1372{i:07d}"
        for i in range(max(0, count - (len(lines) - 1)))
    ]
    path = folder / "units.csv"
    path.write_text("\n".join(lines + extra) + "\n", encoding="utf-8")
    return path


def owners(count: int, units: Path = EXAMPLE_UNITS) -> list[Owner]:
    """`count` owners of distinct homes from the units file (one phone each)."""
    chosen: list[Owner] = []
    lines = units.read_text(encoding="utf-8").splitlines()[1:]
    for line in lines[:count]:
        building, unit, room, _name, phones = line.split(",")
        i = len(chosen)
        user = TgUser(7100 + i, f"Owner {i}", "en")
        chosen.append(Owner(user, f"Owner {i}", f"{building}-{unit}-{room}", phones.split(";")[0]))
    if len(chosen) < count:
        raise ValueError(f"{units.name} has homes for {len(chosen)} owners, not {count}")
    return chosen


class Inboxes:
    """Every chat's messages as they reach the fake (sends and edits), read incrementally by
    one watcher; a chat's waiters are woken when something arrives for it."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.read = 0
        self.by_chat: dict[int, list[tuple[float, dict[str, Any]]]] = {}
        self.events: dict[int, asyncio.Event] = {}

    def event(self, chat: int) -> asyncio.Event:
        """The chat's wake-up."""
        return self.events.setdefault(chat, asyncio.Event())

    async def watch(self, stop: asyncio.Event) -> None:
        """Take in new messages every 5 ms until stopped."""
        while not stop.is_set():
            new = self.fake.sent_since(self.read)
            self.read += len(new)
            now = time.monotonic()
            for message in new:
                chat = int(message["chat"]["id"])
                self.by_chat.setdefault(chat, []).append((now, message))
                self.event(chat).set()
            await asyncio.sleep(0.005)


def _buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [
        str(b.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for b in row
        if b.get("callback_data")
    ]


def _ends(message: dict[str, Any], expect: str) -> bool:
    """Whether the message is the one a step's answer ends with."""
    if expect == "?":
        return not _buttons(message) and str(message.get("text", "")).rstrip().endswith("?")
    if expect == "R-":
        return ORDER_NUMBER.search(str(message.get("text", ""))) is not None
    return _button(message, expect) is not None


def _button(message: dict[str, Any], action: str) -> str | None:
    """The callback data of the message's button for `action` ("cat|plumbing": with that
    argument; "item": the first item that is not "other"); None when it has none."""
    name, _, arg = action.partition("|")
    for data in _buttons(message):
        parts = data.split("|")
        if parts[1:2] == [name] and (not arg or parts[2:3] == [arg]):
            if name == "item" and parts[2:3] == ["other"]:
                continue
            return data
    return None


class Walker:
    """One owner's closed loop: each step, then its answer, then the next step."""

    def __init__(
        self,
        fake: FakeTelegram,
        inboxes: Inboxes,
        owner: Owner,
        echo: bool,
        timeout: float,
        think: tuple[float, float] = (0.0, 0.0),
        arrive: float = 0.0,
    ) -> None:
        self.fake, self.inboxes, self.owner = fake, inboxes, owner
        self.echo, self.timeout = echo, timeout
        # seconds a person reads and types before the next step (none: a closed loop)
        self.think, self.pace = think, random.Random(owner.user.id)
        self.arrive = arrive  # the owner's first message comes within this many seconds
        self.took: list[float] = []

    def _act(self, kind: str, what: str) -> None:
        user, o = self.owner.user, self.owner
        messages = [m for _, m in self.inboxes.by_chat.get(user.id, [])]
        if kind == "text":
            self.fake.user_text(user, what.format(name=o.name, room=o.room))
        elif kind == "contact":
            self.fake.user_contact(user, "+86" + o.phone)
        else:
            for message in reversed(messages):  # the newest message with such a button
                data = _buttons(message)[0] if self.echo and _buttons(message) else None
                data = data or (None if self.echo else _button(message, what))
                if data is not None:
                    self.fake.user_press(user, data, message)
                    return
            raise RuntimeError(f"no {what} button for owner {user.id}")

    async def walk(self) -> bool:
        """The whole intake; False when a step's answer did not come in time."""
        chat = self.owner.user.id
        event = self.inboxes.event(chat)
        for number, (kind, what, expect) in enumerate(INTAKE):
            if number and self.think[1] > 0:
                await asyncio.sleep(self.pace.uniform(*self.think))
            elif not number and self.arrive > 0:
                await asyncio.sleep(self.pace.uniform(0, self.arrive))
            before = len(self.inboxes.by_chat.get(chat, []))
            event.clear()
            sent = time.monotonic()
            self._act(kind, what)
            while True:
                arrived = self.inboxes.by_chat.get(chat, [])[before:]
                hit = next((at for at, m in arrived if self.echo or _ends(m, expect)), None)
                if hit is not None:
                    self.took.append(hit - sent)
                    break
                left = self.timeout - (time.monotonic() - sent)
                if left <= 0:
                    self.took.append(float("inf"))
                    return False
                event.clear()
                try:
                    await asyncio.wait_for(event.wait(), left)
                except TimeoutError:
                    pass
        return True


@dataclass
class Program:
    """One bot under test: how to start it, and its figures once measured."""

    name: str
    argv: list[str]
    env: dict[str, str]
    echo: bool
    figures: dict[str, Any] = field(default_factory=dict)
    calls: list[Any] = field(default_factory=list)  # every Bot API call the fake recorded


def _propdesk(url: str) -> Program:
    env = {
        "PROPDESK_DATABASE_URL": url,
        "PROPDESK_STAFF_GROUP_CHAT_ID": str(STAFF_GROUP),
        "PROPDESK_OUTBOX_POLL_SECONDS": "0.2",
        "PROPDESK_TELEGRAM_CHAT_PER_SECOND": "0",
        "PROPDESK_TELEGRAM_GROUP_PER_MINUTE": "0",
        "PROPDESK_TELEGRAM_OVERALL_PER_SECOND": "0",
        # the sweeper and the reports' catch-up at start are timed by bench/timers.py and
        # bench/monthly_report.py; here they would only add their own CPU to the turns'
        "PROPDESK_SCHEDULER_ENABLED": "false",
    }
    return Program("propdesk", [sys.executable, "-m", "bot.cli", "run"], env, echo=False)


def _echo() -> Program:
    argv = [sys.executable, str(ROOT / "bench" / "echo_bot.py")]
    return Program("bare PTB echo", argv, {}, echo=True)


def prepare(url: str, units: Path = EXAMPLE_UNITS) -> None:
    """A fresh schema with the estate's homes and the example price list."""
    from store import migrate
    from store.clock import system_clock
    from store.db import Database
    from store.price_list import import_prices
    from store.units import import_units

    migrate.upgrade(url)
    db = Database(url, system_clock)
    try:
        with db.unit_of_work() as uow:
            assert import_units(uow.session, units).ok
            assert import_prices(uow.session, ROOT / "examples" / "prices.csv").ok
            uow.commit()
    finally:
        db.dispose()


def byte_compile() -> None:
    """Write the desk's bytecode as `pip install` does for a deployed desk: with
    PYTHONDONTWRITEBYTECODE set (as on this machine), an edited tree is compiled from source at
    every start, ~0.3 s of start-up that no deployment pays."""
    import compileall

    for package in ("bot", "handlers", "store", "scheduler"):
        compileall.compile_dir(ROOT / package, quiet=1)


async def measure(
    program: Program,
    people: list[Owner],
    folder: Path,
    timeout: float,
    think: tuple[float, float] = (0.0, 0.0),
    drain: float = 30.0,
    profile: Path | None = None,
    arrive: float = 0.0,
) -> None:
    """Start the program against a fresh fake, let the owners walk (`think` seconds between
    steps, the first within `arrive` seconds), wait up to `drain` seconds for the outbox to
    empty, fill its figures and calls; with `profile` (a folder), py-spy samples the bot while
    the owners walk."""
    byte_compile()
    with FakeTelegram() as fake:
        env = {
            **os.environ,
            "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)),
            "TELEGRAM_BOT_TOKEN": "123456:BENCH",
            "PROPDESK_TELEGRAM_API_BASE_URL": fake.base_url,
            "PROPDESK_TELEGRAM_FILE_BASE_URL": fake.base_file_url,
            **program.env,
        }
        log = (folder / f"{program.name.replace(' ', '_')}.log").open("wb")
        started = time.time()
        proc = subprocess.Popen(program.argv, cwd=folder, env=env, stdout=log, stderr=log)
        try:
            while not fake.calls_of("getUpdates"):
                if proc.poll() is not None:
                    raise RuntimeError(f"{program.name} exited before polling; see {log.name}")
                await asyncio.sleep(0.005)
            startup = fake.calls_of("getUpdates")[0].at - started
            inboxes, stop = Inboxes(fake), asyncio.Event()
            watcher = asyncio.create_task(inboxes.watch(stop))
            walkers = [
                Walker(fake, inboxes, o, program.echo, timeout, think, arrive) for o in people
            ]
            name = program.name.replace(" ", "_")
            spy = _spy(proc.pid, profile / f"{name}.raw") if profile else None
            cpu_before, began = cpu_seconds(proc.pid), time.monotonic()
            done = await asyncio.gather(*(w.walk() for w in walkers))
            elapsed, cpu = time.monotonic() - began, cpu_seconds(proc.pid) - cpu_before
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
                spy.wait(timeout=30)
            rss = peak_rss_mib(proc.pid)
            if not program.echo:
                await drained(program.env["PROPDESK_DATABASE_URL"], timeout=drain)
            stop.set()
            await watcher
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        delivered = {
            o.user.id: sum(
                1
                for c in fake.calls
                if c.method in SENDS
                and not c.failed
                and str(c.params.get("chat_id")) == str(o.user.id)
            )
            for o in people
        }
        api_calls = sum(1 for c in fake.calls if c.method != "getUpdates" and not c.failed)
        program.calls = list(fake.calls)
    took = sorted(t for w in walkers for t in w.took)
    answered = [t for t in took if t != float("inf")]
    q = statistics.quantiles(answered, n=100) if len(answered) > 1 else answered * 99
    updates = len(people) * len(INTAKE)
    program.figures = {
        "program": program.name,
        "owners": len(people),
        "steps": updates,
        "answered": len(answered),
        "stuck": sum(1 for ok in done if not ok),
        "startup_s": startup,
        "updates_per_s": len(answered) / elapsed,
        "p50_s": q[49] if q else None,
        "p99_s": q[98] if q else None,
        "cpu_ms_per_update": cpu * 1000 / updates,
        "peak_rss_mib": rss,
        "api_calls_per_update": api_calls / updates,
        "ok": len(answered) == updates,
    }
    if program.echo:
        program.figures["ok"] &= all(n == len(INTAKE) for n in delivered.values())
    else:
        checks = _check(program.env["PROPDESK_DATABASE_URL"], people, delivered)
        program.figures.update(checks)
        program.figures["ok"] &= checks["one_order_each"] and checks["outbox_matches"]


def _check(url: str, people: list[Owner], delivered: dict[int, int]) -> dict[str, Any]:
    """One order per owner; each owner chat got exactly the messages the outbox sent it."""
    from sqlalchemy import func, select

    from store.clock import system_clock
    from store.db import Database
    from store.models import Identity, Order, OutboxMessage

    db = Database(url, system_clock)
    try:
        with db.unit_of_work() as uow:
            s = uow.session
            orders = dict(
                s.execute(
                    select(Identity.external_id, func.count(Order.id))
                    .join(Order, Order.owner_id == Identity.person_id)
                    .where(Identity.channel == "telegram")
                    .group_by(Identity.external_id)
                ).all()
            )
            rows = s.execute(
                select(OutboxMessage.chat_id, OutboxMessage.status, func.count())
                .where(OutboxMessage.channel == "telegram")
                .group_by(OutboxMessage.chat_id, OutboxMessage.status)
            ).all()
    finally:
        db.dispose()
    sent = {chat: n for chat, status, n in rows if status == "sent"}
    pending = sum(n for _, status, n in rows if status != "sent")
    mismatched = [c for c, n in delivered.items() if sent.get(str(c), 0) != n]
    return {
        "one_order_each": all(orders.get(str(o.user.id)) == 1 for o in people),
        "outbox_matches": not mismatched and pending == 0,
        "outbox_mismatched_chats": len(mismatched),
        "outbox_not_sent": pending,
    }


def _spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` 100 times a second while it holds the GIL, as collapsed stacks
    (`-f raw`, one stack and its count a line): start-up is not in it, the load is."""
    spy = Path(sys.executable).with_name("py-spy")
    argv = [str(spy), "record", "--gil", "-f", "raw", "-r", "100", "-p", str(pid), "-o", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def compare(
    owners_count: int,
    database: str,
    folder: Path,
    timeout: float = 120.0,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Echo first, then propdesk, on `database` ("sqlite" or a URL); figures and ratios."""
    units = estate(owners_count, folder)
    people = owners(owners_count, units)
    url = f"sqlite:///{folder / 'versus.db'}" if database == "sqlite" else database
    # loopback and the bots share the machine: a load average near the cores skews both
    load = os.getloadavg()[0]
    prepare(url, units)
    echo, desk = _echo(), _propdesk(url)
    for program in (echo, desk):
        asyncio.run(measure(program, people, folder, timeout, profile=profile))
    e, d = echo.figures, desk.figures
    ratios = {
        key: (d[key] / e[key]) if e.get(key) else None
        for key in (
            "updates_per_s",
            "p50_s",
            "p99_s",
            "cpu_ms_per_update",
            "peak_rss_mib",
            "startup_s",
        )
    }
    return {
        "echo": e,
        "propdesk": d,
        "ratios": ratios,
        "database": url.split(":", 1)[0],
        "load_before": load,
        "load_after": os.getloadavg()[0],
        "ok": e["ok"] and d["ok"],
    }


def table(result: dict[str, Any]) -> str:
    """The two programs and the ratios, one line each."""
    head = (
        f"{'program':<16}{'updates/s':>10}{'p50 s':>8}{'p99 s':>8}{'CPU ms/upd':>11}"
        f"{'RSS MiB':>9}{'start s':>8}{'calls/upd':>10}"
    )
    lines = [
        f"load average {result['load_before']:.1f} before, {result['load_after']:.1f} after",
        head,
    ]
    for key in ("echo", "propdesk"):
        f = result[key]
        lines.append(
            f"{f['program']:<16}{f['updates_per_s']:>10.1f}{f['p50_s']:>8.3f}{f['p99_s']:>8.3f}"
            f"{f['cpu_ms_per_update']:>11.2f}{f['peak_rss_mib']:>9.0f}{f['startup_s']:>8.2f}"
            f"{f['api_calls_per_update']:>10.2f}"
        )
    r = result["ratios"]
    lines.append(
        f"{'propdesk/echo':<16}{r['updates_per_s']:>10.2f}{r['p50_s']:>8.2f}{r['p99_s']:>8.2f}"
        f"{r['cpu_ms_per_update']:>11.2f}{r['peak_rss_mib']:>9.2f}{r['startup_s']:>8.2f}"
    )
    return "\n".join(lines)


def main() -> int:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--owners", type=int, default=30)
    parser.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL")
    parser.add_argument("--timeout", type=float, default=120.0, help="per step, seconds")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="py-spy each bot while the owners walk (needs py-spy beside python): DIR/*.raw",
    )
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            from tests.pgserver import ThrowawayPostgres

            server = ThrowawayPostgres()
            server.start()
            try:
                result = compare(
                    args.owners,
                    server.create_database("versus"),
                    Path(tmp),
                    args.timeout,
                    args.profile,
                )
            finally:
                server.stop()
        else:
            result = compare(args.owners, "sqlite", Path(tmp), args.timeout, args.profile)
    print(table(result))
    print("all self-checks hold" if result["ok"] else f"A SELF-CHECK FAILED: {result}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
