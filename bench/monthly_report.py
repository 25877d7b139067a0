"""How long the monthly report (R51) and the daily digest (R52) take, and how much memory.

Fills a database with N orders spread over 12 months (with their events, bills, payments and
callbacks, by SQLAlchemy bulk inserts in chunks of 10,000), then writes the last month's
workbook in a fresh child process and prints its wall time, its CPU time (user + system), the
time it waited for a core (the kernel's run-queue delay, /proc/self/schedstat: on this shared
2-core machine that, not I/O, is most of the gap between wall and CPU), the rest (blocked: disk,
sleeps), and the child's peak RSS. With --trace a second run under tracemalloc gives the peak of
Python's allocations.

    .venv/bin/python bench/monthly_report.py                         # SQLite, 10^4 and 10^5
    .venv/bin/python bench/monthly_report.py --sizes 10000,100000,1000000
    .venv/bin/python bench/monthly_report.py --sizes 1000000 --reuse /tmp/reports  # fill once
    .venv/bin/python bench/monthly_report.py --db postgresql+psycopg://user@host/db
    .venv/bin/python bench/monthly_report.py --reuse /tmp/r --code /tmp/old --code .  # A/B
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
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


TABLES = ("callbacks", "payments", "bills", "order_events", "order_photos", "orders", "people")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _peak_rss_mib() -> float:
    """This process's peak RSS since it started its program (VmHWM: ru_maxrss would count the
    parent's RSS at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return _rss_mb()


def same_workbook(a: Path, b: Path) -> list[str]:
    """Where two workbooks differ, cell by cell: sheets, column widths, and each cell's value,
    type, number format and boldness (empty when they hold the same)."""
    from openpyxl import load_workbook

    one, two = load_workbook(a), load_workbook(b)
    found: list[str] = []
    if one.sheetnames != two.sheetnames:
        return [f"sheets {one.sheetnames} != {two.sheetnames}"]
    for name in one.sheetnames:
        x, y = one[name], two[name]
        widths = [{k: d.width for k, d in s.column_dimensions.items() if d.width} for s in (x, y)]
        if widths[0] != widths[1]:
            found.append(f"{name}: widths {widths[0]} != {widths[1]}")
        if (x.max_row, x.max_column) != (y.max_row, y.max_column):
            found.append(f"{name}: size {x.max_row}x{x.max_column} != {y.max_row}x{y.max_column}")
        for row_x, row_y in zip(x.iter_rows(), y.iter_rows(), strict=False):
            for c, d in zip(row_x, row_y, strict=True):
                # a blank cell: no value, whatever type its XML named (an empty text cell
                # reads back as None of type "inlineStr", an absent one as None of type "n")
                seen = [
                    (e.value, "" if e.value is None else e.data_type, e.number_format, e.font.b)
                    for e in (c, d)
                ]
                if seen[0] != seen[1]:
                    found.append(f"{name}!{c.coordinate}: {seen[0]} != {seen[1]}")
        if len(found) > 20:
            break
    return found


def _schedstat() -> tuple[float, float]:
    """Seconds this process ran on a core and waited in the run queue for one (Linux)."""
    try:
        ran, waited, _ = Path("/proc/self/schedstat").read_text().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(ran) / 1e9, int(waited) / 1e9


def _io_bytes() -> tuple[int, int]:
    """Bytes this process read from and wrote to storage (Linux /proc/self/io)."""
    try:
        fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
        return int(fields["read_bytes"]), int(fields["write_bytes"])
    except (OSError, KeyError, ValueError):
        return 0, 0


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


def _orders_in(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM orders")).scalar_one())


def _empty(db: Database) -> None:
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)}, units RESTART IDENTITY CASCADE"))
        else:
            for table in (*TABLES, "units"):
                conn.execute(text(f"DELETE FROM {table}"))


def report_once(url: str, xlsx: Path, trace: bool = False) -> dict[str, Any]:
    """Write the month's workbook from `url` to `xlsx` in this process; its costs as a dict."""
    db = Database(url, system_clock)
    try:
        rss_before = _peak_rss_mib()
        ran0, waited0 = _schedstat()
        read0, written0 = _io_bytes()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)

        def monthly() -> Any:
            # on a read-only snapshot, as the bot's sweeper and `propdesk report` write it
            with db.read_only() as session, xlsx.open("wb") as out:
                return write_monthly_workbook(session, MONTH, TZ, "zh", out, now=NOW)

        seconds, _, summary = _measure(monthly, trace=False)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        ran, waited = _schedstat()
        read, written = _io_bytes()
        cpu = (usage.ru_utime - usage0.ru_utime) + (usage.ru_stime - usage0.ru_stime)
        out: dict[str, Any] = {
            "wall_s": seconds,
            "cpu_s": cpu,
            "user_s": usage.ru_utime - usage0.ru_utime,
            "system_s": usage.ru_stime - usage0.ru_stime,
            "runqueue_wait_s": waited - waited0,
            "blocked_s": max(0.0, seconds - (ran - ran0) - (waited - waited0)),
            "voluntary_switches": usage.ru_nvcsw - usage0.ru_nvcsw,
            "involuntary_switches": usage.ru_nivcsw - usage0.ru_nivcsw,
            "read_mib": (read - read0) / 2**20,
            "written_mib": (written - written0) / 2**20,
            "rss_before_mib": rss_before,
            "peak_rss_mib": _peak_rss_mib(),
            "xlsx_mib": xlsx.stat().st_size / 2**20,
            "orders_in_month": summary.orders,
            "fee_rows": summary.fee_rows,
            "arrears_rows": summary.arrears_rows,
            "callback_rows": summary.callback_rows,
        }
        if trace:
            traced_seconds, peak, _ = _measure(monthly, trace=True)
            out["traced_s"], out["tracemalloc_peak_mib"] = traced_seconds, peak / 2**20
        return out
    finally:
        db.dispose()


def report_in_child(
    url: str, xlsx: Path, trace: bool = False, code: Path | None = None
) -> dict[str, Any]:
    """`report_once` in a fresh interpreter (its own peak RSS); `code`: a source tree to run
    instead of the installed one, for A/B pairs against another version."""
    env = dict(os.environ)
    if code is not None and "@" in str(code):  # PATH@NAME=VALUE,...: that tree with settings
        where, _, settings = str(code).partition("@")
        env.update(item.split("=", 1) for item in settings.split(",") if "=" in item)
        code = Path(where)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(code.resolve()), env.get("PYTHONPATH", "")) if p
        )
    args = [sys.executable, str(Path(__file__).resolve()), "--child", url, str(xlsx)]
    done = subprocess.run(
        [*args, *(["--trace"] if trace else [])],
        env=env,
        cwd=str(code.resolve()) if code else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"report child failed:\n{done.stderr[-3000:]}")
    return cast(dict[str, Any], json.loads(done.stdout.strip().splitlines()[-1]))


def run(
    url: str,
    size: int,
    workdir: Path,
    *,
    reuse: bool = False,
    trace: bool = True,
    codes: tuple[Path | None, ...] = (None,),
    rounds: int = 1,
    compare: bool = False,
) -> dict[str, Any]:
    """Fill a database with `size` orders (kept as it is when `reuse` and it holds exactly that
    many), time the reports and return the figures. With several `codes` (source trees), the
    report is written by each in turn, `rounds` times: A/B pairs under the same load; with
    `compare` their workbooks are compared cell by cell."""
    migrate.upgrade(url)
    db = Database(url, system_clock)
    try:
        t0 = time.perf_counter()
        held = _orders_in(db) if reuse else -1
        if held == size:
            print(f"\n== {size:,} orders on {db.engine.dialect.name}: reused")
        else:
            if held != 0:
                _empty(db)
            counts = fill(db, size)
            if db.engine.dialect.name == "postgresql":
                with db.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            rows = ", ".join(f"{k} {v:,}" for k, v in counts.items())
            print(
                f"\n== {size:,} orders on {db.engine.dialect.name}: "
                f"filled in {time.perf_counter() - t0:.1f} s ({rows})"
            )
        first: dict[str, Any] = {}
        books = [workdir / f"report-{size}-{number}.xlsx" for number in range(len(codes))]
        for round_ in range(rounds):
            for number, code in enumerate(codes):
                f = report_in_child(url, books[number], trace=trace and round_ == 0, code=code)
                first = first or f
                load = " ".join(f"{x:.2f}" for x in os.getloadavg())
                name = f" [{code}]" if len(codes) > 1 else ""
                print(
                    f"monthly report {MONTH}{name}: wall {f['wall_s']:.2f} s, CPU "
                    f"{f['cpu_s']:.2f} s (user {f['user_s']:.2f}, system {f['system_s']:.2f}), "
                    f"waited for a core {f['runqueue_wait_s']:.2f} s, blocked "
                    f"{f['blocked_s']:.2f} s; peak RSS {f['peak_rss_mib']:.0f} MiB (after "
                    f"imports {f['rss_before_mib']:.0f}); read {f['read_mib']:.0f} MiB, wrote "
                    f"{f['written_mib']:.0f} MiB; xlsx {f['xlsx_mib']:.1f} MiB; load {load}"
                )
                if "traced_s" in f:
                    print(
                        f"  under tracemalloc {f['traced_s']:.2f} s, "
                        f"peak {f['tracemalloc_peak_mib']:.1f} MiB"
                    )
                if round_ == 0 and number == 0:
                    print(
                        f"  {f['orders_in_month']:,} orders in the month, fee detail "
                        f"{f['fee_rows']:,} rows, arrears {f['arrears_rows']:,} rows, "
                        f"callbacks {f['callback_rows']:,} rows"
                    )
                sys.stdout.flush()

        if compare and len(codes) > 1:
            for number in range(1, len(codes)):
                differences = same_workbook(books[0], books[number])
                print(
                    f"  workbooks of {codes[0]} and {codes[number]}: "
                    + ("the same, cell by cell" if not differences else "DIFFER")
                )
                for line in differences[:20]:
                    print(f"    {line}")
                first["ok_same"] = first.get("ok_same", True) and not differences

        def daily() -> Any:
            with db.unit_of_work() as uow:
                return daily_digest(uow.session, date(2026, 11, 20), TZ, "zh", now=NOW)

        seconds, _, (_, png) = _measure(daily, trace=False)
        line = f"daily digest (figures + text + chart): {seconds:.2f} s"
        if trace:
            traced_seconds, peak, _ = _measure(daily, trace=True)
            line += f" ({traced_seconds:.2f} s under tracemalloc), peak {peak / 2**20:.1f} MiB"
        print(f"{line}, chart {len(png) / 1024:.0f} KiB")
        return {
            "orders": size,
            "monthly_s": first["wall_s"],
            "monthly_cpu_s": first["cpu_s"],
            "monthly_peak_rss_mib": first["peak_rss_mib"],
            "orders_in_month": first["orders_in_month"],
            "daily_s": seconds,
            "ok": first["orders_in_month"] > 0
            and first["xlsx_mib"] > 0
            and png[:4] == b"\x89PNG"
            and first.get("ok_same", True),
        }
    finally:
        db.dispose()


def main() -> None:
    """Parse arguments and run each size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated order counts")
    parser.add_argument("--db", default="sqlite", help="sqlite (a temp file) or a database URL")
    parser.add_argument(
        "--reuse",
        metavar="DIR",
        help="keep the SQLite files in DIR (a URL given by --db is kept too) and fill only "
        "when a database does not hold exactly the size's orders",
    )
    parser.add_argument("--trace", action="store_true", help="a second run under tracemalloc")
    parser.add_argument(
        "--code",
        action="append",
        type=Path,
        help="a source tree to write the report with, PATH or PATH@NAME=VALUE,... for settings "
        "(e.g. OPENPYXL_LXML=False); repeat for A/B pairs (default: this tree)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="times each --code writes it")
    parser.add_argument(
        "--compare", action="store_true", help="compare the --code trees' workbooks cell by cell"
    )
    parser.add_argument("--child", nargs=2, metavar=("URL", "XLSX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(report_once(args.child[0], Path(args.child[1]), trace=args.trace)))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    codes = tuple(args.code or [None])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.reuse) if args.reuse else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            url = f"sqlite:///{folder}/bench-{size}.db" if args.db == "sqlite" else args.db
            run(
                url,
                size,
                Path(tmp),
                reuse=bool(args.reuse),
                trace=args.trace,
                codes=codes,
                rounds=args.rounds,
                compare=args.compare,
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
