"""What Tencent's two callback URLs share, the Official Account's webhook and the WeCom app's:
the GET/POST endpoint that answers a refusal with its HTTP status, the body size limit, the
timestamp (replay) guard, no DTD or entity declaration, AES decryption with the message
signature, and parsing the XML into a message that names its sender; a message the database
could not store (it takes no writes now) is answered 503, so that Tencent sends it again."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from wechatpy.exceptions import InvalidSignatureException

from store.clock import Clock
from store.db import cannot_write

log = logging.getLogger(__name__)
MAX_SKEW = 300  # seconds between Tencent's timestamp and our clock
FORBIDDEN_MARKUP = ("<!doctype", "<!entity", "<!element", "<!attlist")
M = TypeVar("M")


class Refused(Exception):
    """A request refused with an HTTP status (never a stack trace)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Decrypts(Protocol):
    """wechatpy's crypto of either product (Official Account or WeCom)."""

    def decrypt_message(self, msg: str, signature: str, timestamp: str, nonce: str) -> Any:
        """The plain XML of an encrypted envelope; raises when it is not genuine."""


def endpoint(
    name: str,
    verify: Callable[[Request], Response],
    receive: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint: GET verifies the URL, POST receives; a refusal is its status, and
    a message not stored because the database takes no writes is 503 (WeCom re-delivers on
    anything but 200; a retry of what was stored after all is a duplicate, ignored)."""

    async def serve(request: Request) -> Response:
        try:
            if request.method == "GET":
                return verify(request)
            return await receive(request)
        except Refused as exc:
            log.info("%s refused (%s): %s", name, exc.status, exc.reason)
            return PlainTextResponse(exc.reason, status_code=exc.status)
        except Exception as exc:
            if not cannot_write(exc):
                raise
            # one line, no traceback: the storage is at fault, not the message (issue 14.1)
            log.warning("%s: not stored, answered 503 (%s)", name, str(exc).splitlines()[0])
            return PlainTextResponse("not stored, send it again", status_code=503)

    return serve


def check_timestamp(clock: Clock, request: Request) -> None:
    """Refuse a callback whose signed timestamp is malformed or too far from the desk's clock
    (WeChat's and WeCom's replay guard alike)."""
    stamp = request.query_params.get("timestamp", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise Refused(403, "bad timestamp")
    if abs(clock().timestamp() - int(stamp)) > MAX_SKEW:
        raise Refused(403, "timestamp too far from now")


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) as soon as it is known to be over `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, "too large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, "too large")
        chunks.append(chunk)
    return b"".join(chunks)


def safe_text(raw: bytes | str) -> str:
    """The XML as text, refusing any document type or entity declaration before parsing."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise Refused(400, "not UTF-8") from None
    lowered = text.lower()
    if any(mark in lowered for mark in FORBIDDEN_MARKUP):
        raise Refused(400, "DTD or entity declarations are not accepted")
    return text


@contextmanager
def genuine(
    forged: str = "bad message signature", undecryptable: str = "cannot decrypt"
) -> Iterator[None]:
    """Around a signed decryption: a wrong signature is refused 403, anything that cannot be
    decrypted 400 (never a stack trace)."""
    try:
        yield
    except InvalidSignatureException:
        raise Refused(403, forged) from None
    except Exception:  # not base64, malformed envelope, bad padding, another app's or corp's
        raise Refused(400, undecryptable) from None


def decrypt(crypto: Decrypts, text: str, params: Mapping[str, str]) -> str:
    """The plain XML of an AES envelope whose message signature holds (403 when it does not,
    400 when it cannot be decrypted), checked again for declarations."""
    with genuine():
        plain = crypto.decrypt_message(
            text,
            params.get("msg_signature", ""),
            params.get("timestamp", ""),
            params.get("nonce", ""),
        )
    return safe_text(plain)


def parse(parse_message: Callable[[str], M | None], text: str) -> M:
    """The message wechatpy parses from the XML; 400 unless it is well-formed and has a
    sender."""
    try:
        message = parse_message(text)
    except Exception:  # expat errors, no <xml> root, no MsgType
        raise Refused(400, "malformed XML") from None
    data: dict[str, Any] = getattr(message, "_data", None) or {}
    if message is None or not data.get("FromUserName"):
        raise Refused(400, "malformed message")
    return message
