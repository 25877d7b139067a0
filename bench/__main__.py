"""`python -m bench`: the desk's benchmarks in one run, one table and one JSON file (issue 15.5).

Runs, on SQLite in a temp folder (or a throw-away PostgreSQL with --postgres):
  versus   owners walking whole repairs against the real `propdesk run` and a bare PTB echo bot,
           one after the other under the same closed-loop load, limits off: updates/s, p50/p99
           per step, CPU per update, peak RSS, start-up, and the ratios propdesk/echo
           (bench/versus.py)
  turns    the real `propdesk run` process, limits off: updates/s, p50/p99, bot CPU per update,
           peak RSS, start-up to the first getUpdates (bench/turns.py)
  storm    owners' answers while the staff group is busy, Telegram's limits on (bench/storm.py)
  night    the storm night itself: owners at once walk whole repairs with a person's pauses,
           Telegram's limits on; answers p50/p99, order -> job card, the rates the fake saw
           (bench/storm_night.py)
  timers   a sweep of N due timers among many pending (bench/timers.py)
  reports  the monthly report and the daily digest over many orders (bench/monthly_report.py)
Each checks its own work (every owner answered, every due timer run exactly once, a report
with the month's orders) and the command exits 1 if any check fails. Figures, not verdicts:
no target is asserted.

    .venv/bin/python -m bench                      # the default size (minutes)
    .venv/bin/python -m bench --size smoke         # seconds: what the test runs
    .venv/bin/python -m bench --size full --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bench scripts import as modules

import monthly_report
import storm
import storm_night
import timers
import turns
import versus

SIZES: dict[str, dict[str, Any]] = {
    "smoke": {
        "versus": {"owners": 2},
        "turns": {"owners": 3, "rounds": 2},
        "storm": {"owners": 3, "rounds": 1, "cards": 3},
        "night": {"owners": 3, "think": (0.0, 0.0)},
        "timers": {"pending": [300], "due": 50},
        "reports": {"orders": [300]},
    },
    "default": {
        "versus": {"owners": 30},
        "turns": {"owners": 30, "rounds": 10},
        "storm": {"owners": 20, "rounds": 5, "cards": 40},
        "night": {"owners": 50, "think": (2.0, 6.0)},
        "timers": {"pending": [10_000], "due": 1000},
        "reports": {"orders": [10_000]},
    },
    "full": {
        "versus": {"owners": 200},
        "turns": {"owners": 200, "rounds": 5},
        "storm": {"owners": 200, "rounds": 5, "cards": 200},
        "night": {"owners": 200, "think": (4.0, 12.0)},
        "timers": {"pending": [10_000, 100_000, 1_000_000], "due": 1000},
        "reports": {"orders": [10_000, 100_000, 1_000_000]},
    },
}
ALL = ("versus", "turns", "storm", "night", "timers", "reports")


@contextmanager
def _database(folder: Path, name: str, postgres: Any) -> Iterator[str]:
    """A fresh database URL for one benchmark (a given URL: the same one, one after another)."""
    if postgres is None:
        yield f"sqlite:///{folder / name}.db"
    elif isinstance(postgres, str):
        yield postgres
    else:
        yield postgres.create_database(name)


def run(
    size: str, only: tuple[str, ...] = ALL, use_postgres: bool = False, url: str | None = None
) -> dict[str, Any]:
    """Run the chosen benchmarks at a size; the figures by benchmark, with "ok" for each."""
    plan = SIZES[size]
    postgres: Any = url
    database = url.split(":", 1)[0] if url else "postgresql" if use_postgres else "sqlite"
    out: dict[str, Any] = {"size": size, "database": database}
    if use_postgres and url is None:
        from tests.pgserver import ThrowawayPostgres

        postgres = ThrowawayPostgres()
        postgres.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            steps: dict[str, Callable[[], Any]] = {
                # a given URL is shared one after another; the run command would find the
                # update offset storm's fake has not reached: versus takes SQLite then
                "versus": lambda: _versus(
                    folder, None if isinstance(postgres, str) else postgres, plan["versus"]
                ),
                "turns": lambda: turns.run(**plan["turns"]),  # SQLite: the run command's own
                "storm": lambda: _storm(folder, postgres, plan["storm"]),
                "night": lambda: _night(
                    folder, None if isinstance(postgres, str) else postgres, plan["night"]
                ),
                "timers": lambda: _timers(folder, postgres, plan["timers"]),
                "reports": lambda: _reports(folder, postgres, plan["reports"]),
            }
            for name in only:
                started = time.perf_counter()
                figures = steps[name]()
                out[name] = {"figures": figures, "seconds": time.perf_counter() - started}
                out[name]["ok"] = all(
                    f.get("ok", True) if isinstance(f, dict) else True
                    for f in (figures if isinstance(figures, list) else [figures])
                )
                if name == "turns":
                    out[name]["ok"] = figures["answered"] == figures["updates"]
    finally:
        if postgres is not None and not isinstance(postgres, str):
            postgres.stop()
    out["ok"] = all(out[name]["ok"] for name in only)
    return out


def _versus(folder: Path, postgres: Any, plan: dict[str, Any]) -> dict[str, Any]:
    with _database(folder, "versus", postgres) as url:
        runs = folder / "versus"
        runs.mkdir(exist_ok=True)
        return versus.compare(plan["owners"], url, runs)


def _storm(folder: Path, postgres: Any, plan: dict[str, Any]) -> dict[str, Any]:
    with _database(folder, "storm", postgres) as url:
        return asyncio.run(storm.storm(url, timeout=120.0, **plan))


def _night(folder: Path, postgres: Any, plan: dict[str, Any]) -> dict[str, Any]:
    with _database(folder, "night", postgres) as url:
        runs = folder / "night"
        runs.mkdir(exist_ok=True)
        return storm_night.storm_night(plan["owners"], url, runs, plan["think"])


def _timers(folder: Path, postgres: Any, plan: dict[str, Any]) -> list[dict[str, Any]]:
    with _database(folder, "timers", postgres) as url:
        return timers.measure(url, plan["pending"], plan["due"])


def _reports(folder: Path, postgres: Any, plan: dict[str, Any]) -> list[dict[str, Any]]:
    figures = []
    for orders in plan["orders"]:
        with _database(folder, f"reports{orders}", postgres) as url:
            figures.append(monthly_report.run(url, orders, folder))
    return figures


def table(result: dict[str, Any]) -> str:
    """The figures as a plain-text table."""
    lines = [f"propdesk bench, size {result['size']}, {result['database']}", ""]
    v = result.get("versus")
    if v:
        f = v["figures"]
        lines.append(
            f"versus   {f['propdesk']['owners']} owners x {len(versus.INTAKE)} steps, limits off, "
            f"{f['database']}"
            f"  [{'ok' if v['ok'] else 'FAILED'}]"
        )
        lines.extend("  " + line for line in versus.table(f).splitlines())
    t = result.get("turns")
    if t:
        f = t["figures"]
        lines.append(
            f"turns    {f['owners']}x{f['rounds']}: {f['updates_per_s']:.1f} updates/s, "
            f"p50 {f['p50_s']:.2f} s, p99 {f['p99_s']:.2f} s, CPU {f['cpu_ms_per_update']:.1f} "
            f"ms/update, peak RSS {f['peak_rss_mib']:.0f} MiB, start-up {f['startup_s']:.2f} s"
            f"  [{'ok' if t['ok'] else 'FAILED'}]"
        )
    s = result.get("storm")
    if s:
        f = s["figures"]
        p99 = "-" if f["p99_s"] is None else f"{f['p99_s']:.2f} s"
        lines.append(
            f"storm    {f['owners']}x{f['rounds']} with {f['cards']} cards: answered "
            f"{f['answered']}, p99 {p99}, cards meanwhile {f['cards_meanwhile']}"
            f"  [{'ok' if s['ok'] else 'FAILED'}]"
        )
    n = result.get("night")
    if n:
        lines.append(f"night    [{'ok' if n['ok'] else 'FAILED'}]")
        lines.extend("  " + line for line in storm_night.table(n["figures"]).splitlines())
    for f in (result.get("timers") or {}).get("figures", []):
        lines.append(
            f"timers   {f['due']} due among {f['pending']:,}: sweep {f['sweep_s']:.2f} s "
            f"({f['ms_per_timer']:.2f} ms/timer), idle {f['idle_sweep_ms']:.1f} ms"
            f"  [{'ok' if f['ok'] else 'FAILED'}]"
        )
    for f in (result.get("reports") or {}).get("figures", []):
        lines.append(
            f"reports  {f['orders']:,} orders: monthly {f['monthly_s']:.2f} s, "
            f"daily digest {f['daily_s']:.2f} s  [{'ok' if f['ok'] else 'FAILED'}]"
        )
    lines.append("")
    lines.append("all self-checks hold" if result["ok"] else "A SELF-CHECK FAILED")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, print the table, write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="default")
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated: " + ", ".join(ALL))
    parser.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL")
    parser.add_argument("--url", help="one database URL for storm, timers and reports")
    parser.add_argument("--json", type=Path, default=Path("bench-result.json"))
    args = parser.parse_args(argv)
    only = tuple(name for name in args.only.split(",") if name)
    unknown = [name for name in only if name not in ALL]
    if unknown:
        parser.error(f"unknown benchmark: {', '.join(unknown)}")
    result = run(args.size, only, args.postgres, args.url)
    print(table(result))
    args.json.write_text(json.dumps(result, indent=2, default=str))
    print(f"figures written to {args.json}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
