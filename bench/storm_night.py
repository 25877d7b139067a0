"""Storm night with Telegram's limits on (issue 15, its first target): N owners at once (200 by
default) each walk a whole repair intake against the real `propdesk run`, which paces itself
at Telegram's limits (1 message a second per private chat, 20 a minute per group, 30 a second
overall); every order's job card goes to the staff group.

Owners are people, not a closed loop: each reads and types for a few seconds before the next
step (`--think 4,12`: uniform, seconds; `--think 0,0` for a closed loop, which at 30 messages a
second overall must queue). Printed: steps answered, p50/p99/max of an owner's wait for the
answer, the order → job card time (p50/p99, the last card), group messages, and the highest
rates the fake saw (one private chat in any second, the group in any minute, all chats in any
second), which must stay within the limits.

Self-checks (exit 1 otherwise): every step answered; one order per owner; each owner chat got
exactly what the outbox marked sent; every order on a card in the group; the rates within the
limits (bursts included: a chat's bucket holds 3 tokens, the overall one 10).

    .venv/bin/python bench/storm_night.py                     # 200 owners, SQLite
    .venv/bin/python bench/storm_night.py --owners 200 --postgres
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH

from bench.versus import (
    ORDER_NUMBER,
    SENDS,
    STAFF_GROUP,
    Program,
    estate,
    measure,
    owners,
    prepare,
)
from bench.versus import _propdesk as closed_loop_propdesk

# Telegram's limits as the desk paces them (bot/outbox.py Limits), with each bucket's burst
PRIVATE_PER_SECOND, PRIVATE_BURST = 1.0, 3
GROUP_PER_MINUTE, GROUP_BURST = 20.0, 3
OVERALL_PER_SECOND, OVERALL_BURST = 30.0, 10


def _propdesk(url: str) -> Program:
    program = closed_loop_propdesk(url)
    program.env.update(
        {
            "PROPDESK_TELEGRAM_CHAT_PER_SECOND": str(PRIVATE_PER_SECOND),
            "PROPDESK_TELEGRAM_GROUP_PER_MINUTE": str(GROUP_PER_MINUTE),
            "PROPDESK_TELEGRAM_OVERALL_PER_SECOND": str(OVERALL_PER_SECOND),
        }
    )
    return program


def most_in_window(times: list[float], window: float) -> int:
    """The most calls in any `window` seconds."""
    times = sorted(times)
    return max(
        (bisect.bisect_right(times, t + window - 1e-9) - i for i, t in enumerate(times)), default=0
    )


def _quantiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], values[0]
    q = statistics.quantiles(values, n=100)
    return q[49], q[98]


def _cards(calls: list[Any]) -> dict[str, Any]:
    """When each order reached its owner ("R-… is submitted") and the staff group (its card)."""
    submitted: dict[str, float] = {}
    carded: dict[str, float] = {}
    group_messages = 0
    for call in calls:
        if call.method not in SENDS or call.failed:
            continue
        to_group = str(call.params.get("chat_id")) == str(STAFF_GROUP)
        group_messages += to_group and call.method != "editMessageText"
        for number in ORDER_NUMBER.findall(str(call.params.get("text", ""))):
            seen = carded if to_group else submitted
            seen.setdefault(number, call.at)
    waits = sorted(carded[n] - at for n, at in submitted.items() if n in carded)
    p50, p99 = _quantiles(waits)
    first = min(submitted.values(), default=0.0)
    return {
        "orders": len(submitted),
        "carded": sum(1 for n in submitted if n in carded),
        "group_messages": group_messages,
        "card_p50_s": p50,
        "card_p99_s": p99,
        "last_card_s": (max(carded.values()) - first) if carded else None,
    }


def _rates(calls: list[Any]) -> dict[str, int]:
    """The highest rates the fake saw, per the kind of limit."""
    sends = [c for c in calls if c.method in SENDS and not c.failed]
    by_chat: dict[str, list[float]] = {}
    for call in sends:
        by_chat.setdefault(str(call.params.get("chat_id")), []).append(call.at)
    group = by_chat.pop(str(STAFF_GROUP), [])
    return {
        "private_max_per_second": max(
            (most_in_window(t, 1.0) for t in by_chat.values()), default=0
        ),
        "private_max_per_10s": max((most_in_window(t, 10.0) for t in by_chat.values()), default=0),
        "group_max_per_minute": most_in_window(group, 60.0),
        "overall_max_per_second": most_in_window([c.at for c in sends], 1.0),
        "overall_max_per_5s": most_in_window([c.at for c in sends], 5.0),
    }


def _within(rates: dict[str, int]) -> bool:
    return (
        rates["private_max_per_second"] <= PRIVATE_BURST + PRIVATE_PER_SECOND
        and rates["private_max_per_10s"] <= PRIVATE_BURST + 10 * PRIVATE_PER_SECOND
        and rates["group_max_per_minute"] <= GROUP_BURST + GROUP_PER_MINUTE
        # over 5 s, not 1: the fake sees requests when they arrive, and on a busy machine
        # sends paced apart can arrive bunched (so can they at Telegram)
        and rates["overall_max_per_5s"] <= OVERALL_BURST + 5 * OVERALL_PER_SECOND
    )


def storm_night(
    count: int,
    database: str,
    folder: Path,
    think: tuple[float, float],
    timeout: float = 120.0,
    arrive: float = 0.0,
) -> dict[str, Any]:
    """Run the storm on `database` ("sqlite" or a URL); figures and self-checks."""
    units = estate(count, folder)
    people = owners(count, units)
    url = f"sqlite:///{folder / 'storm-night.db'}" if database == "sqlite" else database
    load = os.getloadavg()[0]
    prepare(url, units)
    program = _propdesk(url)
    began = time.monotonic()
    # the group's cards go at 20 a minute: wait for the last of them
    drain = 60 + 60 * count / GROUP_PER_MINUTE
    asyncio.run(measure(program, people, folder, timeout, think, drain, arrive=arrive))
    figures = dict(program.figures)
    figures.update(_cards(program.calls))
    rates = _rates(program.calls)
    figures.update(rates)
    figures.update(
        think=list(think),
        arrive_s=arrive,
        wall_s=time.monotonic() - began,
        database=url.split(":", 1)[0],
        load_before=load,
        load_after=os.getloadavg()[0],
        within_limits=_within(rates),
    )
    figures["ok"] = (
        figures["ok"]
        and figures["within_limits"]
        and figures["carded"] == figures["orders"] == count
    )
    return figures


def table(f: dict[str, Any]) -> str:
    """The figures, a few lines."""

    def s(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    return "\n".join(
        [
            f"{f['owners']} owners x {f['steps'] // f['owners']} steps, limits on, think "
            f"{f['think'][0]:g}-{f['think'][1]:g} s, first within {f['arrive_s']:g} s, "
            f"{f['database']}; load average "
            f"{f['load_before']:.1f} before, {f['load_after']:.1f} after; {f['wall_s']:.0f} s",
            f"  owners' answers: {f['answered']}/{f['steps']} steps, p50 {s(f['p50_s'])} s, "
            f"p99 {s(f['p99_s'])} s; CPU {f['cpu_ms_per_update']:.2f} ms/update, "
            f"RSS {f['peak_rss_mib']:.0f} MiB, start {f['startup_s']:.2f} s",
            f"  job cards: {f['carded']}/{f['orders']} orders on {f['group_messages']} group "
            f"messages; order -> card p50 {s(f['card_p50_s'])} s, p99 {s(f['card_p99_s'])} s, "
            f"last card {s(f['last_card_s'])} s after the first order",
            f"  highest rates: a private chat {f['private_max_per_second']}/s "
            f"({f['private_max_per_10s']}/10 s), the group {f['group_max_per_minute']}/min, "
            f"overall {f['overall_max_per_second']}/s ({f['overall_max_per_5s']}/5 s): "
            + ("within the limits" if f["within_limits"] else "OVER THE LIMITS"),
        ]
    )


def _think(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    return float(low), float(high or low)


def main() -> int:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--owners", type=int, default=200)
    parser.add_argument("--think", type=_think, default=(4.0, 12.0), help="seconds: low,high")
    parser.add_argument(
        "--arrive", type=float, default=0.0, help="first messages within this many seconds"
    )
    parser.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL")
    parser.add_argument("--timeout", type=float, default=120.0, help="per step, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            from tests.pgserver import ThrowawayPostgres

            server = ThrowawayPostgres()
            server.start()
            try:
                url = server.create_database("storm_night")
                result = storm_night(
                    args.owners, url, Path(tmp), args.think, args.timeout, args.arrive
                )
            finally:
                server.stop()
        else:
            result = storm_night(
                args.owners, "sqlite", Path(tmp), args.think, args.timeout, args.arrive
            )
    print(table(result))
    print("all self-checks hold" if result["ok"] else f"A SELF-CHECK FAILED: {result}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
