"""The Bot API client's gate (issue 15.4): requests beyond the connections wait in front of
httpx rather than in httpcore's queue (whose bookkeeping made sends costly; that is CPU, seen
in bench/versus.py, not asserted here). What the tests hold: the gate lets every request
through, never more at once than connections, releases its place after each (a leak would
hang the sends), and a wait longer than the pool timeout is PTB's TimedOut, which the outbox
retries. A real PTB Bot on the fake Bot API over loopback HTTP; no database."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot
from telegram.error import TimedOut

from bot.telegram.request import GatedRequest
from tests.fake_telegram import FakeTelegram


def _bot(fake: FakeTelegram, request: GatedRequest) -> Bot:
    return Bot("123456:GATE", base_url=fake.base_url, request=request)


async def test_no_more_requests_in_flight_than_connections() -> None:
    """Six sends at once through a gate of two: the fake never answers more than two at a
    time, and all six are delivered."""
    with FakeTelegram() as fake:
        fake.delay("sendMessage", 0.3)
        bot = _bot(fake, GatedRequest(2, pool_timeout=30.0))
        async with bot:
            most = 0

            async def watch() -> None:
                nonlocal most
                while True:
                    most = max(most, fake._answering)
                    await asyncio.sleep(0.01)

            watcher = asyncio.create_task(watch())
            await asyncio.gather(*(bot.send_message(42, f"m{i}") for i in range(6)))
            watcher.cancel()
        assert 1 <= most <= 2
        assert sorted(fake.messages_to(42)) == [f"m{i}" for i in range(6)]


async def test_a_wait_past_the_pool_timeout_is_timed_out() -> None:
    """With the one place taken by a slow send, the next send gives up after the pool
    timeout as TimedOut (a network error the outbox retries), and is not sent."""
    with FakeTelegram() as fake:
        fake.delay("sendMessage", 3.0)
        bot = _bot(fake, GatedRequest(1, pool_timeout=0.2))
        async with bot:
            slow = asyncio.create_task(bot.send_message(42, "slow"))
            await asyncio.sleep(0.1)
            with pytest.raises(TimedOut):
                await bot.send_message(42, "waited too long")
            await slow
        assert fake.messages_to(42) == ["slow"]
