"""The web chat channel: JSON in, Server-Sent Events out, on the desk's one inbox and outbox.

Every request names its person by a signed session token (cookie or header), never by an id
from the page. A message goes the way of a Telegram update: an `Inbound` handled once in one
transaction by `handlers.inbox.handle_inbound`; replies wait in the outbox and the sender's
`WebDelivery` pushes them to the open pages, which catch up from the outbox by message id."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.bootstrap import Services
from bot.outbox import UNPACED, Bucket, OutboxSender
from bot.webchat.delivery import CHANNEL, Live, LiveHub, WebDelivery
from bot.webchat.history import messages_after, offered, photo_shown
from bot.webchat.session import COOKIE, HEADER, Sessions
from bot.webchat.texts import text
from handlers.inbox import handle_inbound
from handlers.messages import ChatKind, Inbound
from handlers.web_sign_in import redeem_link
from store.web_sign_in import SignedIn, is_server_session, session_web_id

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
MAX_TEXT = 2000
MAX_JSON = 16_000
MAX_PHOTO = 5 * 1024 * 1024
NONCE = re.compile(r"[A-Za-z0-9_-]{8,40}")
PHOTO_NAME = re.compile(r"[0-9a-f]{32}\.(jpg|png|webp|gif)")
HEARTBEAT_SECONDS = 15.0
MAX_PANES = 16
PANE = re.compile(r"[a-z0-9_-]{0,20}")
# what a picture's first bytes must be: its type is read from the content, not the header
MAGIC = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}


def _nonce_ok(user_id: str, nonce: str) -> bool:
    """The page's id of one message; with the sender's web id it makes the update id, which
    must fit whole (64 characters) so that two messages never pass for one."""
    return NONCE.fullmatch(nonce) is not None and len(user_id) + 1 + len(nonce) <= 64


def picture_type(data: bytes) -> str | None:
    """The file extension of a JPEG, PNG, GIF or WebP picture, judged by its bytes; else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((ext for magic, ext in MAGIC if data.startswith(magic)), None)


@dataclass(frozen=True)
class Pace:
    """How fast one person may post, and one address may open new web accounts."""

    posts_per_second: float = 1.0
    posts_burst: int = 20  # a person answering a few questions in a row is never held up
    new_per_second: float = 10 / 3600
    new_burst: int = 10


@dataclass(frozen=True)
class Member:
    """A person known to the web chat by name (the sandbox's example people)."""

    user_id: str
    name: str
    language: str


class WebChat:
    """The web channel of the desk: routes for the ASGI app and the outbox sender for "web"."""

    def __init__(
        self,
        services: Services,
        sessions: Sessions,
        files: Path,
        *,
        members: Mapping[str, Member] | None = None,
        groups: Mapping[str, frozenset[str]] | None = None,
        secure_cookie: bool = True,
        limits: Pace | None = None,
    ) -> None:
        self.services = services
        self.sessions = sessions
        self.files = files
        self.members = dict(members or {})
        self.groups = dict(groups or {})  # group chat id -> web ids allowed in it
        self.secure_cookie = secure_cookie
        self.limits = limits
        self._paces: dict[str, Bucket] = {}
        self.hub = LiveHub()
        self.sender = OutboxSender(
            services.db,
            WebDelivery(self.hub),
            services.clock,
            services.settings.outbox_poll_seconds,
            UNPACED,  # a browser has no rate limit to keep
        )
        # senders of other channels, woken when a web message wrote to them
        self.also_notify: list[Callable[[], None]] = []

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start delivering (anything committed before a restart goes out now)."""
        self.files.mkdir(parents=True, exist_ok=True)
        self.sender.start()
        self.sender.notify()

    async def stop(self) -> None:
        """Stop delivering; what is not sent stays in the outbox."""
        await self.sender.stop()

    def written(self) -> None:
        """New outbox rows may be waiting: wake every sender."""
        self.sender.notify()
        for notify in self.also_notify:
            notify()

    def routes(self, prefix: str = "/web") -> list[BaseRoute]:
        """The channel's routes, to mount on the desk's Starlette app."""
        return [
            Route(f"{prefix}/chat", self.chat_page, methods=["GET"]),
            Route(f"{prefix}/send", self.send, methods=["POST"]),
            Route(f"{prefix}/photo", self.upload, methods=["POST"]),
            Route(f"{prefix}/photo/{{name}}", self.photo, methods=["GET"]),
            Route(f"{prefix}/events", self.events, methods=["GET"]),
            Route(f"{prefix}/stream", self.stream, methods=["POST"]),
            Route(f"{prefix}/sign-in", self.sign_in, methods=["POST"]),
            Mount(f"{prefix}/static", StaticFiles(directory=STATIC), name="webchat-static"),
        ]

    # --- who is asking ---------------------------------------------------------------------

    async def _user(self, request: Request) -> str | None:
        """The web id the request's token proves (a header wins over the cookie)."""
        return await self._user_of(request.headers.get(HEADER) or request.cookies.get(COOKIE))

    async def _user_of(self, token: str | None) -> str | None:
        """The web id of a token: a signed one (the sandbox's, a first visit's) is checked
        here; a server-side session (from a sign-in link) is looked up on the desk's clock."""
        if token and is_server_session(token):
            return await asyncio.to_thread(self._session_user, token)
        return self.sessions.user_of(token)

    def _session_user(self, token: str) -> str | None:
        with self.services.db.unit_of_work() as uow:
            return session_web_id(uow.session, token, self.services.clock())

    def _chat(self, user_id: str, chat: str) -> tuple[str, ChatKind] | None:
        """The chat a person may use: their own ("me"), or a group they belong to."""
        if chat in ("", "me", user_id):
            return user_id, "private"
        if user_id in self.groups.get(chat, frozenset()):
            return chat, "group"
        return None

    def _language(self, request: Request) -> str:
        """The language the page speaks: the person's own in the sandbox, else the page's."""
        token = request.headers.get(HEADER) or request.cookies.get(COOKIE)
        member = self.members.get(self.sessions.user_of(token) or "")
        if member is not None:
            return member.language
        return request.headers.get("X-Propdesk-Language") or request.headers.get(
            "Accept-Language", ""
        )

    def _refuse(self, request: Request, key: str, status: int, **values: object) -> JSONResponse:
        if key == "signed_out" and is_server_session(request.cookies.get(COOKIE) or ""):
            key = "sign_in_again"  # a signed-in session ended: a reload would not help
        return JSONResponse(
            {"ok": False, "error": text(key, self._language(request), **values)},
            status_code=status,
        )

    # --- the chat page (one person, a cookie) ---------------------------------------------

    def _too_fast(self, key: str, rate: float, burst: int) -> bool:
        """Whether `key` (a person posting, an address signing up) is over its pace."""
        if len(self._paces) > 4096:  # forget those who have been quiet a while
            for idle in [k for k, bucket in self._paces.items() if bucket.idle()]:
                del self._paces[idle]
        bucket = self._paces.setdefault(key, Bucket(rate, burst))
        if bucket.wait_seconds() > 0:
            return True
        bucket.take()
        return False

    async def chat_page(self, request: Request) -> Response:
        """A page with one chat; a first visit gets a new web id in an HttpOnly cookie."""
        user_id = await self._user(request)
        address = request.client.host if request.client is not None else "?"
        limits = self.limits
        if (
            user_id is None
            and limits is not None
            and self._too_fast(f"new:{address}", limits.new_per_second, limits.new_burst)
        ):
            return self._refuse(request, "too_fast", 429)
        page = (STATIC / "chat.html").read_text(encoding="utf-8")
        response = Response(page, media_type="text/html; charset=utf-8")
        if user_id is None and not is_server_session(request.cookies.get(COOKIE) or ""):
            token = self.sessions.mint(self.sessions.new_user_id())
            response.set_cookie(
                COOKIE,
                token,
                max_age=180 * 86400,
                httponly=True,
                samesite="strict",
                secure=self.secure_cookie,
            )
        return response

    async def sign_in(self, request: Request) -> Response:
        """Redeem a one-time sign-in link (its token, from the page's address after '#', in
        the JSON body): a server-side session in an HttpOnly cookie. Only the page's script can
        post it (the custom header), so a link preview or another site cannot use it up."""
        if not self._csrf_ok(request):
            return self._refuse(request, "bad_request", 403)
        address = request.client.host if request.client is not None else "?"
        limits = self.limits
        if limits is not None and self._too_fast(
            f"sign-in:{address}", limits.new_per_second, limits.new_burst
        ):
            return self._refuse(request, "too_fast", 429)
        body = await request.body()
        try:
            data = json.loads(body) if len(body) <= 1000 else None
        except ValueError:
            data = None
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str):
            return self._refuse(request, "bad_request", 400)
        signed = await asyncio.to_thread(self._redeem, token)
        if signed is None:
            return self._refuse(request, "link_invalid", 401)
        self.written()
        response = JSONResponse({"ok": True})
        response.set_cookie(
            COOKIE,
            signed.session_token,
            max_age=int((signed.expires_at - self.services.clock()).total_seconds()),
            httponly=True,
            samesite="lax",  # sent when the owner comes back by a link; POSTs need the header
            secure=self.secure_cookie or request.url.scheme == "https",
        )
        return response

    def _redeem(self, token: str) -> SignedIn | None:
        with self.services.db.unit_of_work() as uow:
            signed = redeem_link(uow, self.services.desk, token)
            uow.commit()
            return signed

    # --- messages in -----------------------------------------------------------------------

    def _csrf_ok(self, request: Request) -> bool:
        """A POST must carry our custom header: a form on another site cannot send one."""
        return request.headers.get("X-Propdesk-Request") == "1"

    def _over_pace(self, user_id: str) -> bool:
        limits = self.limits
        return limits is not None and self._too_fast(
            f"post:{user_id}", limits.posts_per_second, limits.posts_burst
        )

    async def send(self, request: Request) -> Response:
        """Text or a button press from the page, as one Inbound."""
        user_id = await self._user(request)
        if user_id is None:
            return self._refuse(request, "signed_out", 401)
        if not self._csrf_ok(request):
            return self._refuse(request, "bad_request", 403)
        if self._over_pace(user_id):
            return self._refuse(request, "too_fast", 429)
        body = await request.body()
        if len(body) > MAX_JSON:
            return self._refuse(request, "too_long", 413, limit=MAX_TEXT)
        try:
            data = json.loads(body)
        except ValueError:
            return self._refuse(request, "bad_request", 400)
        if not isinstance(data, dict):
            return self._refuse(request, "bad_request", 400)
        chat = self._chat(user_id, str(data.get("chat") or ""))
        if chat is None:
            return self._refuse(request, "not_your_chat", 403)
        nonce, words = data.get("nonce"), data.get("text")
        button, message = data.get("button"), data.get("message")
        if not isinstance(nonce, str) or not _nonce_ok(user_id, nonce):
            return self._refuse(request, "bad_request", 400)
        if words is not None and not isinstance(words, str):
            return self._refuse(request, "bad_request", 400)
        if isinstance(words, str) and len(words) > MAX_TEXT:
            return self._refuse(request, "too_long", 413, limit=MAX_TEXT)
        if button is not None:
            if not isinstance(button, str) or not isinstance(message, str) or len(button) > 200:
                return self._refuse(request, "bad_request", 400)
            if len(message) > 64 or not await self._offered(chat[0], message, button):
                return self._refuse(request, "stale_button", 409)
            inbound = self._inbound(request, user_id, chat, nonce, button=button, message=message)
        elif isinstance(words, str) and words.strip():
            inbound = self._inbound(request, user_id, chat, nonce, text=words)
        else:
            return self._refuse(request, "empty", 400)
        return await self._handle(request, inbound)

    async def upload(self, request: Request) -> Response:
        """A photo from the page: the body is the picture; kept under a random name."""
        user_id = await self._user(request)
        if user_id is None:
            return self._refuse(request, "signed_out", 401)
        if not self._csrf_ok(request):
            return self._refuse(request, "bad_request", 403)
        if self._over_pace(user_id):
            return self._refuse(request, "too_fast", 429)
        chat = self._chat(user_id, request.query_params.get("chat", ""))
        if chat is None:
            return self._refuse(request, "not_your_chat", 403)
        nonce = request.query_params.get("nonce", "")
        if not _nonce_ok(user_id, nonce):
            return self._refuse(request, "bad_request", 400)
        declared = request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_PHOTO:
            return self._refuse(request, "photo_size", 413, limit=MAX_PHOTO // (1024 * 1024))
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > MAX_PHOTO:
                return self._refuse(request, "photo_size", 413, limit=MAX_PHOTO // (1024 * 1024))
        kind = picture_type(bytes(data))
        if kind is None:
            return self._refuse(request, "photo_type", 415)
        name = f"{secrets.token_hex(16)}.{kind}"
        await asyncio.to_thread(self._keep, name, bytes(data), user_id)
        inbound = self._inbound(request, user_id, chat, nonce, photo=name)
        return await self._handle(request, inbound)

    def _keep(self, name: str, data: bytes, user_id: str) -> None:
        self.files.mkdir(parents=True, exist_ok=True)
        (self.files / f"{name}.who").write_text(user_id)  # who may always see it
        part = self.files / f".{name}.part"
        part.write_bytes(data)
        part.replace(self.files / name)  # whole or not at all

    def _inbound(
        self,
        request: Request,
        user_id: str,
        chat: tuple[str, ChatKind],
        nonce: str,
        **what: Any,
    ) -> Inbound:
        member = self.members.get(user_id)
        hint = self._language(request)
        button_message = what.pop("message", None)
        return Inbound(
            channel=CHANNEL,
            update_id=f"{user_id}:{nonce}",
            chat_id=chat[0],
            chat_kind=chat[1],
            user_id=user_id,
            user_name=member.name if member is not None else "",
            language_hint=hint or None,
            button_message_id=button_message,
            **what,
        )

    async def _offered(self, chat_id: str, message_id: str, data: str) -> bool:
        def look() -> bool:
            with self.services.db.unit_of_work() as uow:
                return offered(uow.session, chat_id, message_id, data)

        return await asyncio.to_thread(look)

    async def _handle(self, request: Request, inbound: Inbound) -> Response:
        services = self.services
        try:
            handled = await asyncio.to_thread(handle_inbound, services.db, services.desk, inbound)
        except Exception:  # neither the turn nor an apology committed: the page may resend it
            log.exception("web message %s failed", inbound.update_id)
            return self._refuse(request, "busy", 503)
        self.written()
        return JSONResponse({"ok": True, "duplicate": not handled.fresh})

    # --- messages out ----------------------------------------------------------------------

    async def photo(self, request: Request) -> Response:
        """A picture, to the person who sent it and to people whose chats were shown it
        (the engineer who took the job); to anyone else it does not exist."""
        user_id = await self._user(request)
        if user_id is None:
            return self._refuse(request, "signed_out", 401)
        name = request.path_params["name"]
        path = self.files / name
        if not PHOTO_NAME.fullmatch(name) or not path.is_file():
            return self._refuse(request, "not_found", 404)
        if not await asyncio.to_thread(self._may_see, user_id, name):
            return self._refuse(request, "not_found", 404)
        media_type = MEDIA_TYPES[name.rsplit(".", 1)[1]]
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private"})

    def _may_see(self, user_id: str, name: str) -> bool:
        who = self.files / f"{name}.who"
        if who.is_file() and who.read_text().strip() == user_id:
            return True
        chats = [user_id, *(chat for chat, members in self.groups.items() if user_id in members)]
        with self.services.db.unit_of_work() as uow:
            return photo_shown(uow.session, chats, name)

    async def events(self, request: Request) -> Response:
        """Server-Sent Events of one chat: what was delivered after `since`, then live."""
        user_id = await self._user(request)
        if user_id is None:
            return self._refuse(request, "signed_out", 401)
        chat = self._chat(user_id, request.query_params.get("chat", ""))
        if chat is None:
            return self._refuse(request, "not_your_chat", 403)
        since = request.query_params.get("since") or request.headers.get("Last-Event-ID")
        return _event_stream(self._stream([("", chat[0], since[:64] if since else None)]))

    async def stream(self, request: Request) -> Response:
        """Server-Sent Events of several panes at once (a browser keeps only six connections
        to a server): a POST of [{pane, token, chat, since}], each checked like a request of
        its own; every event names its pane."""
        if not self._csrf_ok(request):
            return self._refuse(request, "bad_request", 403)
        body = await request.body()
        try:
            wanted = json.loads(body) if len(body) <= MAX_JSON else None
        except ValueError:
            wanted = None
        if not isinstance(wanted, list) or not 1 <= len(wanted) <= MAX_PANES:
            return self._refuse(request, "bad_request", 400)
        subscriptions = []
        for item in wanted:
            if not isinstance(item, dict) or not PANE.fullmatch(str(item.get("pane", ""))):
                return self._refuse(request, "bad_request", 400)
            token, since = item.get("token"), item.get("since")
            user_id = (
                await self._user_of(token)
                if isinstance(token, str)
                else await self._user(request)  # no token: the page's cookie
            )
            if user_id is None:
                return self._refuse(request, "signed_out", 401)
            chat = self._chat(user_id, str(item.get("chat") or ""))
            if chat is None:
                return self._refuse(request, "not_your_chat", 403)
            since = since[:64] if isinstance(since, str) and since else None
            subscriptions.append((str(item["pane"]), chat[0], since))
        return _event_stream(self._stream(subscriptions))

    async def _stream(self, subscriptions: list[tuple[str, str, str | None]]) -> AsyncIterator[str]:
        """Catch each (pane, chat, since) up from the outbox, then go on live."""
        queue: asyncio.Queue[Live] = asyncio.Queue()
        panes: dict[str, list[str]] = {}
        recent: list[tuple[str, dict[str, Any]]] = []
        for pane, chat_id, since in subscriptions:
            panes.setdefault(chat_id, []).append(pane)
            # subscribe first: nothing delivered from now on is missed
            recent += [(pane, e) for e in self.hub.subscribe(chat_id, since, queue)]
        try:

            def catch_up() -> list[tuple[str, dict[str, Any]]]:
                with self.services.db.unit_of_work() as uow:
                    return [
                        (pane, event)
                        for pane, chat_id, since in subscriptions
                        for event in messages_after(uow.session, chat_id, since)
                    ]

            shown: set[tuple[str, str]] = set()
            for pane, event in await asyncio.to_thread(catch_up) + recent:
                if (pane, event["cursor"]) not in shown:
                    shown.add((pane, event["cursor"]))
                    yield _sse(pane, event)
            yield ": caught up\n\n"
            while True:
                try:
                    chat_id, event = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield ": still here\n\n"  # keeps proxies from closing an idle stream
                    continue
                for pane in panes.get(chat_id, []):
                    if (pane, event["cursor"]) not in shown:
                        yield _sse(pane, event)
        finally:
            for chat_id in panes:
                self.hub.unsubscribe(chat_id, queue)


def _event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _sse(pane: str, event: dict[str, Any]) -> str:
    data = json.dumps({**event, "pane": pane}, ensure_ascii=False)
    return f"id: {event['cursor']}\ndata: {data}\n\n"


def web_chat_for(services: Services) -> WebChat:
    """The web chat of a running desk, from its settings (PROPDESK_WEB_CHAT_*)."""
    settings = services.settings
    return WebChat(
        services,
        Sessions(settings.web_chat_secret.encode()),
        Path(settings.web_chat_files),
        secure_cookie=settings.web_chat_secure_cookie,
        limits=Pace(),
    )
