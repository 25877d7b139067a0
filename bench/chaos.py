"""Chaos by hand (issue 14): owners walk a whole repair intake against the real `propdesk run`
while its process group is killed with SIGKILL every 1-4 s, and again against a fake Bot API
answering 20% of sends with 429 and 10% with 502; each run is compared with a fault-free run
of the same owners and the table printed (lost, duplicated, reordered, orders, cards, timers).
tests/chaos runs the same at smoke size in CI.

    .venv/bin/python bench/chaos.py                       # 20 owners, >= 15 kills, SQLite
    .venv/bin/python bench/chaos.py --owners 60 --min-kills 30
    .venv/bin/python bench/chaos.py --postgres            # a throw-away PostgreSQL cluster
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))

from tests.chaos.run import Result, compare, run, table


async def chaos(url: Callable[[str], str], folder: Path, args: argparse.Namespace) -> None:
    """The fault-free run, the kills and the flaky Bot API; then the table."""
    timeout = args.timeout
    baseline = await run("fault-free", url("base"), folder, args.owners, step_timeout=timeout)
    results: list[Result] = [baseline]
    results.append(
        await run(
            "kill -9 1-4s",
            url("kills"),
            folder,
            args.owners,
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
            args.owners,
            too_many=0.2,
            server_error=0.1,
            step_timeout=timeout,
        )
    )
    for result in results:
        compare(result, baseline)
    print(table(results))
    print(f"bot logs: {folder}/*.log")


def main() -> int:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL")
    parser.add_argument("--owners", type=int, default=20)
    parser.add_argument("--min-kills", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=120.0, help="per step, seconds")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="propdesk-chaos-"))
    if args.postgres:
        from tests.pgserver import ThrowawayPostgres

        server = ThrowawayPostgres()
        server.start()
        try:
            asyncio.run(chaos(server.create_database, folder, args))
        finally:
            server.stop()
        return 0
    asyncio.run(chaos(lambda name: f"sqlite:///{folder / name}.db", folder, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
