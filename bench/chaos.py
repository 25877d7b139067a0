"""Chaos by hand (issue 14): owners walk a whole repair intake, and two engineers race to claim
every card, against the real `propdesk run` under faults: its process group killed with
SIGKILL every 1-4 s; a fake Bot API answering 20% of sends with 429 and 10% with 502; two
webhook workers on one PostgreSQL, the second killed for good half way and the updates it did
not answer posted again to the first; PostgreSQL refusing writes for a while (read-only); the
SQLite database's disk full for a while (where a tmpfs may be mounted). Each run is compared
with a fault-free run of the same owners and the table printed (lost, duplicated, reordered,
orders, claims, cards, timers). tests/chaos runs the same at smoke size in CI.

    .venv/bin/python bench/chaos.py                       # 20 owners, >= 15 kills, SQLite
    .venv/bin/python bench/chaos.py --owners 60 --min-kills 30
    .venv/bin/python bench/chaos.py --postgres            # kills and 429/5xx on PostgreSQL too

The webhook pair and the read-only window always run on a throw-away PostgreSQL cluster
(skipped, with a note, where no PostgreSQL server binaries are installed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))

from tests.chaos.run import (
    ReadOnlyServer,
    Result,
    Storage,
    compare,
    mountable,
    run,
    table,
)
from tests.pgserver import ThrowawayPostgres, find_pg_bin


async def chaos(
    url: Callable[[str], str],
    postgres: Callable[[str], str] | None,
    folder: Path,
    args: argparse.Namespace,
) -> None:
    """The fault-free run, then each fault in turn; then the table."""
    owners, timeout = args.owners, args.timeout
    baseline = await run("fault-free", url("base"), folder, owners, step_timeout=timeout)
    results: list[Result] = [baseline]
    results.append(
        await run(
            "kill -9 1-4s",
            url("kills"),
            folder,
            owners,
            kill_every=(1.0, 4.0),
            min_kills=args.min_kills,
            step_timeout=timeout,
        )
    )
    results.append(
        await run(
            "429 20% 5xx 10%",
            url("flaky"),
            folder,
            owners,
            too_many=0.2,
            server_error=0.1,
            step_timeout=timeout,
        )
    )
    if postgres is not None:
        results.append(
            await run(
                "2 webhooks -1",
                postgres("pair"),
                folder,
                owners,
                webhook_workers=2,
                step_timeout=timeout,
            )
        )
        read_only = postgres("readonly")
        results.append(
            await run(
                f"read-only {args.window:.0f}s",
                read_only,
                folder,
                owners,
                storage=ReadOnlyServer(read_only, after=3.0, seconds=args.window),
                step_timeout=timeout,
            )
        )
    else:
        print("no PostgreSQL server binaries: the webhook pair and read-only runs are skipped")
    if mountable(folder / "probe"):
        storage = Storage(folder / "disk", after=3.0, seconds=args.window)
        try:
            results.append(
                await run(
                    f"disk full {args.window:.0f}s",
                    storage.url,
                    folder,
                    owners,
                    storage=storage,
                    step_timeout=timeout,
                )
            )
        finally:
            storage.close()
    else:
        print("cannot mount a tmpfs here: the disk-full run is skipped")
    for result in results:
        compare(result, baseline)
    print(table(results))
    print(f"bot logs: {folder}/*.log")


def main() -> int:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="kills and 429/5xx on PostgreSQL")
    parser.add_argument("--owners", type=int, default=20)
    parser.add_argument("--min-kills", type=int, default=15)
    parser.add_argument("--window", type=float, default=15.0, help="read-only / disk-full, s")
    parser.add_argument("--timeout", type=float, default=120.0, help="per step, seconds")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="propdesk-chaos-"))
    server = ThrowawayPostgres() if find_pg_bin() is not None else None
    if server is not None:
        server.start()
    try:
        postgres = server.create_database if server is not None else None
        if args.postgres and postgres is None:
            parser.error("--postgres: no PostgreSQL server binaries found")
        url = postgres if args.postgres and postgres is not None else None
        asyncio.run(
            chaos(url or (lambda name: f"sqlite:///{folder / name}.db"), postgres, folder, args)
        )
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
