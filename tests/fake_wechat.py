"""A fake WeChat API server over real HTTP on 127.0.0.1, and a WeChat user posting to the webhook.

The desk's `WeChatApi` is pointed at ``fake.base_url`` (PROPDESK_WECHAT_API_BASE_URL). The
fake serves ``GET /cgi-bin/token``, ``POST /cgi-bin/message/custom/send`` and
``POST /cgi-bin/message/template/send``; it records every call, checks the access token
(40001 for an unknown one, 42001 for an expired one) and can inject errors.

`WeChatPhone` plays WeChat's servers towards the webhook: it signs every request with the
server token and, in safe mode, encrypts the message with wechatpy's own `WeChatCrypto`.
`WeChatOwner` is the transcript driver with the interface of `tests.harness.Owner`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import uvicorn
import xmltodict
from sqlalchemy import select
from wechatpy.crypto import WeChatCrypto

from bot.web import webhook_app
from bot.wechat.app import WeChatDesk
from bot.wechat.render import render
from handlers.messages import Outbound
from store.models import OutboxMessage
from store.wechat import chat_language
from tests.fake_telegram import TgUser
from tests.harness import Bot, Owner, settle

APP_ID = "wx5c3a1f0e9d8b7a6c"
APP_SECRET = "test-app-secret"
SERVER_TOKEN = "propdeskWxToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
GIVEN_TOKEN = "GIVEN-ACCESS-TOKEN"
ACCOUNT = "gh_propdesk_test"


@dataclass
class WxCall:
    """One call the desk made to the fake WeChat API."""

    path: str
    query: dict[str, str]
    body: dict[str, Any]
    errcode: int
    at: float = field(default_factory=time.monotonic)


class FakeWeChat:
    """A fake api.weixin.qq.com: token, customer-service and template messages."""

    def __init__(self, given_tokens: tuple[str, ...] = (GIVEN_TOKEN,)) -> None:
        self.calls: list[WxCall] = []
        self.valid_tokens: set[str] = set(given_tokens)
        self.expired_tokens: set[str] = set()
        self.token_fetches = 0
        self.token_delay = 0.0  # seconds the token endpoint takes (to test concurrent refresh)
        self._faults: list[tuple[str, int]] = []  # (path suffix, errcode), used in order
        self._lock = threading.Lock()
        self._msgids = itertools.count(1000)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> FakeWeChat:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw.decode("utf-8")) if raw else {}
                answer = fake._handle(url.path, dict(parse_qsl(url.query)), body)
                data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def base_url(self) -> str:
        """What PROPDESK_WECHAT_API_BASE_URL points at."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- control -------------------------------------------------------------------------
    def fail(self, path_suffix: str, errcode: int, times: int = 1) -> None:
        """The next `times` calls to a path ending in `path_suffix` answer `errcode`."""
        with self._lock:
            self._faults.extend([(path_suffix, errcode)] * times)

    def expire(self, token: str) -> None:
        """WeChat considers this token expired from now on (42001)."""
        with self._lock:
            self.expired_tokens.add(token)

    def sent(self, path_suffix: str = "", touser: str | None = None) -> list[WxCall]:
        """Successful calls to paths ending in `path_suffix` (to one user if given)."""
        with self._lock:
            return [
                c
                for c in self.calls
                if c.path.endswith(path_suffix)
                and c.errcode == 0
                and (touser is None or c.body.get("touser") == touser)
            ]

    # --- the API -------------------------------------------------------------------------
    def _handle(self, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if path == "/cgi-bin/token":
            if self.token_delay:
                time.sleep(self.token_delay)
            with self._lock:
                if query.get("appid") != APP_ID or query.get("secret") != APP_SECRET:
                    self.calls.append(WxCall(path, query, body, 40013))
                    return {"errcode": 40013, "errmsg": "invalid appid"}
                self.token_fetches += 1
                token = f"TOKEN-{self.token_fetches}"
                # a new token replaces the previous fetched one (after WeChat's short grace)
                self.valid_tokens = {t for t in self.valid_tokens if not t.startswith("TOKEN-")}
                self.valid_tokens.add(token)
                self.calls.append(WxCall(path, query, body, 0))
                return {"access_token": token, "expires_in": 7200}
        with self._lock:
            token = query.get("access_token", "")
            errcode = 0
            if token in self.expired_tokens:
                errcode = 42001
            elif token not in self.valid_tokens:
                errcode = 40001
            else:
                for index, (suffix, code) in enumerate(self._faults):
                    if path.endswith(suffix):
                        errcode = code
                        del self._faults[index]
                        break
            if path not in ("/cgi-bin/message/custom/send", "/cgi-bin/message/template/send"):
                errcode = errcode or 404
            self.calls.append(WxCall(path, query, body, errcode))
            if errcode:
                return {"errcode": errcode, "errmsg": f"fake error {errcode}"}
            if path.endswith("template/send"):
                return {"errcode": 0, "errmsg": "ok", "msgid": next(self._msgids)}
            return {"errcode": 0, "errmsg": "ok"}


# --- WeChat's side of the webhook ------------------------------------------------------------


def signature(token: str, timestamp: str, nonce: str) -> str:
    """The `signature` query parameter WeChat computes."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


_msg_ids = itertools.count(7_000_000_000_001)
_nonces = itertools.count(100_000)


def text_xml(openid: str, content: str, msg_id: int, at: int) -> str:
    """A text message as WeChat posts it."""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{at}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def image_xml(openid: str, media_id: str, msg_id: int, at: int) -> str:
    """An image message: MediaId and PicUrl."""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{at}</CreateTime>"
        f"<MsgType><![CDATA[image]]></MsgType>"
        f"<PicUrl><![CDATA[http://mmbiz.example/{media_id}.jpg]]></PicUrl>"
        f"<MediaId><![CDATA[{media_id}]]></MediaId><MsgId>{msg_id}</MsgId></xml>"
    )


def location_xml(openid: str, lat: float, lon: float, label: str, msg_id: int, at: int) -> str:
    """A location message."""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{at}</CreateTime>"
        f"<MsgType><![CDATA[location]]></MsgType><Location_X>{lat}</Location_X>"
        f"<Location_Y>{lon}</Location_Y><Scale>15</Scale>"
        f"<Label><![CDATA[{label}]]></Label><MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(openid: str, event: str, at: int, key: str = "") -> str:
    """An event (subscribe, unsubscribe, SCAN)."""
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{at}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
        f"<EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


@dataclass
class WeChatPhone:
    """Posts messages to the webhook the way WeChat's servers do, signed (and encrypted)."""

    url: str
    clock: Any  # returns an aware datetime: the desk's clock, so timestamps are "now"
    encrypted: bool = True
    token: str = SERVER_TOKEN

    @property
    def crypto(self) -> WeChatCrypto:
        """wechatpy's own crypto, as WeChat uses it."""
        return WeChatCrypto(self.token, AES_KEY, APP_ID)

    def now(self) -> int:
        """The desk's current time as a WeChat timestamp."""
        return int(self.clock().timestamp())

    def request(self, xml: str, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
        """Query parameters and body of a genuine POST carrying `xml`."""
        stamp = str(self.now() if timestamp is None else timestamp)
        nonce = str(next(_nonces))
        params = {
            "signature": signature(self.token, stamp, nonce),
            "timestamp": stamp,
            "nonce": nonce,
            "openid": "x",
        }
        if not self.encrypted:
            return params, xml.encode()
        envelope = self.crypto.encrypt_message(xml, nonce, stamp)
        inner = xmltodict.parse(envelope)["xml"]
        params.update(encrypt_type="aes", msg_signature=inner["MsgSignature"])
        body = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{inner['Encrypt']}]]></Encrypt></xml>"
        )
        return params, body.encode()

    async def post(self, xml: str, timestamp: int | None = None) -> tuple[int, str | None]:
        """POST a message; the HTTP status and the passive reply's content (None if none)."""
        params, body = self.request(xml, timestamp)
        return await self.post_raw(params, body)

    async def post_raw(self, params: dict[str, str], body: bytes) -> tuple[int, str | None]:
        """POST exactly these parameters and bytes; status and decrypted reply content."""
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(self.url, params=params, content=body)
        return response.status_code, self.reply_content(response.text, params)

    def reply_content(self, text: str, params: dict[str, str]) -> str | None:
        """The Content of a passive reply (decrypted in safe mode), None for "success"."""
        if not text.startswith("<xml>"):
            return None
        if params.get("encrypt_type") == "aes":
            reply = xmltodict.parse(text)["xml"]
            text = self.crypto.decrypt_message(
                text, reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"]
            )
        data = xmltodict.parse(text)["xml"]
        assert data["MsgType"] == "text", data
        return str(data["Content"])


# --- running the WeChat channel next to a test bot ---------------------------------------


def wechat_settings(fake: FakeWeChat, encrypted: bool = True, **extra: Any) -> dict[str, Any]:
    """Settings for the WeChat channel against the fake API (a given access token)."""
    values: dict[str, Any] = {
        "wechat_app_id": APP_ID,
        "wechat_app_secret": APP_SECRET,
        "wechat_token": SERVER_TOKEN,
        "wechat_encoding_aes_key": AES_KEY if encrypted else "",
        "wechat_api_base_url": fake.base_url,
        "wechat_access_token": GIVEN_TOKEN,
        "wechat_templates": "notice=TPL-NOTICE",
    }
    values.update(extra)
    return values


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class WeChatSide:
    """The WeChat channel of a running test bot: desk, webhook server and its URL."""

    desk: WeChatDesk
    server: uvicorn.Server
    task: asyncio.Task[None]
    url: str
    fake: FakeWeChat
    view: WeChatView

    async def stop(self) -> None:
        """Stop serving and delivering."""
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 10)
        await self.desk.stop()


async def start_wechat(bot: Bot, fake: FakeWeChat) -> WeChatSide:
    """Serve the bot's ASGI app (Telegram and WeChat routes) on 127.0.0.1 with uvicorn."""
    desk = WeChatDesk(bot.services)
    desk.also_notify.append(bot.desk.sender.notify)
    desk.start()
    port = _free_port()
    app = webhook_app(bot.desk, wechat=desk)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    url = f"http://127.0.0.1:{port}/wechat"
    return WeChatSide(desk, server, task, url, fake, WeChatView(bot, fake))


# --- the transcript driver -------------------------------------------------------------------

MENU_LINE = re.compile(r"^(?:Reply (\d+) for |回复 ?(\d+) ?)(.+)$")


def split_menu(text: str) -> tuple[str, list[str]]:
    """A rendered message's text and the labels of its numbered menu."""
    lines = text.split("\n")
    labels: list[str] = []
    while lines:
        found = MENU_LINE.match(lines[-1])
        if not found:
            break
        labels.insert(0, found.group(3))
        lines.pop()
    if labels and not lines:
        return "", labels
    if labels and lines[-1] != "":
        return text, []  # not a menu block after all
    return "\n".join(lines).rstrip("\n"), labels


@dataclass
class WeChatView:
    """What a WeChat user saw, shaped like Telegram messages so transcript helpers work."""

    bot: Bot
    fake: FakeWeChat
    passive: dict[str, list[tuple[float, dict[str, Any]]]] = field(default_factory=dict)
    passive_rows: dict[str, int] = field(default_factory=dict)  # newest outbox row read

    def sent(self, chat_id: str | int) -> list[dict[str, Any]]:
        """Every message the user received: passive replies and API sends, in order."""
        openid = str(chat_id)
        timeline = list(self.passive.get(openid, []))
        with self.fake._lock:
            calls = list(self.fake.calls)
        for call in calls:
            if call.errcode or call.body.get("touser") != openid:
                continue
            timeline.append((call.at, self._from_call(call)))
        timeline.sort(key=lambda item: item[0])
        return [self._with_data(openid, m) for _, m in timeline]

    def record_passive(self, openid: str, content: str) -> None:
        """Remember a passive reply (the fake API never sees those).

        One reply carries every message the turn wrote, joined by blank lines; they are told
        apart again by the outbox rows it took (checked to render to exactly this text)."""
        stamp = time.monotonic()
        parts = self._passive_parts(openid)
        if "\n\n".join(p for p in parts if p) != content:
            parts = [content]
        log = self.passive.setdefault(openid, [])
        log.extend((stamp, {"text": part, "via": "passive"}) for part in parts)

    def _passive_parts(self, openid: str) -> list[str]:
        with self.bot.services.db.unit_of_work() as uow:
            session = uow.session
            seen = self.passive_rows.get(openid, 0)
            rows = list(
                session.execute(
                    select(OutboxMessage.id, OutboxMessage.payload)
                    .where(
                        OutboxMessage.channel == "wechat",
                        OutboxMessage.chat_id == openid,
                        OutboxMessage.external_id == "passive",
                        OutboxMessage.id > seen,
                    )
                    .order_by(OutboxMessage.id)
                )
            )
            language = chat_language(session, openid) or self.bot.services.settings.default_language
        if rows:
            self.passive_rows[openid] = rows[-1][0]
        return [render(Outbound.from_payload(openid, payload), language) for _, payload in rows]

    @staticmethod
    def _from_call(call: WxCall) -> dict[str, Any]:
        body = call.body
        if call.path.endswith("template/send"):
            return {"text": body["data"]["first"]["value"], "via": "template"}
        if body.get("msgtype") == "image":
            return {"text": "", "photo": body["image"]["media_id"], "via": "custom"}
        return {"text": body["text"]["content"], "via": "custom"}

    def _with_data(self, openid: str, message: dict[str, Any]) -> dict[str, Any]:
        """Split the menu off the text and look up each option's callback data in the outbox."""
        text, labels = split_menu(message["text"])
        result = dict(message, text=text)
        if labels:
            datas = self._datas(openid, labels)
            result["reply_markup"] = {
                "inline_keyboard": [
                    [{"text": label, "callback_data": data}]
                    for label, data in zip(labels, datas, strict=True)
                ]
            }
        return result

    def _datas(self, openid: str, labels: list[str]) -> list[str]:
        with self.bot.services.db.unit_of_work() as uow:
            rows = uow.session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.channel == "wechat", OutboxMessage.chat_id == openid)
                .order_by(OutboxMessage.id.desc())
            )
            for payload in rows:
                flat = [(label, data) for row in payload["buttons"] for label, data in row]
                if [label for label, _ in flat] == labels:
                    return [data for _, data in flat]
        return ["?"] * len(labels)


def openid_of(user: TgUser) -> str:
    """A stable, openid-looking id for a test person."""
    return f"oWx{user.id:0>25}"


@dataclass
class WeChatOwner(Owner):
    """`tests.harness.Owner` over WeChat: same calls, real signed and encrypted webhook posts."""

    phone: WeChatPhone | None = None

    @property
    def chat_id(self) -> str:  # type: ignore[override]
        """The openid: private chat and user are one on WeChat."""
        return openid_of(self.user)

    @property
    def external_id(self) -> str:
        """The identity's external id (the openid)."""
        return self.chat_id

    @property
    def channel(self) -> str:
        """This owner's channel."""
        return "wechat"

    @property
    def view(self) -> WeChatView:
        """What this user saw."""
        assert isinstance(self.fake, WeChatView)
        return self.fake

    async def send(self, text: str) -> list[dict[str, Any]]:
        """Type a message."""
        msg_id = next(_msg_ids)
        return await self._post(text_xml(self.chat_id, text, msg_id, self._now()), str(msg_id))

    async def contact(self, phone: str) -> list[dict[str, Any]]:
        """WeChat has no share-contact button: the owner types the number."""
        return await self.send(phone)

    async def photo(self, file_id: str, album: str | None = None) -> list[dict[str, Any]]:
        """Send an image (MediaId `file_id`); WeChat has no albums."""
        msg_id = next(_msg_ids)
        return await self._post(image_xml(self.chat_id, file_id, msg_id, self._now()), str(msg_id))

    async def location(self, lat: float, lon: float, label: str) -> list[dict[str, Any]]:
        """Share a location."""
        msg_id = next(_msg_ids)
        xml = location_xml(self.chat_id, lat, lon, label, msg_id, self._now())
        return await self._post(xml, str(msg_id))

    async def subscribe(self, scene: str = "") -> list[dict[str, Any]]:
        """Follow the account (by scanning a code with `scene`, if given)."""
        at = self._now()
        key = f"qrscene_{scene}" if scene else ""
        xml = event_xml(self.chat_id, "subscribe", at, key)
        event = "subscribe_scan" if scene else "subscribe"  # as wechatpy names it
        return await self._post(xml, f"{self.chat_id}:{at}:{event}")

    async def press(self, label: str) -> list[dict[str, Any]]:
        """Reply with the number of the newest option whose label contains `label`."""
        message, data = self.find_button(label)
        return await self.press_data(data, message)

    async def press_data(self, data: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Reply with the number the option with this callback data has in `message`."""
        options = [row[0]["callback_data"] for row in message["reply_markup"]["inline_keyboard"]]
        return await self.send(str(options.index(data) + 1))

    def _now(self) -> int:
        return int(self.bot.services.clock().timestamp())

    async def _post(self, xml: str, update_id: str) -> list[dict[str, Any]]:
        assert self.phone is not None
        status, content = await self.phone.post(xml)
        assert status == 200, status
        if content is not None:
            self.view.record_passive(self.chat_id, content)
        await settle(self.bot, update_id)
        sent = self.view.sent(self.chat_id)
        self.last = sent[self.seen :]
        self.seen = len(sent)
        return self.last


def wechat_owner(bot: Bot, user: TgUser) -> WeChatOwner:
    """A person chatting with the bot over WeChat (the bot must run its WeChat side)."""
    side: WeChatSide = bot.wechat
    phone = WeChatPhone(side.url, bot.services.clock, encrypted=True)
    return WeChatOwner(side.view, bot, user, phone=phone)  # type: ignore[arg-type]
