"""How fast the desk handles owner messages: the whole path minus the network.

Runs registration + a complete repair dialog for many owners through `handle_inbound`
(dedupe, conversation load, handler, outbox write, commit), with a given number of orders
already in the database, and prints messages per second and latency percentiles.

    .venv/bin/python bench/inbound.py                       # SQLite file in a temp folder
    .venv/bin/python bench/inbound.py --url postgresql+psycopg://...  --owners 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

from handlers.desk import Desk
from handlers.inbox import handle_inbound
from handlers.messages import Inbound
from store import migrate
from store.clock import system_clock
from store.db import Database
from store.models import Conversation, Unit
from store.price_list import import_prices
from store.units import import_units

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
ids = count(1)


def _inbound(user: int, **kw: object) -> Inbound:
    return Inbound(
        channel="bench",
        update_id=str(next(ids)),
        chat_id=str(user),
        chat_kind="private",
        user_id=str(user),
        language_hint="en",
        **kw,
    )  # type: ignore[arg-type]


def _press(db: Database, user: int, action: str, arg: str = "") -> Inbound:
    with db.unit_of_work() as uow:
        convo = uow.session.query(Conversation).filter_by(chat_id=str(user)).one()
        version = convo.version
    return _inbound(user, button=f"{version}|{action}|{arg}")


def _dialog(db: Database, user: int, unit: str) -> list[Inbound | tuple[str, str]]:
    return [
        _inbound(user, text="/start"),
        _inbound(user, text="Owner"),
        _inbound(user, text=unit),
        _inbound(user, text="13912345678"),
        _inbound(user, text="/repair"),
        ("where", "public"),
        ("cat", "plumbing"),
        _inbound(user, text="Water leaking under the sink"),
        ("photos_done", ""),
        ("when", "now"),
        _inbound(user, text="13912345678"),
        ("submit", ""),
    ]


def run(url: str, owners: int) -> None:
    """Drive `owners` complete dialogs and print the figures."""
    migrate.upgrade(url)
    db = Database(url, system_clock)
    with db.unit_of_work() as uow:
        import_units(uow.session, EXAMPLES / "units.csv")
        import_prices(uow.session, EXAMPLES / "prices.csv")
        uow.commit()
        units = [u.code for u in uow.session.query(Unit).all()]
    desk = Desk(clock=lambda: NOW)
    latencies: list[float] = []
    started = time.perf_counter()
    for n in range(owners):
        user = 100000 + n
        for step in _dialog(db, user, units[n % len(units)]):
            inbound = _press(db, user, *step) if isinstance(step, tuple) else step
            t0 = time.perf_counter()
            handle_inbound(db, desk, inbound)
            latencies.append(time.perf_counter() - t0)
        if (n + 1) % max(owners // 10, 1) == 0:
            print(f"  {n + 1}/{owners} owners", file=sys.stderr)
    total = time.perf_counter() - started
    latencies.sort()
    print(f"database: {db.engine.dialect.name}")
    print(f"messages: {len(latencies)} from {owners} owners ({owners} orders created)")
    print(f"throughput: {len(latencies) / total:.0f} messages/s (one worker, sequential)")
    print(
        f"latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms"
    )
    db.dispose()


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--owners", type=int, default=300)
    args = parser.parse_args()
    if args.url:
        run(args.url, args.owners)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", args.owners)


if __name__ == "__main__":
    main()
