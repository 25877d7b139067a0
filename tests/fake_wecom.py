"""A fake WeCom (企业微信) API server over real HTTP on 127.0.0.1, and WeCom staff posting
encrypted callbacks to the desk.

The desk's `WeComApi` is pointed at ``fake.base_url`` (PROPDESK_WECOM_API_BASE_URL). The fake
serves ``GET /cgi-bin/gettoken``, ``POST /cgi-bin/message/send`` (text, image, file and
button_interaction template cards), ``POST /cgi-bin/message/update_template_card``,
``POST /cgi-bin/media/upload`` and a group robot at ``POST /cgi-bin/webhook/send``. It checks
the access token (40014 unknown, 42001 expired), keeps every user's copy of every card (so a
test sees each recipient's card change in place), consumes a card's response_code once, and
can inject errors.

`WeComPhone` plays WeCom's servers towards the callback URL: wechatpy's own enterprise
`WeChatCrypto` encrypts and signs every message. `WeComStaff` is the transcript driver.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
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
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.web import webhook_app
from bot.wecom.app import WeComDesk
from tests.harness import Bot, settle

CORP_ID = "ww5c3a1f0e9d8b7a6c"
AGENT_ID = 1000002
SECRET = "test-wecom-secret"
CALLBACK_TOKEN = "propdeskWeComToken"
AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210abcdefg"  # 43 characters
GIVEN_TOKEN = "GIVEN-WECOM-TOKEN"
ROBOT_KEY = "robot-key-1"


@dataclass
class Call:
    """One call the desk made to the fake WeCom API."""

    path: str
    query: dict[str, str]
    body: dict[str, Any]
    errcode: int
    at: float = field(default_factory=time.monotonic)


@dataclass
class Card:
    """One user's copy of a template card: its buttons until they are replaced."""

    userid: str
    task_id: str
    response_code: str
    title: str
    text: str
    buttons: list[tuple[str, str]]  # (text, key)
    replaced: str | None = None
    at: float = field(default_factory=time.monotonic)


class FakeWeCom:
    """A fake qyapi.weixin.qq.com for one self-built app."""

    def __init__(self, given_tokens: tuple[str, ...] = (GIVEN_TOKEN,)) -> None:
        self.calls: list[Call] = []
        self.cards: list[Card] = []
        self.valid_tokens: set[str] = set(given_tokens)
        self.expired_tokens: set[str] = set()
        self.token_fetches = 0
        self.used_codes: set[str] = set()
        self.uploads: list[tuple[str, int]] = []  # (type, bytes)
        self._faults: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> FakeWeCom:
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
                kind = self.headers.get("Content-Type", "")
                query = dict(parse_qsl(url.query))
                if kind.startswith("multipart/"):
                    body: dict[str, Any] = {"multipart": len(raw)}
                else:
                    body = json.loads(raw.decode("utf-8")) if raw else {}
                answer = fake._handle(url.path, query, body)
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
        """What PROPDESK_WECOM_API_BASE_URL points at."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def robot_url(self) -> str:
        """A group robot webhook URL on the fake."""
        return f"{self.base_url}/cgi-bin/webhook/send?key={ROBOT_KEY}"

    # --- control and views ---------------------------------------------------------------
    def fail(self, path_suffix: str, errcode: int, times: int = 1) -> None:
        """The next `times` calls to a path ending in `path_suffix` answer `errcode`."""
        with self._lock:
            self._faults.extend([(path_suffix, errcode)] * times)

    def expire(self, token: str) -> None:
        """WeCom considers this token expired from now on (42001)."""
        with self._lock:
            self.expired_tokens.add(token)

    def ok(self, path_suffix: str) -> list[Call]:
        """Successful calls to paths ending in `path_suffix`."""
        with self._lock:
            return [c for c in self.calls if c.path.endswith(path_suffix) and c.errcode == 0]

    def cards_of(self, userid: str) -> list[Card]:
        """The cards a user holds, oldest first."""
        with self._lock:
            return [c for c in self.cards if c.userid == userid]

    def messages_to(self, userid: str) -> list[dict[str, Any]]:
        """Everything a user received, in order: {"text", "buttons", "card"} dicts."""
        with self._lock:
            calls = [c for c in self.calls if c.path.endswith("message/send") and not c.errcode]
            cards = {(c.userid, c.task_id): c for c in self.cards}
        seen: list[dict[str, Any]] = []
        for call in calls:
            if userid not in str(call.body.get("touser", "")).split("|"):
                continue
            body = call.body
            kind = body.get("msgtype")
            if kind == "text":
                seen.append({"text": body["text"]["content"], "buttons": []})
            elif kind == "template_card":
                card = cards[(userid, body["template_card"]["task_id"])]
                seen.append(
                    {
                        "text": f"{card.title}\n{card.text}".strip(),
                        "buttons": card.buttons,
                        "card": card,
                    }
                )
            else:
                seen.append({"text": "", "buttons": [], kind: body.get(kind)})
        return seen

    # --- the API -------------------------------------------------------------------------
    def _handle(self, path: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if path == "/cgi-bin/gettoken":
            with self._lock:
                if query.get("corpid") != CORP_ID or query.get("corpsecret") != SECRET:
                    self.calls.append(Call(path, query, body, 40001))
                    return {"errcode": 40001, "errmsg": "invalid secret"}
                self.token_fetches += 1
                token = f"WTOKEN-{self.token_fetches}"
                self.valid_tokens = {t for t in self.valid_tokens if not t.startswith("WTOKEN-")}
                self.valid_tokens.add(token)
                self.calls.append(Call(path, query, body, 0))
                return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
        if path == "/cgi-bin/webhook/send":
            with self._lock:
                code = 0 if query.get("key") == ROBOT_KEY else 93000
                self.calls.append(Call(path, query, body, code))
                return {"errcode": code, "errmsg": "ok" if not code else "invalid webhook url"}
        with self._lock:
            token = query.get("access_token", "")
            errcode = 0
            if token in self.expired_tokens:
                errcode = 42001
            elif token not in self.valid_tokens:
                errcode = 40014
            else:
                for index, (suffix, code) in enumerate(self._faults):
                    if path.endswith(suffix):
                        errcode = code
                        del self._faults[index]
                        break
            answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
            if not errcode:
                if path == "/cgi-bin/message/send":
                    errcode, answer = self._send(body)
                elif path == "/cgi-bin/message/update_template_card":
                    errcode, answer = self._update(body)
                elif path == "/cgi-bin/media/upload":
                    media = f"MEDIA-{next(self._ids)}"
                    self.uploads.append((query.get("type", ""), int(body.get("multipart", 0))))
                    answer = {
                        "errcode": 0,
                        "errmsg": "ok",
                        "type": query.get("type"),
                        "media_id": media,
                    }
                else:
                    errcode = 404
            self.calls.append(Call(path, query, body, errcode))
            if errcode:
                return {"errcode": errcode, "errmsg": f"fake error {errcode}"}
            return answer

    def _send(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("agentid") != AGENT_ID:
            return 301002, {}
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        if not users:
            return 40031, {}
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "msgid": f"msg{next(self._ids)}"}
        if body.get("msgtype") == "template_card":
            card = body["template_card"]
            buttons = card.get("button_list") or []
            if card.get("card_type") != "button_interaction" or not 1 <= len(buttons) <= 6:
                return 40058, {}
            if any(c.task_id == card["task_id"] for c in self.cards):
                return 40058, {}  # task ids are unique within the app
            code = secrets.token_urlsafe(32)[:43]
            for userid in users:
                self.cards.append(
                    Card(
                        userid,
                        card["task_id"],
                        code,
                        card["main_title"]["title"],
                        card.get("sub_title_text", ""),
                        [(b["text"], b["key"]) for b in buttons],
                    )
                )
            answer["response_code"] = code
        return 0, answer

    def _update(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        code = str(body.get("response_code", ""))
        mine = [c for c in self.cards if c.response_code == code]
        if not mine or body.get("agentid") != AGENT_ID:
            return 40058, {}
        if code in self.used_codes:
            return 40199, {}  # a response_code works once
        self.used_codes.add(code)
        users = set(body.get("userids") or []) if not body.get("atall") else None
        for card in mine:
            if users is None or card.userid in users:
                card.replaced = str(body["button"]["replace_name"])
        return 0, {"errcode": 0, "errmsg": "ok", "invaliduser": []}


# --- WeCom's side of the callback URL ---------------------------------------------------------

_msg_ids = itertools.count(8_100_000_000_001)
_nonces = itertools.count(500_000)


def text_xml(userid: str, content: str, msg_id: int, at: int) -> str:
    """A text message as WeCom posts it (before encryption)."""
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{userid}]]></FromUserName><CreateTime>{at}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>"
    )


def card_event_xml(userid: str, card: Card, key: str, at: int) -> str:
    """A press on a template card button (template_card_event)."""
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{userid}]]></FromUserName><CreateTime>{at}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>"
        f"<EventKey><![CDATA[{key}]]></EventKey><TaskId><![CDATA[{card.task_id}]]></TaskId>"
        f"<CardType><![CDATA[button_interaction]]></CardType>"
        f"<ResponseCode><![CDATA[{secrets.token_urlsafe(20)}]]></ResponseCode>"
        f"<AgentID>{AGENT_ID}</AgentID></xml>"
    )


@dataclass
class WeComPhone:
    """Posts callbacks to the desk the way WeCom's servers do: encrypted and signed."""

    url: str
    clock: Any
    token: str = CALLBACK_TOKEN
    key: str = AES_KEY
    corp_id: str = CORP_ID

    @property
    def crypto(self) -> WeChatCrypto:
        """wechatpy's own WeCom crypto, as WeCom uses it."""
        return WeChatCrypto(self.token, self.key, self.corp_id)

    def request(self, xml: str, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
        """Query parameters and body of a genuine callback carrying `xml`."""
        stamp = str(int(self.clock().timestamp()) if timestamp is None else timestamp)
        nonce = str(next(_nonces))
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, stamp))["xml"]
        params = {"msg_signature": envelope["MsgSignature"], "timestamp": stamp, "nonce": nonce}
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt>"
            f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>"
        )
        return params, body.encode()

    async def post(self, xml: str, timestamp: int | None = None) -> int:
        """POST a callback; the HTTP status."""
        params, body = self.request(xml, timestamp)
        return await self.post_raw(params, body)

    async def post_raw(self, params: dict[str, str], body: bytes) -> int:
        """POST exactly these parameters and bytes; the HTTP status."""
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(self.url, params=params, content=body)
        return response.status_code


# --- running the WeCom channel next to a test bot -------------------------------------------


def wecom_settings(fake: FakeWeCom, **extra: Any) -> dict[str, Any]:
    """Settings that put the staff on WeCom against the fake API (a given access token)."""
    values: dict[str, Any] = {
        "staff_channel": "wecom",
        "wecom_corp_id": CORP_ID,
        "wecom_agent_id": AGENT_ID,
        "wecom_secret": SECRET,
        "wecom_token": CALLBACK_TOKEN,
        "wecom_encoding_aes_key": AES_KEY,
        "wecom_api_base_url": fake.base_url,
        "wecom_access_token": GIVEN_TOKEN,
    }
    values.update(extra)
    return values


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class WeComSide:
    """The WeCom channel of a running test bot: desk, callback server and its URL."""

    desk: WeComDesk
    server: uvicorn.Server
    task: asyncio.Task[None]
    url: str
    fake: FakeWeCom

    async def stop(self) -> None:
        """Stop serving and delivering."""
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 10)
        await self.desk.stop()


async def start_wecom(bot: Bot, fake: FakeWeCom, wechat: Any = None) -> WeComSide:
    """Serve the bot's ASGI app (Telegram, WeCom and, if given, WeChat routes) with uvicorn."""
    desk = WeComDesk(bot.services)
    desk.also_notify.append(bot.desk.sender.notify)
    if wechat is not None:
        desk.also_notify.append(wechat.sender.notify)
        wechat.also_notify.append(desk.sender.notify)
    desk.start()
    port = _free_port()
    app = webhook_app(bot.desk, wechat=wechat, wecom=desk)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    return WeComSide(desk, server, task, f"http://127.0.0.1:{port}/wecom", fake)


# --- the transcript driver -------------------------------------------------------------------


@dataclass
class WeComStaff:
    """A staff member in the WeCom app: types text, presses card buttons, reads replies."""

    bot: Bot
    side: WeComSide
    userid: str
    seen: int = 0
    last: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fake(self) -> FakeWeCom:
        """The fake WeCom API."""
        return self.side.fake

    @property
    def phone(self) -> WeComPhone:
        """WeCom's servers, posting for this user."""
        return WeComPhone(self.side.url, self.bot.services.clock)

    def received(self) -> list[dict[str, Any]]:
        """Everything this user received."""
        return self.fake.messages_to(self.userid)

    def texts(self, messages: list[dict[str, Any]] | None = None) -> list[str]:
        """Texts of messages (default: of the last exchange)."""
        return [m["text"] for m in (self.last if messages is None else messages)]

    def _now(self) -> int:
        return int(self.bot.services.clock().timestamp())

    async def send(self, text: str) -> list[dict[str, Any]]:
        """Type a message in the app chat."""
        msg_id = next(_msg_ids)
        return await self._post(text_xml(self.userid, text, msg_id, self._now()), str(msg_id))

    def find(self, label: str) -> tuple[Card, str]:
        """This user's newest card with a live button containing `label`, and its key."""
        for card in reversed(self.fake.cards_of(self.userid)):
            if card.replaced is not None:
                continue
            for text, key in card.buttons:
                if label in text:
                    return card, key
        raise AssertionError(f"{self.userid} has no live card button {label!r}")

    async def press(self, label: str) -> list[dict[str, Any]]:
        """Press the newest live card button containing `label`."""
        card, key = self.find(label)
        return await self.press_key(card, key)

    async def press_key(self, card: Card, key: str) -> list[dict[str, Any]]:
        """Press a button of a card by its key (also a stale or forged one)."""
        xml = card_event_xml(self.userid, card, key, self._now())
        from bot.wecom.inbound import update_id

        data = xmltodict.parse(xml)["xml"]
        return await self._post(xml, update_id(data))

    async def _post(self, xml: str, update: str) -> list[dict[str, Any]]:
        status = await self.phone.post(xml)
        assert status == 200, status
        await settle(self.bot, update)
        got = self.received()
        self.last = got[self.seen :]
        self.seen = len(got)
        return self.last
