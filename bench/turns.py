"""CPU per update and start-up of the real `propdesk run` process (issue 15.4), limits off.

Starts `python -m bot.cli run` as its own process against a loopback fake Bot API (SQLite in
a temp folder), times the start-up to its first getUpdates, then N owners each write /help
and wait for the answer, R rounds each (closed loop). Prints updates/s, p50/p99 of an answer,
and the bot process's CPU (user + system, from /proc) per update, so the figure is the bot's
own, not this driver's or the fake's.

    .venv/bin/python bench/turns.py                       # 50 owners x 10 rounds
    .venv/bin/python bench/turns.py --owners 200 --rounds 5

Only tests.fake_telegram is used, so it also measures an older checkout:
`PYTHONPATH=/path/to/old .venv/bin/python bench/turns.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH: see above

from tests.fake_telegram import FakeTelegram, TgUser

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Answers:
    """Counts sendMessage calls per chat, reading the fake's record incrementally."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.seen = 0
        self.by_chat: dict[str, int] = {}

    def refresh(self) -> None:
        """Take in the calls recorded since the last refresh."""
        calls = self.fake.calls
        for call in calls[self.seen :]:
            if call.method == "sendMessage" and not call.failed:
                chat = str(call.params.get("chat_id"))
                self.by_chat[chat] = self.by_chat.get(chat, 0) + 1
        self.seen = len(calls)


async def _owner(
    fake: FakeTelegram, answers: Answers, user: TgUser, rounds: int, timeout: float
) -> list[float]:
    took: list[float] = []
    for _ in range(rounds):
        before = answers.by_chat.get(str(user.id), 0)
        sent = time.monotonic()
        fake.user_text(user, "/help")
        while answers.by_chat.get(str(user.id), 0) <= before:
            if time.monotonic() - sent > timeout:
                took.append(float("inf"))
                break
            await asyncio.sleep(0.005)
        else:
            took.append(time.monotonic() - sent)
    return took


async def _drive(fake: FakeTelegram, owners: int, rounds: int, timeout: float) -> list[float]:
    answers = Answers(fake)
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            answers.refresh()
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    users = [TgUser(30_000 + i, f"Owner {i}", "en") for i in range(owners)]
    try:
        results = await asyncio.gather(*(_owner(fake, answers, u, rounds, timeout) for u in users))
    finally:
        done.set()
        await watcher
    return sorted(t for r in results for t in r)


def run(owners: int, rounds: int, timeout: float = 120.0) -> dict[str, Any]:
    """One measured run; returns the figures."""
    with tempfile.TemporaryDirectory() as folder, FakeTelegram() as fake:
        url = f"sqlite:///{folder}/turns.db"
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": "123456:BENCH",
            "PROPDESK_TELEGRAM_API_BASE_URL": fake.base_url,
            "PROPDESK_TELEGRAM_FILE_BASE_URL": fake.base_file_url,
            "PROPDESK_DATABASE_URL": url,
            "PROPDESK_OUTBOX_POLL_SECONDS": "0.2",
            "PROPDESK_TELEGRAM_CHAT_PER_SECOND": "0",
            "PROPDESK_TELEGRAM_GROUP_PER_MINUTE": "0",
            "PROPDESK_TELEGRAM_OVERALL_PER_SECOND": "0",
            "PROPDESK_SCHEDULER_ENABLED": "false",
        }
        root = Path(__file__).resolve().parent.parent
        subprocess.run(
            [sys.executable, "-m", "bot.cli", "db", "upgrade"],
            cwd=folder,
            env={**env, "PYTHONPATH": os.environ.get("PYTHONPATH", str(root))},
            check=True,
            capture_output=True,
        )
        started = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=folder,
            env={**env, "PYTHONPATH": os.environ.get("PYTHONPATH", str(root))},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while not fake.calls_of("getUpdates"):
                if proc.poll() is not None:
                    raise RuntimeError("propdesk run exited before polling")
                time.sleep(0.005)
            startup = fake.calls_of("getUpdates")[0].at - started
            cpu_before = cpu_seconds(proc.pid)
            began = time.monotonic()
            took = asyncio.run(_drive(fake, owners, rounds, timeout))
            elapsed = time.monotonic() - began
            cpu = cpu_seconds(proc.pid) - cpu_before
            rss = peak_rss_mib(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    answered = [t for t in took if t != float("inf")]
    q = statistics.quantiles(answered, n=100) if len(answered) > 1 else answered * 99
    return {
        "owners": owners,
        "rounds": rounds,
        "updates": len(took),
        "answered": len(answered),
        "startup_s": startup,
        "updates_per_s": len(answered) / elapsed,
        "p50_s": q[49] if q else None,
        "p99_s": q[98] if q else None,
        "cpu_ms_per_update": cpu * 1000 / max(len(took), 1),
        "peak_rss_mib": rss,
    }


def main() -> int:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    r = run(args.owners, args.rounds)
    print(
        f"owners {r['owners']} x {r['rounds']}: answered {r['answered']}/{r['updates']}, "
        f"{r['updates_per_s']:.1f} updates/s, p50 {r['p50_s']:.2f} s, p99 {r['p99_s']:.2f} s, "
        f"bot CPU {r['cpu_ms_per_update']:.1f} ms/update, peak RSS {r['peak_rss_mib']:.0f} MiB, "
        f"start-up to first getUpdates {r['startup_s']:.2f} s"
    )
    return 0 if r["answered"] == r["updates"] else 1


if __name__ == "__main__":
    sys.exit(main())
