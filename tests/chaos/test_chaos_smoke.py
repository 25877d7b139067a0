"""Chaos at smoke size (issue 14): the real `propdesk run` on SQLite, owners walking a whole
repair intake while the bot's process group is killed with SIGKILL every 1-4 s (at least 5
kills), and a run with 20% 429 and 10% 502 from the fake Bot API. Nothing lost, no order twice,
no chat out of order, no card or timer twice; duplicated replies (a kill between a send and its
mark-sent) counted and bounded. Bigger runs: bench/chaos.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.run import Storage, compare, mountable, run, table

pytestmark = pytest.mark.chaos
OWNERS = 3


async def test_kills_and_a_flaky_bot_api_lose_nothing(tmp_path: Path) -> None:
    """Fault-free baseline, then kills, then 429/5xx: every run ends with every owner's order
    stored once and every expected message delivered in order."""

    def url(name: str) -> str:
        return f"sqlite:///{tmp_path / name}.db"

    baseline = await run("fault-free", url("base"), tmp_path, OWNERS)
    kills = await run(
        "kill -9 1-4s", url("kills"), tmp_path, OWNERS, kill_every=(1.0, 4.0), min_kills=5
    )
    flaky = await run(
        "429 20% 5xx 10%", url("flaky"), tmp_path, OWNERS, too_many=0.2, server_error=0.1
    )
    results = [baseline, kills, flaky]
    for result in results:
        compare(result, baseline)
    print("\n" + table(results))
    assert baseline.stuck == 0 and baseline.orders_ok == OWNERS and baseline.expected > 10
    assert kills.kills >= 5
    for result in results:
        assert result.stuck == 0, table(results)
        assert result.orders_ok == OWNERS, table(results)
        assert result.lost == 0 and result.reordered == 0, table(results)
        assert result.cards_extra == 0, table(results)
    assert flaky.duplicates == 0, table(results)  # a refused send is not a delivery
    assert kills.duplicates <= 2 * kills.kills, table(results)  # at-least-once, bounded


async def test_a_full_disk_loses_nothing(tmp_path: Path) -> None:
    """The database on its own small tmpfs, full for 8 s while owners walk the intake:
    afterwards everyone is answered, in order, once (issue 14.1). Needs permission to mount
    (root here; skipped elsewhere)."""
    if not mountable(tmp_path / "probe"):
        pytest.skip("cannot mount a tmpfs here")
    baseline = await run("fault-free", f"sqlite:///{tmp_path / 'base'}.db", tmp_path, OWNERS)
    storage = Storage(tmp_path / "disk", after=2.0, seconds=8.0)
    try:
        full = await run("disk full 8s", storage.url, tmp_path, OWNERS, storage=storage)
    finally:
        storage.close()
    results = [baseline, full]
    for result in results:
        compare(result, baseline)
    print("\n" + table(results))
    for result in results:
        assert result.stuck == 0, table(results)
        assert result.orders_ok == OWNERS, table(results)
        assert result.lost == 0 and result.reordered == 0, table(results)
        assert result.cards_extra == 0, table(results)
    # a reply sent while its mark-sent could not be written goes out again: at-least-once
    assert full.duplicates <= OWNERS, table(results)
