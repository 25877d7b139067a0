"""Owners in the browser, staff on Telegram (issue 12): with PROPDESK_WEB_CHAT_SECRET set,
`propdesk run` serves the web chat on its ASGI app. An owner registers in the web chat, a
Telegram agent approves, the owner files a repair from the browser, a Telegram engineer
claims the card in the Telegram group and the owner hears of it in the browser."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bot.web import webhook_app
from bot.webchat.app import web_chat_for
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, FakeClock, Owner, drain, seed_examples, start_bot
from tests.test_jobs import join
from tests.webchat_harness import PNG

SECRET = "a-web-chat-secret-of-at-least-32-characters"


@dataclass
class Browser:
    """A person's browser on the desk's web chat: a cookie jar and what the page showed."""

    bot: Bot
    client: httpx.AsyncClient
    seen: list[dict[str, Any]] = field(default_factory=list)
    last: str | None = None
    sent: int = 0

    async def post(self, body: dict[str, Any]) -> httpx.Response:
        """POST a message as the page does."""
        self.sent += 1
        body = {"chat": "me", "nonce": f"page-{self.sent:08d}", **body}
        return await self.client.post("/web/send", json=body, headers={"X-Propdesk-Request": "1"})

    async def send(self, text: str) -> list[dict[str, Any]]:
        """Type a message; the desk's answers."""
        assert (await self.post({"text": text})).status_code == 200
        return await self.replies()

    async def tap(self, action: str, arg: str = "") -> list[dict[str, Any]]:
        """Press the newest button for `action`/`arg`."""
        for event in reversed(self.seen):
            for row in event["buttons"]:
                for _, data in row:
                    if data.split("|")[1:3] == [action, arg]:
                        answer = await self.post({"button": data, "message": event["id"]})
                        assert answer.status_code == 200, answer.text
                        return await self.replies()
        raise AssertionError(f"no button {action}|{arg}: {[e['text'] for e in self.seen[-3:]]}")

    async def replies(self) -> list[dict[str, Any]]:
        """What arrived since the last look, once the outbox has drained."""
        await drain(self.bot)
        params = {"chat": "me"} | ({"since": self.last} if self.last else {})
        fresh = []
        async with self.client.stream("GET", "/web/events", params=params) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    fresh.append(json.loads(line[6:]))
                elif line.startswith(": caught up"):
                    break
        self.seen += fresh
        if fresh:
            self.last = fresh[-1]["cursor"]
        return fresh


@pytest.fixture
async def web(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[tuple[Bot, str]]:
    """The Telegram bot with the web chat on its ASGI app, as `propdesk run` wires them."""
    bot = await start_bot(
        fake_tg,
        db_url,
        clock,
        web_chat_secret=SECRET,
        web_chat_files=str(tmp_path / "files"),
        web_chat_secure_cookie=False,  # plain http in the test
    )
    seed_examples(bot.services)
    webchat = web_chat_for(bot.services)
    webchat.also_notify.append(bot.desk.sender.notify)
    webchat.start()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = webhook_app(bot.desk, webchat=webchat)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield bot, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await webchat.stop()
        await bot.stop()


async def test_a_web_owner_and_telegram_staff(fake_tg: FakeTelegram, web: tuple[Bot, str]) -> None:
    """R1, R6: registration approved on Telegram, a repair with a photo from the browser, the
    card and the claim on Telegram, the owner told in the browser; the engineer gets the
    owner's phone privately (a web photo is not sent to Telegram)."""
    bot, base_url = web
    agent_user = TgUser(4001, "Li", "zh-hans")
    await join(fake_tg, bot, agent_user, "agent", None)
    agent = Owner(fake_tg, bot, agent_user)
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as client:
        assert (await client.get("/web/events")).status_code == 401  # no cookie yet
        page = await client.get("/web/chat")
        assert page.status_code == 200 and "propdesk_web" in page.headers["set-cookie"]
        owner = Browser(bot, client)
        await owner.send("/start")
        await owner.send("张伟")
        await owner.send("3-2-1201")
        pending = await owner.send("13812345678")
        assert "需由工作人员核实" in pending[0]["text"]
        await agent.press("通过")
        assert any("3-2-1201" in e["text"] for e in await owner.replies())

        await owner.tap("repair")
        await owner.tap("where", "public")
        await owner.tap("cat", "electrical")
        await owner.send("楼道灯不亮了")
        uploaded = await client.post(
            "/web/photo?chat=me&nonce=photo-000001",
            content=PNG,
            headers={"X-Propdesk-Request": "1", "Content-Type": "image/png"},
        )
        assert uploaded.status_code == 200
        await owner.replies()
        await owner.tap("photos_done")
        await owner.tap("when", "now")
        await owner.tap("phone", "mine")
        done = await owner.tap("submit")
        assert "R-20261123-0001" in done[0]["text"]

        wang = await join(fake_tg, bot, TgUser(3101, "Wang", "en"), "engineer", "engineering")
        await wang.press("接单")
        await drain(bot)
        private = Owner(fake_tg, bot, TgUser(3101, "Wang", "en"))
        details = fake_tg.sent(private.chat_id)
        assert any("138 1234 5678" in (m.get("text") or "") for m in details)
        told = await owner.replies()
        assert any("Wang" in e["text"] and "R-20261123-0001" in e["text"] for e in told), told


def test_a_short_web_chat_secret_is_refused() -> None:
    """A guessable session key would let anyone sign in as anyone: under 32 characters, the
    setting is named and the desk does not start."""
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="PROPDESK_WEB_CHAT_SECRET"):
        load_settings(_env_file=None, web_chat_secret="too-short")
    assert load_settings(_env_file=None, web_chat_secret=SECRET).web_chat_enabled
    assert not load_settings(_env_file=None).web_chat_enabled


async def test_posting_and_new_accounts_are_paced(web: tuple[Bot, str]) -> None:
    """One person posting 30 messages at once: the first 20 are taken, the rest get a polite
    "wait a moment" (429) and are not stored; one address opens at most 10 new web accounts
    in a row."""
    from sqlalchemy import func, select

    from store.models import ProcessedUpdate

    bot, base_url = web

    def handled() -> int:
        with bot.services.db.unit_of_work() as uow:
            query = select(func.count()).select_from(ProcessedUpdate)
            return int(uow.session.scalar(query.where(ProcessedUpdate.channel == "web")) or 0)

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await client.get("/web/chat")
        owner = Browser(bot, client)
        answers = await asyncio.gather(*(owner.post({"text": "/help"}) for _ in range(30)))
    codes = sorted(a.status_code for a in answers)
    taken = codes.count(200)
    assert 20 <= taken < 30 and set(codes) == {200, 429}, codes
    refused = next(a for a in answers if a.status_code == 429)
    assert "稍等" in refused.json()["error"]
    assert handled() == taken

    opened = []
    for _ in range(10):  # the owner's first visit above was the first of ten
        async with httpx.AsyncClient(base_url=base_url) as stranger:
            opened.append(await stranger.get("/web/chat"))
    assert [a.status_code for a in opened[:9]] == [200] * 9
    assert opened[9].status_code == 429 and "set-cookie" not in opened[9].headers
