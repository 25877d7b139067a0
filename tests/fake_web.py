"""Owners in the web chat for the shared transcript tests (channel "web"): the running test
bot also serves the web chat (as `propdesk run` does with PROPDESK_WEB_CHAT_SECRET), and a
`WebOwner` is a browser on it — a cookie jar, real HTTP posts, Server-Sent Events read back —
whose messages are shaped like Telegram's so the transcript helpers work unchanged."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bot.web import webhook_app
from bot.webchat.app import WebChat, web_chat_for
from bot.webchat.history import messages_after
from bot.webchat.session import COOKIE
from tests.fake_telegram import TgUser
from tests.harness import Bot, Owner, drain, settle

SECRET = "a-web-chat-secret-of-at-least-32-characters"
# a real 1x1 PNG: what a web owner's "photo" uploads
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000185d1e2a80000000049454e44ae426082"
)
_nonces = itertools.count(1)


def reserve_port() -> socket.socket:
    """A bound socket on 127.0.0.1: its port is the web chat's before the bot starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def web_settings(files: Path, sock: socket.socket) -> dict[str, object]:
    """Settings that switch the web chat on, its public page on the reserved port."""
    port = sock.getsockname()[1]
    return {
        "web_chat_secret": SECRET,
        "web_chat_files": str(files),
        "web_chat_secure_cookie": False,  # plain http in the tests
        "web_chat_url": f"http://127.0.0.1:{port}/web/chat",
    }


@dataclass
class WebSide:
    """The web chat of a running test bot, served on its reserved port."""

    webchat: WebChat
    server: uvicorn.Server
    task: asyncio.Task[None]
    base_url: str

    async def stop(self) -> None:
        """Stop serving and delivering (what is not delivered stays in the outbox)."""
        self.server.should_exit = True
        await self.task
        await self.webchat.stop()


async def start_web(bot: Bot, sock: socket.socket) -> WebSide:
    """Serve the bot's web chat on `sock`, wired as `propdesk run` wires it."""
    webchat = web_chat_for(bot.services)
    webchat.limits = None  # transcripts step faster than a person (the pace has its own test)
    webchat.also_notify.append(bot.desk.sender.notify)
    webchat.start()
    app = webhook_app(bot.desk, webchat=webchat)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    port = sock.getsockname()[1]
    return WebSide(webchat, server, task, f"http://127.0.0.1:{port}")


def telegram_shaped(event: dict[str, Any]) -> dict[str, Any]:
    """A web event as the transcript helpers read a Telegram message."""
    message: dict[str, Any] = {"message_id": event["id"], "text": event["text"]}
    if event["buttons"]:
        message["reply_markup"] = {
            "inline_keyboard": [
                [{"text": label, "callback_data": data} for label, data in row]
                for row in event["buttons"]
            ]
        }
    if event.get("ask_contact"):
        message["ask_contact"] = event["ask_contact"]
    if event["photo"]:
        message["photo"] = event["photo"]
    if event["edit"]:
        message["edit"] = True
    return message


@dataclass
class WebView:
    """What a web chat shows, message by message (edits appended, as Telegram records them):
    the delivered outbox rows a page catches up from (`bot.webchat.history`), read directly so
    a test can look without a request."""

    bot: Bot

    def sent(self, chat_id: object) -> list[dict[str, Any]]:
        """Every message delivered to the chat, oldest first."""
        with self.bot.services.db.unit_of_work() as uow:
            events = messages_after(uow.session, str(chat_id), None)
        return [telegram_shaped(e) for e in events]


@dataclass
class WebOwner(Owner):
    """`tests.harness.Owner` in the web chat: same calls, real HTTP with a session cookie."""

    client: httpx.AsyncClient | None = None
    cursor: str | None = None
    refused: httpx.Response | None = None  # the last request the web chat refused
    web_id: str | None = None  # a signed-in browser's (its cookie is a server-side session)

    @property
    def chat_id(self) -> str:  # type: ignore[override]
        """The web id the session cookie proves (a private chat is its person's id)."""
        if self.web_id is not None:
            return self.web_id
        assert self.client is not None
        token = self.client.cookies.get(COOKIE) or ""
        return token.rpartition(".")[0]

    @property
    def external_id(self) -> str:
        """The web identity's external id."""
        return self.chat_id

    @property
    def channel(self) -> str:
        """This owner's channel."""
        return "web"

    @property
    def view(self) -> WebView:
        """What this browser showed."""
        assert isinstance(self.fake, WebView)
        return self.fake

    def _headers(self) -> dict[str, str]:
        return {"X-Propdesk-Request": "1", "X-Propdesk-Language": self.user.language_code or ""}

    async def opened(self) -> httpx.AsyncClient:
        """The browser, after its first visit to the chat page (which gave it its cookie)."""
        assert self.client is not None
        if COOKIE not in self.client.cookies:
            language = self.user.language_code or ""
            page = await self.client.get("/web/chat", headers={"Accept-Language": language})
            assert page.status_code == 200, page.text
        return self.client

    async def _post(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        await self.opened()
        assert self.client is not None
        nonce = f"t{next(_nonces):010d}"
        response = await self.client.post(
            "/web/send", json={"chat": "me", "nonce": nonce, **body}, headers=self._headers()
        )
        return await self._answered(response, nonce)

    async def _answered(self, response: httpx.Response, nonce: str) -> list[dict[str, Any]]:
        """The desk's answers to a request; a refusal (409 for a button this chat was never
        shown, ...) is kept in `refused` and nothing is handled."""
        if response.status_code != 200:
            self.refused = response
            self.last = []
            return self.last
        await settle(self.bot, f"{self.chat_id}:{nonce}")
        return await self.replies()

    async def send(self, text: str) -> list[dict[str, Any]]:
        """Type a message."""
        return await self._post({"text": text})

    async def contact(self, phone: str) -> list[dict[str, Any]]:
        """The web has no verified contact: the owner types the number in the phone field."""
        return await self.send(phone)

    async def photo(self, file_id: str, album: str | None = None) -> list[dict[str, Any]]:
        """Upload a picture (a real PNG; the file id names nothing on the web)."""
        await self.opened()
        assert self.client is not None
        nonce = f"t{next(_nonces):010d}"
        response = await self.client.post(
            f"/web/photo?chat=me&nonce={nonce}",
            content=PNG,
            headers={**self._headers(), "Content-Type": "image/png"},
        )
        return await self._answered(response, nonce)

    async def press(self, label: str) -> list[dict[str, Any]]:
        """Press the newest button whose label contains `label`."""
        message, data = self.find_button(label)
        return await self.press_data(data, message)

    async def press_data(self, data: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Press a button of a message the page showed."""
        return await self._post({"button": data, "message": message["message_id"]})

    async def replies(self) -> list[dict[str, Any]]:
        """What reached the page since it last looked (the outbox drained first)."""
        await drain(self.bot)
        await self.opened()
        assert self.client is not None
        params = {"chat": "me"} | ({"since": self.cursor} if self.cursor else {})
        fresh: list[dict[str, Any]] = []
        async with self.client.stream(
            "GET", "/web/events", params=params, headers=self._headers()
        ) as response:
            assert response.status_code == 200, await response.aread()
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    fresh.append(json.loads(line[6:]))
                elif line.startswith(": caught up"):
                    break
        if fresh:
            self.cursor = fresh[-1]["cursor"]
        self.seen = len(self.view.sent(self.chat_id))
        self.last = [telegram_shaped(e) for e in fresh]
        return self.last


def web_owner(bot: Bot, user: TgUser) -> WebOwner:
    """A person about to open the bot's web chat for the first time (a new web account)."""
    side: WebSide = bot.web
    client = httpx.AsyncClient(base_url=side.base_url, timeout=30)
    side_clients.setdefault(id(bot), []).append(client)
    return WebOwner(WebView(bot), bot, user, client=client)


side_clients: dict[int, list[httpx.AsyncClient]] = {}


async def close_clients(bot: Bot) -> None:
    """Close the browsers opened on a bot."""
    for client in side_clients.pop(id(bot), []):
        await client.aclose()
