"""Webhook mode: PTB with updater(None) behind our ASGI app, checking the secret token."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from bot.web import webhook_app
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, FakeClock, Owner, seed_examples, settle, start_bot

SECRET = "s3cret-Token_1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def hooked(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> AsyncIterator[tuple[Bot, str]]:
    """A bot in webhook mode served by uvicorn on 127.0.0.1."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    bot = await start_bot(fake_tg, db_url, clock, webhook_url=url, webhook_secret=SECRET)
    seed_examples(bot.services)
    server = uvicorn.Server(
        uvicorn.Config(webhook_app(bot.desk), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield bot, url
    finally:
        server.should_exit = True
        await task
        await bot.stop()


async def test_webhook_registers_and_answers(
    fake_tg: FakeTelegram, hooked: tuple[Bot, str]
) -> None:
    """setWebhook carries our URL and secret; a posted update is answered through the outbox."""
    bot, url = hooked
    set_calls = fake_tg.calls_of("setWebhook")
    assert set_calls and set_calls[-1].params["url"] == url
    assert set_calls[-1].params["secret_token"] == SECRET
    assert not fake_tg.calls_of("getUpdates")
    owner = Owner(fake_tg, bot, TgUser(id=7001, first_name="Web", language_code="en"))
    update = fake_tg.user_text(owner.user, "/start")
    status = await asyncio.to_thread(fake_tg.post_update_to, url, update, SECRET)
    assert status == 200
    await settle(bot, str(update["update_id"]))
    assert any("name" in t for t in fake_tg.messages_to(7001))


async def test_webhook_refuses_wrong_secret_and_bad_bodies(
    fake_tg: FakeTelegram, hooked: tuple[Bot, str]
) -> None:
    """Wrong or missing secret → 403, malformed JSON → 400; nothing is handled."""
    _bot, url = hooked
    owner = TgUser(id=7002, first_name="Mallory", language_code="en")
    update = fake_tg.user_text(owner, "/start")
    assert await asyncio.to_thread(fake_tg.post_update_to, url, update, "wrong") == 403
    assert await asyncio.to_thread(fake_tg.post_update_to, url, update, None) == 403
    async with httpx.AsyncClient() as client:
        bad = await client.post(
            url, content=b"{not json", headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert bad.status_code == 400
        health = await client.get(url.replace("/telegram", "/healthz"))
        assert health.status_code == 200
    await asyncio.sleep(0.3)
    assert fake_tg.messages_to(7002) == []
