"""Deliver neutral Outbound messages to WeChat: customer-service messages inside the 48-hour
window after the person's last message, template messages outside it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from bot.outbox import Delivered, DeliveryResult, RetryLater, Undeliverable
from bot.wechat.api import (
    BUSY_ERRORS,
    GONE_ERRORS,
    TOKEN_ERRORS,
    WINDOW_ERRORS,
    ApiError,
    WeChatApi,
)
from bot.wechat.render import menu_of, render
from bot.wechat.token import TokenKeeper
from handlers.i18n import translator
from handlers.messages import Outbound
from store import wechat as store
from store.clock import Clock
from store.db import Database

log = logging.getLogger(__name__)
DEFAULT_KIND = "notice"
FIELD_LIMIT = 200  # template field values are short
HOLD_SECONDS = 1.0  # how long a message waits while its chat's webhook request may answer it


# which template a message outside the 48-hour window uses, told by what its buttons do;
# every other message (status changes, payment reminders, notes) is a "notice"
KIND_BY_ACTION = {
    "cbans": "callback",  # a callback survey (回访, R20-R22)
    "accept": "signoff",  # the work is done: accept or not fixed, then rate (R9)
    "reject": "signoff",
    "rate": "signoff",
    "rebook": "visit",  # owner not at home: re-book a visit (R7)
    "rbslot": "visit",
}


def template_kind(message: Outbound) -> str:
    """The kind of a message, which picks its template: see KIND_BY_ACTION."""
    for row in message.buttons:
        for button in row:
            parts = button.data.split("|")
            if len(parts) > 1 and parts[1] in KIND_BY_ACTION:
                return KIND_BY_ACTION[parts[1]]
    return DEFAULT_KIND


class WeChatDelivery:
    """Sends outbox messages of the "wechat" channel through the WeChat API."""

    channel = store.CHANNEL

    def __init__(
        self,
        db: Database,
        api: WeChatApi,
        tokens: TokenKeeper,
        clock: Clock,
        *,
        templates: dict[str, str],
        default_language: str,
        timezone: tzinfo,
        holding: Mapping[str, int] | None = None,
    ) -> None:
        self.db = db
        self.api = api
        self.tokens = tokens
        self.clock = clock
        self.templates = templates
        self.default_language = default_language
        self.timezone = timezone
        self.holding: Mapping[str, int] = holding if holding is not None else {}

    async def deliver(self, message: Outbound) -> DeliveryResult:
        """Send one message by the API its window allows, classifying any failure."""
        if message.chat_id in self.holding:  # its webhook request may answer it passively
            return RetryLater(HOLD_SECONDS, "a passive reply is being prepared")
        language, window = await asyncio.to_thread(self._chat_state, message.chat_id)
        try:
            if window:
                try:
                    await self._custom(message, language)
                    result: DeliveryResult = Delivered(None)
                except ApiError as exc:
                    if exc.errcode not in WINDOW_ERRORS:
                        raise
                    log.info("WeChat window closed for %s (%s): template", message.chat_id, exc)
                    result = await self._template(message, language)
            else:
                result = await self._template(message, language)
        except ApiError as exc:
            return _failure(exc)
        # a notice without choices (a reminder, a status note) leaves the owner's last menu
        # live: a survey answered after a later reminder still finds its options
        if isinstance(result, Delivered) and menu_of(message):
            await asyncio.to_thread(self._remember_menu, message)
        return result

    async def _custom(self, message: Outbound, language: str) -> None:
        openid = message.chat_id
        if message.upload is not None:  # charts and reports need media upload: not built
            log.warning("WeChat: the file %s for %s is not sent", message.upload.filename, openid)
        text = render(message, language)
        if text:
            body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
            await self.tokens.call(lambda token: self.api.send_custom(token, body))
        if message.photo:
            image = {"touser": openid, "msgtype": "image", "image": {"media_id": message.photo}}
            await self.tokens.call(lambda token: self.api.send_custom(token, image))

    async def _template(self, message: Outbound, language: str) -> DeliveryResult:
        kind = template_kind(message)
        template_id = self.templates.get(kind) or self.templates.get(DEFAULT_KIND)
        if not template_id:
            return Undeliverable(
                f"outside the 48-hour window and no template for {kind!r} "
                "(PROPDESK_WECHAT_TEMPLATES)"
            )
        text = render(message, language)
        if not text:
            return Undeliverable("a photo alone cannot go out as a template message")
        _ = translator(language)
        when = self.clock().astimezone(self.timezone).strftime("%Y-%m-%d %H:%M")
        body: dict[str, Any] = {
            "touser": message.chat_id,
            "template_id": template_id,
            "data": {
                "first": {"value": text[:FIELD_LIMIT]},
                "keyword1": {"value": when},
                "remark": {"value": _("Reply to this account to answer.")},
            },
        }
        msgid = await self.tokens.call(lambda token: self.api.send_template(token, body))
        return Delivered(msgid or None)

    def _chat_state(self, openid: str) -> tuple[str, bool]:
        with self.db.unit_of_work() as uow:
            language = store.chat_language(uow.session, openid) or self.default_language
            return language, store.window_open(uow.session, openid, self.clock())

    def _remember_menu(self, message: Outbound) -> None:
        with self.db.unit_of_work() as uow:
            store.set_menu(uow.session, message.chat_id, menu_of(message))
            uow.commit()


def _failure(exc: ApiError) -> DeliveryResult:
    """What the outbox does about a WeChat error."""
    if exc.errcode in GONE_ERRORS:
        return Undeliverable(str(exc))
    if exc.errcode == 45009:  # daily API quota: try again much later
        return RetryLater(3600.0, str(exc))
    if exc.errcode in BUSY_ERRORS or exc.errcode == -2 or exc.errcode in TOKEN_ERRORS:
        return RetryLater(None, str(exc))
    return Undeliverable(str(exc))
