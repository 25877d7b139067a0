"""The Bot API client (issue 15.4): PTB's requests over aiohttp (bot.telegram.request). What
the tests hold: every request gets through, never more at once than connections; a wait for a
connection longer than the pool timeout, or an answer later than the read timeout, is PTB's
TimedOut and a refused connection its NetworkError (both retried by the outbox); PTB's own
status handling still applies (a 429 is RetryAfter); an upload goes as multipart with its
name and bytes. Its CPU is seen in bench/versus.py, not asserted here. A real PTB Bot on the
fake Bot API over loopback HTTP; no database."""

from __future__ import annotations

import asyncio
import socket

import pytest
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut

from bot.telegram.request import AiohttpRequest
from tests.fake_telegram import FakeTelegram, UploadedFile


def _bot(base_url: str, request: AiohttpRequest) -> Bot:
    return Bot("123456:GATE", base_url=base_url, request=request)


async def test_no_more_requests_in_flight_than_connections() -> None:
    """Six sends at once over two connections: the fake never answers more than two at a
    time, and all six are delivered."""
    with FakeTelegram() as fake:
        fake.delay("sendMessage", 0.3)
        bot = _bot(fake.base_url, AiohttpRequest(2, pool_timeout=30.0))
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
    """With the one connection taken by a slow send, the next send gives up after the pool
    timeout as TimedOut (a network error the outbox retries), and is not sent."""
    with FakeTelegram() as fake:
        fake.delay("sendMessage", 3.0)
        bot = _bot(fake.base_url, AiohttpRequest(1, pool_timeout=0.2))
        async with bot:
            slow = asyncio.create_task(bot.send_message(42, "slow"))
            await asyncio.sleep(0.1)
            with pytest.raises(TimedOut):
                await bot.send_message(42, "waited too long")
            await slow
        assert fake.messages_to(42) == ["slow"]


async def test_an_answer_past_the_read_timeout_is_timed_out() -> None:
    """A Bot API that answers later than the read timeout: TimedOut, then the next call on
    the same client works."""
    with FakeTelegram() as fake:
        fake.delay("sendMessage", 1.0)
        bot = _bot(fake.base_url, AiohttpRequest(2, read_timeout=0.2))
        async with bot:
            with pytest.raises(TimedOut):
                await bot.send_message(42, "late")
            fake.delay("sendMessage", 0)
            await bot.send_message(42, "on time")
        assert "on time" in fake.messages_to(42)


async def test_a_refused_connection_is_a_network_error() -> None:
    """Nothing listens at the address: NetworkError, which the outbox retries later."""
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bot = _bot(f"http://127.0.0.1:{port}/bot", AiohttpRequest(1))
    await bot.request.initialize()
    try:
        with pytest.raises(NetworkError):
            await bot.send_message(42, "nobody there")
    finally:
        await bot.request.shutdown()


async def test_status_handling_and_uploads_as_ptb_does_them() -> None:
    """A 429 is PTB's RetryAfter with its wait; a document goes as multipart, with its file
    name (Chinese too) and bytes, and the other fields beside it."""
    with FakeTelegram() as fake:
        bot = _bot(fake.base_url, AiohttpRequest(2))
        async with bot:
            fake.fail_next("sendMessage", 429, retry_after=7)
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(42, "too fast")
            assert "7" in str(caught.value)
            data = bytes(range(256)) * 40
            await bot.send_document(42, data, filename="月报 2026-11.xlsx", caption="报表")
        upload = fake.calls_of("sendDocument", include_failed=False)[0].params
        document = upload["document"]
        assert isinstance(document, UploadedFile)
        assert (document.filename, document.data) == ("月报 2026-11.xlsx", data)
        assert upload["caption"] == "报表" and str(upload["chat_id"]) == "42"


async def test_the_proxy_in_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where Telegram is blocked the desk reaches it through the proxy named in the environment
    (HTTP_PROXY / HTTPS_PROXY, as PTB's httpx client honoured them): a Bot API host that does
    not resolve is reached through the proxy, here the fake answering as a forward proxy."""
    with FakeTelegram() as fake:
        for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{fake.port}")
        bot = _bot("http://api.telegram.invalid/bot", AiohttpRequest(2))
        async with bot:
            await bot.send_message(42, "through the proxy")
        assert fake.messages_to(42) == ["through the proxy"]
