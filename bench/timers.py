"""How long a timer sweep takes when 1,000 timers are due among many pending ones.

Fills the timers table with N pending timers due in the future plus 1,000 due now (bulk
inserts), then runs one `TimerSweeper.sweep()` whose effect writes one outbox row per timer,
and prints the time per sweep and per timer. The sweep should cost in proportion to the due
rows (index on status and due time), not to N.

    .venv/bin/python bench/timers.py                                  # SQLite, 10^4..10^6
    .venv/bin/python bench/timers.py --sizes 10000,100000 --url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, distinct, func, insert, select, text

from handlers.desk import Desk
from handlers.timed import Due, TimerEffect
from scheduler.sweeper import TimerSweeper
from store import migrate
from store.clock import system_clock
from store.db import Database
from store.models import OutboxMessage, Timer

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
DUE = 1000
CHUNK = 20_000


def _effect(due: Due) -> None:
    due.session.add(
        OutboxMessage(channel="bench", chat_id=str(due.timer.subject_id), payload={"t": 1})
    )


def _fill(db: Database, pending: int, due: int = DUE) -> None:
    """`pending` timers due next week and `due` timers due now, in chunks."""
    later = NOW + timedelta(days=7)
    with db.unit_of_work() as uow:
        uow.session.execute(delete(Timer))
        uow.session.execute(delete(OutboxMessage))
        uow.commit()
    total = pending + due
    for start in range(0, total, CHUNK):
        rows = [
            {
                "kind": "bench",
                "subject_id": i,
                "due_at": NOW - timedelta(seconds=1) if i < due else later,
                "status": "pending",
                "attempts": 0,
                "data": {},
                "created_at": NOW,
            }
            for i in range(start, min(start + CHUNK, total))
        ]
        with db.unit_of_work() as uow:
            uow.session.execute(insert(Timer), rows)
            uow.commit()
        print(f"  filled {min(start + CHUNK, total):>9,} timers", file=sys.stderr, end="\r")
    with db.unit_of_work() as uow:
        if uow.dialect == "postgresql":
            uow.session.execute(text("ANALYZE timers"))
        else:
            uow.session.execute(text("ANALYZE"))
        uow.commit()
    print(file=sys.stderr)


def measure(url: str, sizes: list[int], due: int = DUE) -> list[dict[str, float | int | bool]]:
    """One sweep of `due` timers among each size of pending ones; the figures per size, with
    a self-check: every due timer ran exactly once (one outbox row each), none early."""
    migrate.upgrade(url)
    db = Database(url, system_clock)
    desk = Desk(clock=lambda: NOW)
    sweeper = TimerSweeper(db, desk, {"bench": TimerEffect(_effect)}, batch=100)
    figures: list[dict[str, float | int | bool]] = []
    try:
        for size in sizes:
            _fill(db, size, due)
            started = time.perf_counter()
            result = sweeper.sweep()
            elapsed = time.perf_counter() - started
            idle_started = time.perf_counter()
            sweeper.sweep()  # nothing due: the cost of an idle sweep
            idle = time.perf_counter() - idle_started
            with db.unit_of_work() as uow:
                rows = uow.session.scalar(select(func.count()).select_from(OutboxMessage))
                chats = uow.session.scalar(select(func.count(distinct(OutboxMessage.chat_id))))
            figures.append(
                {
                    "pending": size,
                    "due": due,
                    "ran": result.ran,
                    "sweep_s": elapsed,
                    "ms_per_timer": elapsed / max(result.ran, 1) * 1000,
                    "idle_sweep_ms": idle * 1000,
                    "ok": result.ran == due and rows == due and chats == due,
                }
            )
    finally:
        db.dispose()
    return figures


def main() -> int:
    """Run the benchmark and print one line per size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="database URL (default: a SQLite file in a temp folder)")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="pending timer counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        print(f"database: {url.split(':', 1)[0]}; {DUE} due per sweep")
        ok = True
        for size in (int(s) for s in args.sizes.split(",")):
            (f,) = measure(url, [size])
            ok = ok and bool(f["ok"])
            print(
                f"pending {size:>9,}: sweep of {f['ran']} due timers {f['sweep_s']:6.2f} s "
                f"({f['ms_per_timer']:.2f} ms per timer), "
                f"idle sweep {f['idle_sweep_ms']:.1f} ms{'' if f['ok'] else '  SELF-CHECK FAILED'}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
