"""The WeChat webhook: URL verification (GET) and messages (POST), plain or AES-encrypted.

Security, in order: body size (413), signature (403), timestamp within 5 minutes (403),
no DTD or entity declaration anywhere (400), decryption with the message signature (403 when
it does not match), well-formed XML (400); all but the signature as for WeCom's callback
(bot.wechat.callback). A MsgId seen before is answered "success" and ignored."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from wechatpy import parse_message
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot.wechat.callback import (
    Refused,
    check_timestamp,
    decrypt,
    endpoint,
    parse,
    read_body,
    safe_text,
)
from bot.wechat.inbound import event_of, to_inbound
from bot.wechat.render import combine
from handlers.inbox import Handled, handle_inbound
from handlers.messages import Inbound
from store import wechat as store
from store.db import once_more_if_read_only

if TYPE_CHECKING:
    from bot.wechat.app import WeChatDesk

log = logging.getLogger(__name__)
SUCCESS = "success"  # "got it; nothing to say now" — WeChat then shows nothing


def wechat_endpoint(desk: WeChatDesk) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of the WeChat webhook (GET and POST)."""
    return endpoint(
        "wechat webhook",
        lambda request: verify_url(desk, request),
        lambda request: receive(desk, request),
    )


def verify_url(desk: WeChatDesk, request: Request) -> Response:
    """WeChat's server check when the URL is configured: echo `echostr` if the signature holds."""
    _check_signature(desk, request)
    return PlainTextResponse(request.query_params.get("echostr", ""))


def _check_signature(desk: WeChatDesk, request: Request) -> None:
    params = request.query_params
    try:
        check_signature(
            desk.settings.wechat_token,
            params.get("signature", ""),
            params.get("timestamp", ""),
            params.get("nonce", ""),
        )
    except InvalidSignatureException:
        raise Refused(403, "bad signature") from None


@dataclass(frozen=True)
class Envelope:
    """A verified, decrypted message and how to answer it."""

    message: BaseMessage
    encrypted: bool
    nonce: str


def open_envelope(desk: WeChatDesk, request: Request, body: bytes) -> Envelope:
    """Check and decrypt a POSTed message; Refused for anything not genuine and well-formed."""
    _check_signature(desk, request)
    check_timestamp(desk.clock, request)
    text = safe_text(body)
    params = request.query_params
    encrypted = params.get("encrypt_type", "raw") == "aes"
    crypto = desk.crypto
    if encrypted:
        if crypto is None:
            raise Refused(400, "encrypted message but no PROPDESK_WECHAT_ENCODING_AES_KEY")
        text = decrypt(crypto, text, params)
    elif crypto is not None:
        raise Refused(403, "safe mode: messages must be encrypted")
    message = parse(parse_message, text)
    return Envelope(message, encrypted, params.get("nonce", ""))


async def receive(desk: WeChatDesk, request: Request) -> Response:
    """Handle one message; answer with the replies if they are ready in time, else "success"."""
    body = await read_body(request, desk.settings.wechat_max_body)
    envelope = open_envelope(desk, request, body)
    inbound = await asyncio.to_thread(
        once_more_if_read_only, lambda: _note_and_translate(desk, envelope.message)
    )
    if inbound is None:
        return PlainTextResponse(SUCCESS)
    openid = inbound.chat_id
    deadline = asyncio.get_running_loop().time() + desk.settings.wechat_reply_seconds
    desk.holding[openid] = desk.holding.get(openid, 0) + 1  # this process's sender waits
    try:
        work = asyncio.ensure_future(asyncio.to_thread(handle_inbound, desk.db, desk.desk, inbound))
        done, _pending = await asyncio.wait({work}, timeout=desk.settings.wechat_reply_seconds)
        if not done:  # too slow for a passive reply: the sender delivers when it is done
            work.add_done_callback(lambda done: _finished_late(desk, done))
            log.info("wechat update %s: no passive reply in time", inbound.update_id)
            return PlainTextResponse(SUCCESS)
        if not work.result().fresh:  # a message seen before (WeChat retries, replays): ignore
            return PlainTextResponse(SUCCESS)
        busy, reply = await asyncio.to_thread(_take_reply, desk, openid)
        while busy and asyncio.get_running_loop().time() < deadline - 0.1:
            await asyncio.sleep(0.05)  # a sender had just leased them: it gives them back
            busy, reply = await asyncio.to_thread(_take_reply, desk, openid)
    finally:
        left = desk.holding.get(openid, 1) - 1
        if left:
            desk.holding[openid] = left
        else:
            desk.holding.pop(openid, None)
    desk.written()
    if reply is None:
        return PlainTextResponse(SUCCESS)
    xml = TextReply(message=envelope.message, content=reply).render()
    if envelope.encrypted and desk.crypto is not None:
        stamp = str(int(desk.clock().timestamp()))
        xml = desk.crypto.encrypt_message(xml, envelope.nonce, stamp)
    return Response(xml, media_type="application/xml")


def _finished_late(desk: WeChatDesk, work: asyncio.Future[Handled]) -> None:
    """A message handled after its request was answered: its replies go by the API."""
    if not work.cancelled() and work.exception() is not None:
        log.error("wechat message failed after its request", exc_info=work.exception())
    desk.written()


def _note_and_translate(desk: WeChatDesk, message: BaseMessage) -> Inbound | None:
    """Record the follower (window, subscription) and read its menu, then build the Inbound."""
    openid = str(message._data["FromUserName"])
    now = desk.clock()
    event = event_of(message)
    with desk.db.unit_of_work() as uow:
        if event == "unsubscribe":
            store.record_subscription(uow.session, openid, now, subscribed=False)
            uow.commit()
            return None
        if event in ("subscribe", "subscribe_scan"):
            store.record_subscription(uow.session, openid, now, subscribed=True)
        else:
            store.record_inbound(uow.session, openid, now)
        menu = store.menu_of(uow.session, openid)
        uow.commit()
    return to_inbound(message, menu)


def _take_reply(desk: WeChatDesk, openid: str) -> tuple[bool, str | None]:
    """Everything waiting for this chat as one text (marked sent), or None to leave it queued;
    first: whether a sender holds one of them right now (worth asking again)."""
    with desk.db.unit_of_work() as uow:
        session = uow.session
        payloads = store.take_pending(session, openid, desk.clock())
        if not payloads:
            return payloads is None, None
        language = store.chat_language(session, openid) or desk.settings.default_language
        text = combine(payloads, openid, language)
        if text is None:
            return False, None  # not taken: rolled back, the sender delivers them one by one
        last: dict[str, Any] = payloads[-1]
        menu = [(str(label), str(data)) for row in last["buttons"] for label, data in row]
        store.set_menu(session, openid, menu)
        uow.commit()
        return False, text
