"""The WeCom callback URL: URL verification (GET) and encrypted messages and events (POST).

WeCom always encrypts. Security, in order, as for the Official Account: body size (413),
timestamp within 5 minutes (403), no DTD or entity declaration (400), message signature
(403), decryption with our corp id (400 when it fails), well-formed XML (400), our agent
(403); the checks both share are bot.wechat.callback's. A message or card press seen before
(WeCom retries after 5 s) is ignored."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from wechatpy.enterprise import parse_message

from bot.wechat.callback import (
    Refused,
    check_timestamp,
    decrypt,
    endpoint,
    genuine,
    parse,
    read_body,
    safe_text,
)
from bot.wecom.inbound import to_inbound
from handlers.inbox import Handled, handle_inbound
from handlers.messages import Inbound
from store import wecom as store
from store.db import cannot_write, once_more_if_read_only

if TYPE_CHECKING:
    from bot.wecom.app import WeComDesk

log = logging.getLogger(__name__)
ANSWER_SECONDS = 4.0  # WeCom waits 5 s before retrying; a retry is a duplicate anyway


def wecom_endpoint(desk: WeComDesk) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of the WeCom callback URL (GET and POST)."""
    return endpoint(
        "wecom callback",
        lambda request: verify_url(desk, request),
        lambda request: receive(desk, request),
    )


def verify_url(desk: WeComDesk, request: Request) -> Response:
    """WeCom's check when the URL is saved: answer the decrypted `echostr` if it is genuine."""
    params = request.query_params
    with genuine("bad signature", "cannot decrypt echostr"):
        echo = desk.crypto.check_signature(
            params.get("msg_signature", ""),
            params.get("timestamp", ""),
            params.get("nonce", ""),
            params.get("echostr", ""),
        )
    return PlainTextResponse(echo.decode() if isinstance(echo, bytes) else str(echo))


def open_message(desk: WeComDesk, request: Request, body: bytes) -> dict[str, Any]:
    """Check and decrypt a POSTed callback; Refused for anything not genuine and well-formed."""
    check_timestamp(desk.clock, request)
    text = decrypt(desk.crypto, safe_text(body), request.query_params)
    data: dict[str, Any] = dict(parse(parse_message, text)._data)
    agent = str(data.get("AgentID") or "")
    if agent and agent != str(desk.settings.wecom_agent_id):
        raise Refused(403, "another agent's message")
    return data


async def receive(desk: WeComDesk, request: Request) -> Response:
    """Handle one callback; answer empty (every reply goes through the app message API), or
    503 when it was not stored because the database takes no writes, so WeCom sends it again."""
    body = await read_body(request, desk.settings.wecom_max_body)
    data = open_message(desk, request, body)
    inbound = await asyncio.to_thread(once_more_if_read_only, lambda: _translate(desk, data))
    if inbound is None:
        return PlainTextResponse("")
    work = asyncio.ensure_future(asyncio.to_thread(handle_inbound, desk.db, desk.desk, inbound))
    work.add_done_callback(lambda done: _finished(desk, done))
    await asyncio.wait({work}, timeout=ANSWER_SECONDS)
    failure = work.exception() if work.done() and not work.cancelled() else None
    if failure is not None and cannot_write(failure):
        raise failure  # not stored: the endpoint answers 503 and WeCom sends it again
    return PlainTextResponse("")


def _finished(desk: WeComDesk, work: asyncio.Future[Handled]) -> None:
    """The message is handled: its replies are in the outbox, wake the senders."""
    failure = None if work.cancelled() else work.exception()
    if failure is not None and not cannot_write(failure):  # that one is answered 503
        log.error("wecom message failed", exc_info=failure)
    desk.written()


def _translate(desk: WeComDesk, data: dict[str, Any]) -> Inbound | None:
    """The Inbound of a callback, reading the user's last numbered menu."""
    userid = str(data["FromUserName"])
    with desk.db.unit_of_work() as uow:
        menu = store.menu_of(uow.session, userid)
    return to_inbound(data, menu)
