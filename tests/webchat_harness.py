"""Drive the web chat over real HTTP: the sandbox's ASGI app under uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func, select

from bot.webchat.sandbox import GROUP, PEOPLE, OffsetClock, Sandbox, sandbox_settings
from store.models import OutboxMessage
from tests.harness import FakeClock

Event = dict[str, Any]
# a real 1x1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000185d1e2a80000000049454e44ae426082"
)


class Desk:
    """A running sandbox and where it listens."""

    def __init__(self, sandbox: Sandbox, base_url: str, clock: OffsetClock) -> None:
        self.sandbox = sandbox
        self.base_url = base_url
        self.clock = clock
        self.tokens = {
            pane["key"]: [p["token"] for p in pane["people"]]  # type: ignore[union-attr]
            for pane in sandbox.panes()
        }

    async def settled(self, timeout: float = 20.0) -> None:
        """Wait until no web message waits in the outbox (delivered or given up)."""

        def waiting() -> int:
            with self.sandbox.services.db.unit_of_work() as uow:
                query = select(func.count()).where(
                    OutboxMessage.channel == "web", OutboxMessage.status == "pending"
                )
                return int(uow.session.scalar(query) or 0)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await asyncio.to_thread(waiting):
            if loop.time() > deadline:
                raise AssertionError("the web outbox did not drain")
            await asyncio.sleep(0.02)


@asynccontextmanager
async def running_sandbox(
    db_url: str, clock: FakeClock, files: Path, **extra: object
) -> AsyncIterator[Desk]:
    """The sandbox on `db_url`, its clock `clock` plus skips, served on a free port."""
    offset = OffsetClock(base=clock)
    settings = sandbox_settings(db_url, outbox_poll_seconds=0.05, **extra)
    sandbox = Sandbox(settings, clock=offset, files=files, scheduler=False)
    await asyncio.to_thread(sandbox.prepare)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            sandbox.app(), log_level="warning", lifespan="on", timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield Desk(sandbox, f"http://127.0.0.1:{port}", offset)
    finally:
        server.should_exit = True
        await task
        sandbox.close()


class WebPerson:
    """Someone in a pane of the sandbox: sends as their token, reads their chat's messages."""

    def __init__(self, desk: Desk, key: str, chat: str = "me", who: int = 0) -> None:
        self.desk = desk
        self.key = key
        self.chat = chat
        self.token = desk.tokens[key][who]
        self.seen: list[Event] = []
        self.last: str | None = None
        self._nonce = 0
        persona = next((p for p in PEOPLE if p.key == key), None)
        self.user_id = persona.user_id if persona is not None else GROUP

    def headers(self, **extra: str) -> dict[str, str]:
        """What the page sends with every request."""
        return {"X-Propdesk-Session": self.token, "X-Propdesk-Request": "1", **extra}

    def nonce(self) -> str:
        """A fresh message id of the page."""
        self._nonce += 1
        return f"{self.key}-n{self._nonce:06d}"

    async def post(self, body: dict[str, Any], **headers: str) -> httpx.Response:
        """POST /web/send with this person's token."""
        body = {"chat": self.chat, "nonce": self.nonce(), **body}
        async with httpx.AsyncClient(base_url=self.desk.base_url) as client:
            return await client.post("/web/send", json=body, headers=self.headers(**headers))

    async def send(self, text: str) -> list[Event]:
        """Type and send `text`; the desk's answers."""
        response = await self.post({"text": text})
        assert response.status_code == 200, response.text
        return await self.replies()

    async def press(self, label: str) -> list[Event]:
        """Press the newest button whose label contains `label`."""
        event, data = self.find(lambda lab, _: label in lab)
        return await self.press_data(data, event["id"])

    async def tap(self, action: str, arg: str = "") -> list[Event]:
        """Press a button by what it does (its data), whatever its label says."""
        event, data = self.find(lambda _, d: d.split("|")[1:3] == [action, arg])
        return await self.press_data(data, event["id"])

    async def press_data(self, data: str, message: str) -> list[Event]:
        """Press a button given its data and the id of its message."""
        response = await self.post({"button": data, "message": message})
        assert response.status_code == 200, response.text
        return await self.replies()

    def find(self, match: Any) -> tuple[Event, str]:
        """The newest message with a matching button, and the button's data."""
        for event in reversed(self.seen):
            for row in event["buttons"]:
                for label, data in row:
                    if match(label, data):
                        return event, data
        raise AssertionError(f"no such button; the desk said: {self.texts(self.seen[-3:])}")

    async def upload(self, data: bytes, content_type: str = "image/png") -> httpx.Response:
        """Upload a picture as the page does."""
        async with httpx.AsyncClient(base_url=self.desk.base_url) as client:
            return await client.post(
                f"/web/photo?chat={self.chat}&nonce={self.nonce()}",
                content=data,
                headers=self.headers(**{"Content-Type": content_type}),
            )

    async def replies(self) -> list[Event]:
        """Everything new in the chat once the outbox has drained."""
        await self.desk.settled()
        fresh = await catch_up(self.desk, self.token, self.chat, self.last)
        known = {e["id"] for e in self.seen}
        for event in fresh:
            if event["edit"] and event["id"] in known:
                index = next(i for i, e in enumerate(self.seen) if e["id"] == event["id"])
                self.seen[index] = event
            else:
                self.seen.append(event)
            self.last = event["cursor"]
        return fresh

    @staticmethod
    def texts(events: list[Event]) -> list[str]:
        """The texts of some messages."""
        return [e["text"] for e in events]


async def catch_up(desk: Desk, token: str, chat: str, since: str | None) -> list[Event]:
    """Read the event stream until the server says it has caught up."""
    params = {"chat": chat} | ({"since": since} if since else {})
    events = []
    async with httpx.AsyncClient(base_url=desk.base_url, timeout=20) as client:
        async with client.stream(
            "GET", "/web/events", params=params, headers={"X-Propdesk-Session": token}
        ) as response:
            assert response.status_code == 200, await response.aread()
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                elif line.startswith(": caught up"):
                    break
    return events
