"""How long the monthly report (R51) and the daily digest (R52) take, and how much memory.

Fills a database with N orders spread over 12 months (with their events, bills, payments and
callbacks, by SQLAlchemy bulk inserts in chunks of 10,000), then writes the last month's
workbook and prints the time, the tracemalloc peak and the process's peak RSS.

    .venv/bin/python bench/monthly_report.py                         # SQLite, 10^4 and 10^5
    .venv/bin/python bench/monthly_report.py --sizes 10000,100000,1000000
    .venv/bin/python bench/monthly_report.py --db postgresql+psycopg://user@host/db
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, text
from sqlalchemy.orm import Session

from scheduler.digest import daily_digest
from scheduler.monthly_report import write_monthly_workbook
from store import migrate
from store.clock import system_clock
from store.db import Database
from store.models import Base, Bill, Callback, Order, OrderEvent, Payment, Person, Unit
from store.price_list import CATEGORIES, is_service

TZ = ZoneInfo("Asia/Shanghai")
MONTH = "2026-11"
FIRST = datetime(2025, 12, 1, tzinfo=TZ)  # 12 months up to the end of November 2026
SPAN = (datetime(2026, 12, 1, tzinfo=TZ) - FIRST).total_seconds()
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
CHUNK = 10_000
UNITS, OWNERS, ENGINEERS = 2_000, 2_000, 40
METHODS = ("cash", "wechat", "alipay", "bank")
RATINGS = ("satisfied", "satisfied", "satisfied", "average", "unsatisfied")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class _Batches:
    """Rows per table, flushed by bulk INSERT every CHUNK rows."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.rows: dict[type[Base], list[dict[str, Any]]] = {}
        self.counts: dict[str, int] = {}

    def add(self, model: type[Base], row: dict[str, Any]) -> None:
        rows = self.rows.setdefault(model, [])
        rows.append(row)
        if len(rows) >= CHUNK:
            self.flush_all()

    def flush(self, model: type[Base]) -> None:
        rows = self.rows.get(model)
        if rows:
            self.session.execute(insert(cast(Table, model.__table__)), rows)
            name = model.__name__
            self.counts[name] = self.counts.get(name, 0) + len(rows)
            rows.clear()

    def flush_all(self) -> None:
        # parents before children, for the foreign keys
        for model in (Unit, Person, Order, OrderEvent, Bill, Payment, Callback):
            self.flush(model)


def _event(order_id: int, at: datetime, actor: int, action: str, **kw: Any) -> dict[str, Any]:
    row = {
        "order_id": order_id,
        "at": at,
        "actor_id": actor,
        "action": action,
        "from_status": None,
        "to_status": None,
        "amount_fen": None,
        "note": None,
    }
    row.update(kw)
    return row


def _orders(size: int, rng: random.Random) -> Iterator[tuple[int, datetime, str]]:
    for order_id in range(1, size + 1):
        created = FIRST + timedelta(seconds=rng.random() * SPAN)
        yield order_id, created.astimezone(UTC), rng.choice(CATEGORIES)


def fill(db: Database, size: int, seed: int = 7) -> dict[str, int]:
    """Insert `size` orders over 12 months with their history, bills and callbacks."""
    rng = random.Random(seed)
    with db.unit_of_work() as uow:
        b = _Batches(uow.session)
        for i in range(1, UNITS + 1):
            b.add(
                Unit,
                {
                    "id": i,
                    "code": f"{i // 200 + 1}-{i % 4 + 1}-{i:04d}",
                    "building": str(i // 200 + 1),
                    "entrance": str(i % 4 + 1),
                    "room": f"{i:04d}",
                    "owner_name": f"Owner {i}",
                    "phones": "",
                },
            )
        b.flush_all()
        for i in range(1, OWNERS + ENGINEERS + 2):
            is_owner = i <= OWNERS
            b.add(
                Person,
                {
                    "id": i,
                    "name": f"Owner {i}" if is_owner else f"Engineer {i}",
                    "phone": f"+86139{i:08d}",
                    "unit_id": i if is_owner else None,
                    "owner_status": "verified" if is_owner else None,
                    "language": "zh",
                    "created_at": FIRST,
                },
            )
        b.flush_all()
        agent = OWNERS + ENGINEERS + 1
        bill_id = callback_id = 0
        for order_id, created, category in _orders(size, rng):
            owner = rng.randint(1, OWNERS)
            engineer = OWNERS + rng.randint(1, ENGINEERS)
            roll = rng.random()
            status = (
                "submitted"
                if roll < 0.03
                else "claimed"
                if roll < 0.06
                else "cancelled"
                if roll < 0.1
                else "done"
                if roll < 0.15
                else "accepted"
            )
            urgent = rng.random() < 0.2
            claimed = status not in ("submitted", "cancelled")
            claim_at = created + timedelta(minutes=rng.uniform(2, 90))
            b.add(
                Order,
                {
                    "id": order_id,
                    "number": f"R-{order_id:08d}",
                    "kind": "repair",
                    "owner_id": owner,
                    "unit_id": owner,
                    "location": "home",
                    "category": category,
                    "description": f"{category} job {order_id}",
                    "contact_phone": "+8613900000000",
                    "urgent": urgent,
                    "visit_start": None,
                    "visit_end": None,
                    "price_item_id": None,
                    "quote_kind": "on_site",
                    "quoted_fen": None,
                    "status": status,
                    "department": "engineering",
                    "created_at": created,
                    "assignee_id": engineer if claimed else None,
                    "claimed_at": claim_at if claimed else None,
                    "version": 3,
                    "rating": None,
                },
            )
            b.add(OrderEvent, _event(order_id, created, owner, "submitted"))
            if status == "cancelled":
                b.add(OrderEvent, _event(order_id, created + timedelta(hours=1), owner, "cancel"))
                continue
            if not claimed:
                continue
            b.add(OrderEvent, _event(order_id, claim_at, engineer, "claim"))
            if status == "claimed":
                continue
            arrive = claim_at + timedelta(minutes=rng.uniform(5, 60))
            done = arrive + timedelta(minutes=rng.uniform(20, 180))
            b.add(OrderEvent, _event(order_id, arrive, engineer, "arrive"))
            b.add(OrderEvent, _event(order_id, done, engineer, "complete"))
            if status == "accepted" and rng.random() < 0.6:
                b.add(
                    OrderEvent,
                    _event(
                        order_id, done + timedelta(hours=2), owner, "rate", note=rng.choice(RATINGS)
                    ),
                )
            if rng.random() < 0.4:
                bill_id += 1
                amount = rng.randint(10, 300) * 100
                paid = rng.random() < 0.8
                b.add(
                    Bill,
                    {
                        "id": bill_id,
                        "order_id": order_id,
                        "owner_id": owner,
                        "amount_fen": amount,
                        "paid_fen": amount if paid else 0,
                        "status": "paid" if paid else "unpaid",
                        "created_at": done,
                        "paid_at": done if paid else None,
                        "reminders_sent": 0 if paid else rng.randint(0, 3),
                        "follow_up_since": None,
                    },
                )
                if paid:
                    b.add(
                        Payment,
                        {
                            "bill_id": bill_id,
                            "amount_fen": amount,
                            "method": rng.choice(METHODS),
                            "recorded_by_id": engineer,
                            "at": done,
                        },
                    )
            if rng.random() < (0.35 if is_service(category) else 0.9):
                callback_id += 1
                answered = rng.random() < 0.85
                survey = rng.random() < 0.7
                b.add(
                    Callback,
                    {
                        "id": callback_id,
                        "order_id": order_id,
                        "reason": "sample" if is_service(category) else "routine",
                        "method": "survey" if survey else "call",
                        "status": ("answered" if survey else "done")
                        if answered
                        else ("asked" if survey else "open"),
                        "result": rng.choice(RATINGS) if answered else None,
                        "comment": None,
                        "handled_by_id": None if survey else agent,
                        "created_at": done,
                        "asked_at": done,
                        "taken_at": None,
                        "done_at": done + timedelta(hours=5) if answered else None,
                        "version": 0,
                    },
                )
        b.flush_all()
        uow.commit()
        return b.counts


def _measure(work: Callable[[], Any], trace: bool) -> tuple[float, int, Any]:
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - started
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return elapsed, peak, result


def run(url: str, size: int, workdir: Path) -> dict[str, Any]:
    """Fill a fresh database with `size` orders, time the reports and return the figures."""
    migrate.upgrade(url)
    db = Database(url, system_clock)
    try:
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(
                    text(
                        "TRUNCATE callbacks, payments, bills, order_events, order_photos, orders,"
                        " people, units RESTART IDENTITY CASCADE"
                    )
                )
        t0 = time.perf_counter()
        counts = fill(db, size)
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        rows = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        print(
            f"\n== {size:,} orders on {db.engine.dialect.name}: "
            f"filled in {time.perf_counter() - t0:.1f} s ({rows})"
        )
        xlsx = workdir / f"report-{size}.xlsx"

        def monthly() -> Any:
            with db.unit_of_work() as uow, xlsx.open("wb") as out:
                return write_monthly_workbook(uow.session, MONTH, TZ, "zh", out, now=NOW)

        def daily() -> Any:
            with db.unit_of_work() as uow:
                return daily_digest(uow.session, date(2026, 11, 20), TZ, "zh", now=NOW)

        rss_before = _rss_mb()
        seconds, _, summary = _measure(monthly, trace=False)
        monthly_seconds = seconds
        rss_after = _rss_mb()
        traced_seconds, peak, _ = _measure(monthly, trace=True)
        print(
            f"monthly report {MONTH}: {seconds:.2f} s ({traced_seconds:.2f} s under tracemalloc); "
            f"tracemalloc peak {peak / 2**20:.1f} MiB; ru_maxrss {rss_before:.0f} -> "
            f"{rss_after:.0f} MiB; xlsx {xlsx.stat().st_size / 2**20:.1f} MiB"
        )
        print(
            f"  {summary.orders:,} orders in the month, fee detail {summary.fee_rows:,} rows, "
            f"arrears {summary.arrears_rows:,} rows, callbacks {summary.callback_rows:,} rows"
        )
        seconds, _, (_, png) = _measure(daily, trace=False)
        traced_seconds, peak, _ = _measure(daily, trace=True)
        print(
            f"daily digest (figures + text + chart): {seconds:.2f} s ({traced_seconds:.2f} s "
            f"under tracemalloc), peak {peak / 2**20:.1f} MiB, chart {len(png) / 1024:.0f} KiB"
        )
        return {
            "orders": size,
            "monthly_s": monthly_seconds,
            "orders_in_month": summary.orders,
            "daily_s": seconds,
            "ok": summary.orders > 0 and xlsx.stat().st_size > 0 and png[:4] == b"\x89PNG",
        }
    finally:
        db.dispose()


def main() -> None:
    """Parse arguments and run each size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated order counts")
    parser.add_argument("--db", default="sqlite", help="sqlite (a temp file) or a database URL")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            url = f"sqlite:///{tmp}/bench-{size}.db" if args.db == "sqlite" else args.db
            run(url, size, Path(tmp))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
