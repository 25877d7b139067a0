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

from sqlalchemy import delete, insert, text

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


def _fill(db: Database, pending: int) -> None:
    """`pending` timers due next week and DUE timers due now, in chunks."""
    later = NOW + timedelta(days=7)
    with db.unit_of_work() as uow:
        uow.session.execute(delete(Timer))
        uow.session.execute(delete(OutboxMessage))
        uow.commit()
    total = pending + DUE
    for start in range(0, total, CHUNK):
        rows = [
            {
                "kind": "bench",
                "subject_id": i,
                "due_at": NOW - timedelta(seconds=1) if i < DUE else later,
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


def main() -> int:
    """Run the benchmark and print one line per size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="database URL (default: a SQLite file in a temp folder)")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="pending timer counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        db = Database(url, system_clock)
        desk = Desk(clock=lambda: NOW)
        sweeper = TimerSweeper(db, desk, {"bench": TimerEffect(_effect)}, batch=100)
        print(f"database: {db.engine.dialect.name}; {DUE} due per sweep")
        for size in (int(s) for s in args.sizes.split(",")):
            _fill(db, size)
            started = time.perf_counter()
            result = sweeper.sweep()
            elapsed = time.perf_counter() - started
            empty_started = time.perf_counter()
            sweeper.sweep()  # nothing due: the cost of an idle sweep
            idle = time.perf_counter() - empty_started
            print(
                f"pending {size:>9,}: sweep of {result.ran} due timers {elapsed:6.2f} s "
                f"({elapsed / max(result.ran, 1) * 1000:.2f} ms per timer), "
                f"idle sweep {idle * 1000:.1f} ms"
            )
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
