"""A fake Telegram Bot API server over real HTTP on 127.0.0.1, for tests.

The real python-telegram-bot ``Bot``/``Application`` talks to it through
``ApplicationBuilder().base_url(fake.base_url).base_file_url(fake.base_file_url)``.
The server runs in a background thread, so it serves sync and async tests alike::

    with FakeTelegram() as fake:
        alice = TgUser(id=1001, first_name="Alice")
        fake.user_text(alice, "/start")
        ...  # run the bot against fake.base_url
        fake.wait_for_sent(chat_id=alice.id)
        assert fake.messages_to(alice.id) == ["Welcome!"]

How PTB 22 encodes requests (see ``telegram/request/_requestparameter.py``): every
call is a POST; without uploads the body is ``application/x-www-form-urlencoded``,
with uploads it is ``multipart/form-data``.  Each field value is a string: ``str``
parameters are sent raw, everything else (ints, bools, dicts, lists) is JSON-dumped.
The fake therefore JSON-decodes each field, except for known free-text fields
(``text``, ``caption``, ``url`` ...), which stay strings even when they look numeric.
"""

from __future__ import annotations

import asyncio
import copy
import email.parser
import email.policy
import html.parser
import itertools
import json
import socket
import socketserver
import sys
import threading
import time
import traceback
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

JSONDict = dict[str, Any]
T = TypeVar("T")

BOT_ID = 777000
BOT_USERNAME = "propdesk_test_bot"
BOT_FIRST_NAME = "PropDesk Test Bot"
BOT_USER: JSONDict = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": BOT_FIRST_NAME,
    "username": BOT_USERNAME,
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

#: Methods whose successful calls produce an entry in :meth:`FakeTelegram.sent`.
OUTGOING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "editMessageText",
        "editMessageReplyMarkup",
    }
)

#: Form fields PTB sends raw that must never be JSON-decoded (``"123"`` stays a string).
_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "url",
        "secret_token",
        "callback_query_id",
        "inline_message_id",
        "file_id",
        "parse_mode",
        "data",
        "photo",
        "document",
        "video",
        "audio",
        "voice",
        "animation",
        "sticker",
        "thumbnail",
        "language_code",
        "ip_address",
        "description",
        "short_description",
        "name",
        "title",
        "business_connection_id",
        "message_effect_id",
    }
)

_ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_HTML_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "a", "code", "pre", "blockquote", "tg-emoji",
    }
)  # fmt: skip
_FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class TgUser:
    """A Telegram user that a test plays."""

    id: int
    first_name: str
    language_code: str = "zh-hans"
    username: str | None = None

    def to_dict(self) -> JSONDict:
        """Return the Bot API ``User`` dict."""
        data: JSONDict = {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }
        if self.username:
            data["username"] = self.username
        return data


@dataclass(frozen=True)
class TgChat:
    """A Telegram chat (a group when ``id`` is negative)."""

    id: int
    type: str = "private"
    title: str | None = None
    username: str | None = None

    def to_dict(self) -> JSONDict:
        """Return the Bot API ``Chat`` dict."""
        data: JSONDict = {"id": self.id, "type": self.type}
        if self.title:
            data["title"] = self.title
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class Call:
    """One recorded Bot API call (failed ones have ``failed=True``)."""

    method: str
    params: dict[str, Any]
    at: float
    failed: bool = False
    status: int = 200
    result: Any = None
    description: str | None = None


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a ``multipart/form-data`` request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _Fault:
    status: int
    description: str
    parameters: JSONDict | None


@dataclass
class _Queued:
    update: JSONDict
    duplicate: bool = False
    delivered: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


class ApiError(Exception):
    """Raised inside a method implementation to answer ``{"ok": false, ...}``."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        """Return the Bot API error body."""
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


# --------------------------------------------------------------------------- parsing helpers


def _decode_field(name: str, raw: str) -> Any:
    """Decode one form field the way PTB encoded it (JSON unless it is a plain string)."""
    if name in _STRING_FIELDS:
        return raw
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return raw if isinstance(value, str) else value


def _parse_body(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """Parse query string plus a JSON, urlencoded or multipart body into a params dict."""
    params: dict[str, Any] = {k: _decode_field(k, v) for k, v in parse_qsl(query, True)}
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params
    if ctype == "application/json":
        data = json.loads(body.decode("utf-8"))
        if not isinstance(data, dict):
            raise ApiError(400, "Bad Request: request body must be a JSON object")
        params.update(data)
    elif ctype == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True)
            data_bytes = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            if filename is not None:
                filename = filename.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                params[name] = UploadedFile(filename, part.get_content_type(), data_bytes)
            else:
                params[name] = _decode_field(name, data_bytes.decode("utf-8"))
    else:  # application/x-www-form-urlencoded, or anything else form-like
        text = body.decode("utf-8")
        params.update({k: _decode_field(k, v) for k, v in parse_qsl(text, True)})
    return params


class _TelegramHtml(html.parser.HTMLParser):
    """Validates Telegram's HTML subset and collects the plain text."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.stack: list[str] = []
        self.parts: list[str] = []

    def _byte_offset(self) -> int:
        line, col = self.getpos()
        lines = self.source.split("\n")
        prefix = "\n".join(lines[: line - 1]) + ("\n" if line > 1 else "") + lines[line - 1][:col]
        return len(prefix.encode("utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            raise ApiError(
                400,
                f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}" '
                f"at byte offset {self._byte_offset()}",
            )
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise ApiError(
                400,
                f"Bad Request: can't parse entities: Unmatched end tag at byte offset "
                f'{self._byte_offset()}, expected "</{self.stack[-1] if self.stack else ""}>", '
                f'found "</{tag}>"',
            )
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def plain_text(self) -> str:
        """Feed the source and return its text without markup."""
        self.feed(self.source)
        self.close()
        if self.stack:
            raise ApiError(
                400,
                "Bad Request: can't parse entities: Can't find end tag corresponding to "
                f'start tag "{self.stack[-1]}"',
            )
        return "".join(self.parts)


def _unique_id(file_id: str) -> str:
    """A stable file_unique_id derived from a file_id."""
    return f"AQAD{zlib.crc32(file_id.encode('utf-8')):010d}"


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _wire_markup(markup: Any) -> JSONDict | None:
    """Return the reply_markup as Telegram echoes it in a Message (inline keyboards only)."""
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return markup
    return None


def _wire_message(message: JSONDict) -> JSONDict:
    """Return a copy of a stored message as Telegram would send it to the bot."""
    wire = copy.deepcopy(message)
    markup = _wire_markup(wire.get("reply_markup"))
    if markup is None:
        wire.pop("reply_markup", None)
    return wire


def _check_markup(markup: Any) -> None:
    """Reject inline keyboards that Telegram would reject."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ApiError(400, 'Bad Request: field "inline_keyboard" must be an Array of Array')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise ApiError(
                    400, "Bad Request: can't parse inline keyboard button: Text is empty"
                )
            if "callback_data" in button:
                data = str(button["callback_data"]).encode("utf-8")
                if not 1 <= len(data) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            elif len(button) == 1:
                raise ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard",
                )


def _callback_datas(message: JSONDict) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [
        str(button["callback_data"])
        for row in markup.get("inline_keyboard", [])
        for button in row
        if "callback_data" in button
    ]


# --------------------------------------------------------------------------- HTTP layer


class _Server(ThreadingHTTPServer):
    """Threading HTTP server that can close idle keep-alive connections on stop."""

    daemon_threads = False  # server_close() joins the handler threads
    block_on_close = True

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup (slow when offline)."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        """Track the connection, then handle it in a thread."""
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection and close it."""
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open connection so blocked handler threads return."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about dropped connections; remember anything else."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            self.fake._note_error("".join(traceback.format_exception(exc)))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40ms stalls
    server: _Server
    timeout = 60

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        fake = self.server.fake
        with fake._cond:
            fake._answering += 1
        try:
            self._dispatch()
        finally:
            with fake._cond:
                fake._answering -= 1
                fake._cond.notify_all()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        body = self._read_body()
        path = unquote(url.path)
        if path.startswith("/file/bot"):
            _, _, file_path = path[len("/file/bot") :].partition("/")
            data = fake._file_bytes(file_path)
            if data is None:
                error = ApiError(404, "Not Found").payload()
                self._send(404, json.dumps(error).encode(), "application/json")
            else:
                self._send(200, data, "application/octet-stream")
            return
        status: int
        payload: JSONDict
        if path.startswith("/bot") and path.count("/") == 2:
            _token, _, method = path[len("/bot") :].partition("/")
            try:
                params = _parse_body(self.headers.get("Content-Type", ""), body, url.query)
            except (ApiError, ValueError) as exc:
                err = exc if isinstance(exc, ApiError) else ApiError(400, f"Bad Request: {exc}")
                status, payload = err.status, err.payload()
            else:
                status, payload = fake._handle(method, params)
        else:
            status, payload = 404, ApiError(404, "Not Found").payload()
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")


# --------------------------------------------------------------------------- the fake


class FakeTelegram:
    """A fake Bot API server: records bot calls, queues user updates, injects faults."""

    def __init__(self, max_long_poll: float = 1.0) -> None:
        self.max_long_poll = max_long_poll
        self.long_polls_waiting = 0  # getUpdates calls blocked right now
        self._answering = 0  # requests being answered right now
        self.webhook_url: str = ""
        self.webhook_secret: str | None = None
        self.errors: list[str] = []
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._calls: list[Call] = []
        self._outbox: list[tuple[str, JSONDict]] = []
        self._queue: list[_Queued] = []
        self._confirmed_below = 0
        self._next_update_id = 10001
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[tuple[str, int | None], float] = {}
        self._chats: dict[int, JSONDict] = {}
        self._message_ids: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._callback_ids = itertools.count(4_000_000_001)
        self._open_callbacks: set[str] = set()
        self._media_groups = itertools.count(13_000_000_001)
        self._file_seq = itertools.count(1)
        self._files: dict[str, str] = {}  # file_id -> file_path
        self._file_data: dict[str, bytes] = {}  # file_path -> bytes
        self._commands: dict[str, list[JSONDict]] = {}
        self._methods: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
            name.lower(): (name, fn)
            for name, fn in {
                "getMe": self._get_me,
                "deleteWebhook": self._delete_webhook,
                "setWebhook": self._set_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "getUpdates": self._get_updates,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "sendMediaGroup": self._send_media_group,
                "getFile": self._get_file,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMessage": self._delete_message,
                "close": lambda _params: True,
                "logOut": lambda _params: True,
            }.items()
        }

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeTelegram:
        """Start serving on 127.0.0.1 with an OS-chosen port."""
        if self._server is not None:
            raise RuntimeError("FakeTelegram is already running")
        with self._lock:
            self._stopping = False
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeTelegram:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the server, release long polls, close connections and join all threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            # released long polls still owe their (empty) answer: let them write it first
            self._cond.wait_for(lambda: self._answering == 0, timeout=0.5)
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._server is None:
            raise RuntimeError("FakeTelegram is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Value for ``ApplicationBuilder().base_url(...)`` (PTB appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Value for ``ApplicationBuilder().base_file_url(...)``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ----------------------------------------------------------------- inspection

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every recorded bot call, failed ones included, in order."""
        with self._lock:
            return list(self._calls)

    def calls_of(self, method: str, *, include_failed: bool = True) -> list[Call]:
        """Recorded calls of one method (optionally only the successful ones)."""
        return [c for c in self.calls if c.method == method and (include_failed or not c.failed)]

    def sent(self, chat_id: int | None = None) -> list[JSONDict]:
        """Outgoing messages (sends and edits, as Message dicts), optionally for one chat."""
        with self._lock:
            return [
                copy.deepcopy(msg)
                for _, msg in self._outbox
                if chat_id is None or msg["chat"]["id"] == chat_id
            ]

    def sent_since(self, start: int) -> list[JSONDict]:
        """Outgoing messages from position `start` of the record on (all chats): a reader
        that keeps up with many chats takes only what is new, not a copy of everything."""
        with self._lock:
            return [copy.deepcopy(msg) for _, msg in self._outbox[start:]]

    def messages_to(self, chat_id: int) -> list[str]:
        """Texts/captions the bot sent or edited into a chat, in order ("" for bare media)."""
        with self._lock:
            return [
                str(msg.get("text") or msg.get("caption") or "")
                for method, msg in self._outbox
                if msg["chat"]["id"] == chat_id and method != "editMessageReplyMarkup"
            ]

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """The current state of a stored message (``None`` if unknown or deleted)."""
        with self._lock:
            msg = self._messages.get((chat_id, message_id))
            return copy.deepcopy(msg) if msg is not None else None

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """Commands last set with setMyCommands for a scope/language."""
        with self._lock:
            return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    def pending_updates(self) -> list[JSONDict]:
        """Updates still queued (not yet confirmed by an offset)."""
        with self._lock:
            return [copy.deepcopy(e.update) for e in self._queue]

    def clear(self) -> None:
        """Forget recorded calls and sent messages (queued updates are kept)."""
        with self._lock:
            self._calls.clear()
            self._outbox.clear()

    def add_file(self, file_id: str, data: bytes, file_path: str | None = None) -> str:
        """Register downloadable bytes for a file_id; returns its file_path."""
        with self._lock:
            path = file_path or self._files.get(file_id) or f"documents/file_{next(self._file_seq)}"
            self._files[file_id] = path
            self._file_data[path] = data
            return path

    # ----------------------------------------------------------------- waiting

    def wait_for(
        self, predicate: Callable[[list[Call]], T], timeout: float = 5.0, interval: float = 0.01
    ) -> T:
        """Poll ``predicate(calls)`` until it returns something truthy; return that value."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate(self.calls)
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(self._timeout_message(timeout))
            time.sleep(interval)

    async def await_for(
        self, predicate: Callable[[list[Call]], T], timeout: float = 5.0, interval: float = 0.01
    ) -> T:
        """Async :meth:`wait_for` that yields to the event loop while polling."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate(self.calls)
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(self._timeout_message(timeout))
            await asyncio.sleep(interval)

    def wait_for_sent(
        self, chat_id: int | None = None, count: int = 1, timeout: float = 5.0
    ) -> list[JSONDict]:
        """Wait until at least ``count`` outgoing messages exist (for a chat); return them."""
        return self.wait_for(lambda _: self._sent_if(chat_id, count), timeout)

    async def await_sent(
        self, chat_id: int | None = None, count: int = 1, timeout: float = 5.0
    ) -> list[JSONDict]:
        """Async :meth:`wait_for_sent`."""
        return await self.await_for(lambda _: self._sent_if(chat_id, count), timeout)

    def _sent_if(self, chat_id: int | None, count: int) -> list[JSONDict]:
        sent = self.sent(chat_id)
        return sent if len(sent) >= count else []

    def _timeout_message(self, timeout: float) -> str:
        recent = [
            f"{c.method}{' FAILED ' + str(c.status) if c.failed else ''} {c.params}"
            for c in self.calls
            if c.method != "getUpdates"
        ][-10:]
        return f"condition not met within {timeout}s; recent calls: {recent}; errors: {self.errors}"

    # ----------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 3,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``status`` (429 → RetryAfter)."""
        parameters: JSONDict | None = None
        if status == 429:
            description = description or f"Too Many Requests: retry after {retry_after}"
            parameters = {"retry_after": retry_after}
        description = description or _ERROR_DESCRIPTIONS.get(status, f"Error {status}")
        with self._lock:
            queue = self._faults.setdefault(method.lower(), deque())
            queue.extend(_Fault(status, description, parameters) for _ in range(times))

    def delay(self, method: str, seconds: float, chat_id: int | None = None) -> None:
        """Answer later calls of ``method`` (to ``chat_id``, or to any chat) ``seconds`` late,
        like a slow network; 0 takes the delay away."""
        with self._lock:
            self._delays[(method.lower(), chat_id)] = seconds

    # ----------------------------------------------------------------- user-side updates

    def enqueue(self, update: JSONDict) -> JSONDict:
        """Queue a raw update (assigning a fresh ``update_id`` if missing); return it."""
        update = copy.deepcopy(update)
        with self._cond:
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
            self._queue.append(_Queued(update))
            self._cond.notify_all()
        return copy.deepcopy(update)

    def duplicate(self, update: JSONDict) -> JSONDict:
        """Re-queue the very same update (same ``update_id``), e.g. for dedup tests."""
        update = copy.deepcopy(update)
        with self._cond:
            self._queue.append(_Queued(update, duplicate=True))
            self._cond.notify_all()
        return copy.deepcopy(update)

    def user_text(self, user: TgUser, text: str, chat: TgChat | None = None) -> JSONDict:
        """Queue a text message from ``user``; ``/command`` gets a bot_command entity."""
        content: JSONDict = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        return self._user_message(user, chat, content)

    def user_contact(self, user: TgUser, phone_number: str, chat: TgChat | None = None) -> JSONDict:
        """Queue a shared contact (the user's own) from ``user``."""
        contact = {"phone_number": phone_number, "first_name": user.first_name, "user_id": user.id}
        return self._user_message(user, chat, {"contact": contact})

    def user_photo(
        self,
        user: TgUser,
        file_id: str | None = None,
        media_group_id: str | None = None,
        caption: str | None = None,
        chat: TgChat | None = None,
        data: bytes = _FAKE_JPEG,
    ) -> JSONDict:
        """Queue a photo message from ``user`` (largest size carries ``file_id``)."""
        file_id = file_id or f"AgACAgUAAxkBAAI{next(self._file_seq):06d}"
        with self._lock:
            if file_id not in self._files:
                self.add_file(file_id, data, f"photos/file_{next(self._file_seq)}.jpg")
        content: JSONDict = {"photo": self._photo_sizes(file_id, len(data))}
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        if caption is not None:
            content["caption"] = caption
        return self._user_message(user, chat, content)

    def user_press(
        self, user: TgUser, callback_data: str, message: JSONDict, *, strict: bool = True
    ) -> JSONDict:
        """Queue a callback_query for a button of a bot ``message`` (as from :meth:`sent`)."""
        chat_id = int(message["chat"]["id"])
        with self._cond:
            key = (chat_id, int(message["message_id"]))
            current = self._messages.setdefault(key, copy.deepcopy(message))
            if strict and callback_data not in _callback_datas(current):
                raise ValueError(
                    f"message {key} has no button with callback_data {callback_data!r}; "
                    f"buttons: {_callback_datas(current)} (pass strict=False to force)"
                )
            query_id = str(next(self._callback_ids))
            self._open_callbacks.add(query_id)
            query = {
                "id": query_id,
                "from": user.to_dict(),
                "chat_instance": f"{abs(chat_id) * 31 + 7}",
                "data": callback_data,
                "message": _wire_message(current),
            }
        return self.enqueue({"callback_query": query})

    def _user_message(self, user: TgUser, chat: TgChat | None, content: JSONDict) -> JSONDict:
        with self._lock:
            if chat is None:
                chat_dict: JSONDict = {
                    "id": user.id,
                    "type": "private",
                    "first_name": user.first_name,
                }
                if user.username:
                    chat_dict["username"] = user.username
            else:
                chat_dict = chat.to_dict()
            self._chats[chat_dict["id"]] = chat_dict
            message: JSONDict = {
                "message_id": self._next_message_id(chat_dict["id"]),
                "date": int(time.time()),
                "chat": copy.deepcopy(chat_dict),
                "from": user.to_dict(),
                **content,
            }
            self._messages[(chat_dict["id"], message["message_id"])] = message
        return self.enqueue({"message": message})

    # ----------------------------------------------------------------- webhook mode

    def post_update_to(
        self, url: str, update: JSONDict, secret_token: str | None = None, timeout: float = 10.0
    ) -> int:
        """POST an update to a webhook URL (sync; do not call from the bot's event loop)."""
        response = httpx.post(
            url, json=update, headers=self._webhook_headers(secret_token), timeout=timeout
        )
        return response.status_code

    async def apost_update_to(
        self, url: str, update: JSONDict, secret_token: str | None = None, timeout: float = 10.0
    ) -> int:
        """POST an update to a webhook URL without blocking the event loop."""
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(
                url, json=update, headers=self._webhook_headers(secret_token)
            )
        return response.status_code

    async def apush_webhook(self, timeout: float = 10.0) -> list[int]:
        """Deliver queued updates to the registered webhook, as Telegram would; return statuses.

        Updates answered with a 2xx status leave the queue; the others stay for a retry.
        """
        with self._lock:
            url, secret = self.webhook_url, self.webhook_secret
            entries = list(self._queue)
        if not url:
            raise RuntimeError("no webhook is set (the bot has not called setWebhook)")
        statuses: list[int] = []
        async with httpx.AsyncClient(timeout=timeout) as client:
            for entry in entries:
                response = await client.post(
                    url, json=entry.update, headers=self._webhook_headers(secret)
                )
                statuses.append(response.status_code)
                if response.is_success:
                    with self._lock:
                        self._queue = [e for e in self._queue if e is not entry]
        return statuses

    @staticmethod
    def _webhook_headers(secret_token: str | None) -> dict[str, str]:
        if secret_token is None:
            return {}
        return {"X-Telegram-Bot-Api-Secret-Token": secret_token}

    # ----------------------------------------------------------------- dispatch

    def _note_error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def _handle(self, method: str, params: dict[str, Any]) -> tuple[int, JSONDict]:
        """Run one Bot API method; record it; return (HTTP status, body)."""
        started = time.time()
        name, impl = self._methods.get(method.lower(), (method, None))
        with self._lock:
            try:
                target: int | None = int(params.get("chat_id"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                target = None
            wait = self._delays.get((method.lower(), target)) or self._delays.get(
                (method.lower(), None), 0.0
            )
        if wait:
            time.sleep(wait)  # outside the lock: other requests go on meanwhile
        with self._lock:
            faults = self._faults.get(method.lower())
            fault = faults.popleft() if faults else None
        try:
            if fault is not None:
                raise ApiError(fault.status, fault.description, fault.parameters)
            if impl is None:
                raise ApiError(404, "Not Found: method not found")
            with self._lock:
                result = impl(params)
        except ApiError as exc:
            self._record(Call(name, params, started, True, exc.status, None, exc.description))
            return exc.status, exc.payload()
        except Exception as exc:  # a bug in the fake or an unexpected parameter shape
            description = f"Internal Server Error: {type(exc).__name__}: {exc}"
            self._note_error(f"{name}: {description}")
            self._record(Call(name, params, started, True, 500, None, description))
            return 500, {"ok": False, "error_code": 500, "description": description}
        self._record(Call(name, params, started, False, 200, copy.deepcopy(result)))
        return 200, {"ok": True, "result": result}

    def _record(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()

    # ----------------------------------------------------------------- helpers

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _chat_id(self, params: dict[str, Any]) -> int:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(raw, bool):
            raise ApiError(400, "Bad Request: chat not found")
        if isinstance(raw, int):
            return raw
        text = str(raw)
        if text.lstrip("-").isdigit():
            return int(text)
        for chat in self._chats.values():
            if text.startswith("@") and chat.get("username") == text[1:]:
                return int(chat["id"])
        raise ApiError(400, "Bad Request: chat not found")

    def _chat_dict(self, chat_id: int) -> JSONDict:
        known = self._chats.get(chat_id)
        if known is not None:
            return copy.deepcopy(known)
        return {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}

    @staticmethod
    def _render(params: dict[str, Any], key: str, limit: int, too_long: str) -> str | None:
        """Apply parse_mode (HTML is validated and stripped) and length limits."""
        raw = params.get(key)
        if raw is None:
            return None
        text = str(raw)
        parse_mode = str(params.get("parse_mode") or "").lower()
        if parse_mode == "html":
            text = _TelegramHtml(text).plain_text()
        if len(text) > limit:
            raise ApiError(400, too_long)
        return text

    def _text(self, params: dict[str, Any]) -> str:
        text = self._render(params, "text", 4096, "Bad Request: message is too long")
        if not text or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        return text

    def _caption(self, params: dict[str, Any]) -> str | None:
        return self._render(params, "caption", 1024, "Bad Request: message caption is too long")

    def _markup(self, params: dict[str, Any]) -> Any:
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError as exc:
                raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON") from exc
        _check_markup(markup)
        return markup

    def _bot_message(self, method: str, chat_id: int, content: JSONDict, markup: Any) -> JSONDict:
        message: JSONDict = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat_dict(chat_id),
            "from": dict(BOT_USER),
            **{k: v for k, v in content.items() if v is not None},
        }
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(chat_id, message["message_id"])] = message
        self._outbox.append((method, copy.deepcopy(message)))
        return _wire_message(message)

    def _stored(self, params: dict[str, Any], not_found: str) -> JSONDict:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat_id = self._chat_id(params)
        try:
            message_id = int(params.get("message_id") or 0)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, "Bad Request: message identifier is not specified") from exc
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise ApiError(400, not_found)
        return message

    def _new_file(self, value: Any, prefix: str, path_dir: str, suffix: str) -> tuple[str, int]:
        """Return (file_id, size) for an uploaded file or a file_id/URL string."""
        if isinstance(value, UploadedFile):
            file_id = f"{prefix}{next(self._file_seq):06d}"
            self.add_file(file_id, value.data, f"{path_dir}/file_{next(self._file_seq)}{suffix}")
            return file_id, len(value.data)
        if not value:
            raise ApiError(400, "Bad Request: there is no file in the request")
        text = str(value)
        if text.startswith(("http://", "https://", "attach://")):
            file_id = f"{prefix}{next(self._file_seq):06d}"
            self.add_file(file_id, _FAKE_JPEG, f"{path_dir}/file_{next(self._file_seq)}{suffix}")
            return file_id, len(_FAKE_JPEG)
        return text, len(self._file_data.get(self._files.get(text, ""), _FAKE_JPEG))

    @staticmethod
    def _photo_sizes(file_id: str, size: int) -> list[JSONDict]:
        dims = [(90, 67), (320, 240), (1280, 960)]
        return [
            {
                "file_id": file_id if i == len(dims) - 1 else f"{file_id}_{w}",
                "file_unique_id": _unique_id(f"{file_id}:{w}"),
                "width": w,
                "height": h,
                "file_size": max(1, size * (i + 1) // len(dims)),
            }
            for i, (w, h) in enumerate(dims)
        ]

    @staticmethod
    def _document(file_id: str, size: int, upload: Any) -> JSONDict:
        doc: JSONDict = {
            "file_id": file_id,
            "file_unique_id": _unique_id(file_id),
            "file_size": size,
        }
        if isinstance(upload, UploadedFile):
            if upload.filename:
                doc["file_name"] = upload.filename
            if upload.content_type:
                doc["mime_type"] = upload.content_type
        return doc

    def uploaded(self, file_id: str) -> bytes | None:
        """The bytes the bot uploaded under a file id (photos and documents it sent)."""
        with self._lock:
            return self._file_data.get(self._files.get(file_id, ""))

    def _file_bytes(self, file_path: str) -> bytes | None:
        with self._lock:
            return self._file_data.get(file_path)

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> str:
        scope = scope or {"type": "default"}
        return f"{json.dumps(scope, sort_keys=True)}|{language_code or ''}"

    # ----------------------------------------------------------------- method implementations

    def _get_me(self, params: dict[str, Any]) -> JSONDict:
        return dict(BOT_USER)

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url, self.webhook_secret = "", None
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None:
            secret = str(secret)
            allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
            if not 1 <= len(secret) <= 256 or not set(secret) <= allowed:
                raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self.webhook_url, self.webhook_secret = url, (secret if url else None)
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> JSONDict:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            del self._queue[: max(0, len(self._queue) + offset)]
            return
        self._confirmed_below = max(self._confirmed_below, offset)
        self._queue = [
            e
            for e in self._queue
            if e.update_id >= self._confirmed_below or (e.duplicate and not e.delivered)
        ]

    def _get_updates(self, params: dict[str, Any]) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), self.max_long_poll)
        deadline = time.monotonic() + timeout
        self._confirm(offset)
        self.long_polls_waiting += 1
        try:
            while not self._queue and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        finally:
            self.long_polls_waiting -= 1
        batch = self._queue[:limit]
        for entry in batch:
            entry.delivered = True
        return [copy.deepcopy(e.update) for e in batch]

    def _send_message(self, params: dict[str, Any]) -> JSONDict:
        chat_id = self._chat_id(params)
        text = self._text(params)
        return self._bot_message("sendMessage", chat_id, {"text": text}, self._markup(params))

    def _edit_message_text(self, params: dict[str, Any]) -> JSONDict:
        message = self._stored(params, "Bad Request: message to edit not found")
        if message["from"]["id"] != BOT_ID:
            raise ApiError(400, "Bad Request: message can't be edited")
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = self._text(params)
        markup = self._markup(params)
        if text == message["text"] and _wire_markup(markup) == _wire_markup(
            message.get("reply_markup")
        ):
            raise ApiError(400, _NOT_MODIFIED)
        return self._apply_edit("editMessageText", message, {"text": text}, markup)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> JSONDict:
        message = self._stored(params, "Bad Request: message to edit not found")
        if message["from"]["id"] != BOT_ID:
            raise ApiError(400, "Bad Request: message can't be edited")
        markup = self._markup(params)
        if _wire_markup(markup) == _wire_markup(message.get("reply_markup")):
            raise ApiError(400, _NOT_MODIFIED)
        return self._apply_edit("editMessageReplyMarkup", message, {}, markup)

    def _apply_edit(
        self, method: str, message: JSONDict, changes: JSONDict, markup: Any
    ) -> JSONDict:
        message.update(changes)
        message["edit_date"] = int(time.time())
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        self._outbox.append((method, copy.deepcopy(message)))
        return _wire_message(message)

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise ApiError(400, _QUERY_INVALID)
        self._open_callbacks.discard(query_id)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _send_photo(self, params: dict[str, Any]) -> JSONDict:
        chat_id = self._chat_id(params)
        caption = self._caption(params)
        markup = self._markup(params)
        file_id, size = self._new_file(params.get("photo"), "AgACAgIAAxkDAAI", "photos", ".jpg")
        content = {"photo": self._photo_sizes(file_id, size), "caption": caption}
        return self._bot_message("sendPhoto", chat_id, content, markup)

    def _send_document(self, params: dict[str, Any]) -> JSONDict:
        chat_id = self._chat_id(params)
        caption = self._caption(params)
        markup = self._markup(params)
        upload = params.get("document")
        file_id, size = self._new_file(upload, "BQACAgIAAxkDAAI", "documents", "")
        content = {"document": self._document(file_id, size, upload), "caption": caption}
        return self._bot_message("sendDocument", chat_id, content, markup)

    def _send_media_group(self, params: dict[str, Any]) -> list[JSONDict]:
        chat_id = self._chat_id(params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of messages in the media group")
        group_id = str(next(self._media_groups))
        results: list[JSONDict] = []
        for item in media:
            source: Any = item.get("media")
            if isinstance(source, str) and source.startswith("attach://"):
                source = params.get(source[len("attach://") :])
            caption = self._render(
                item, "caption", 1024, "Bad Request: message caption is too long"
            )
            content: JSONDict = {"media_group_id": group_id, "caption": caption}
            if item.get("type") == "photo":
                file_id, size = self._new_file(source, "AgACAgIAAxkDAAI", "photos", ".jpg")
                content["photo"] = self._photo_sizes(file_id, size)
            else:
                file_id, size = self._new_file(source, "BQACAgIAAxkDAAI", "documents", "")
                content["document"] = self._document(file_id, size, source)
            results.append(self._bot_message("sendMediaGroup", chat_id, content, None))
        return results

    def _get_file(self, params: dict[str, Any]) -> JSONDict:
        file_id = str(params.get("file_id") or "")
        if not file_id:
            raise ApiError(400, "Bad Request: invalid file_id")
        path = self._files.get(file_id) or self.add_file(file_id, _FAKE_JPEG)
        return {
            "file_id": file_id,
            "file_unique_id": _unique_id(file_id),
            "file_size": len(self._file_data[path]),
            "file_path": path,
        }

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: commands must be an array")
        for command in commands:
            name = str(command.get("command", ""))
            if not 1 <= len(name) <= 32 or not all(
                c.islower() or c.isdigit() or c == "_" for c in name
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = copy.deepcopy(commands)
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[JSONDict]:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        return copy.deepcopy(self._commands.get(key, []))

    def _delete_message(self, params: dict[str, Any]) -> bool:
        message = self._stored(params, "Bad Request: message to delete not found")
        del self._messages[(message["chat"]["id"], message["message_id"])]
        return True
