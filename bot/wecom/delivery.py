"""Deliver neutral Outbound messages to WeCom staff through the self-built app.

A private chat is a userid: text, or an interactive card when the message has buttons. A
group chat id ("@engineering") stands for its recipients (configured, or the department's
people with a WeCom account): one message/send reaches all of them, and the card's
`response_code` (kept as the outbox row's external id) later updates every copy in place."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from bot.outbox import Delivered, DeliveryResult, RetryLater, Undeliverable
from bot.wechat.api import TOKEN_ERRORS, ApiError
from bot.wechat.render import menu_of
from bot.wechat.token import TokenKeeper
from bot.wecom.api import WeComApi
from bot.wecom.groups import department_of, is_group
from bot.wecom.render import as_card, card_of, cut, cut_bytes, taken_line, text_of
from handlers.messages import Outbound
from store import wecom as store
from store.db import Database

log = logging.getLogger(__name__)
BUSY_ERRORS = frozenset({-1, -2, 45009, 45033})  # busy, network, frequency, concurrency
GONE_ERRORS = frozenset({60111, 81013, 82001})  # no such user, nobody valid, out of the app's range
REPLACE_CHARS = 30  # the text that replaces a card's buttons


class WeComDelivery:
    """Sends outbox messages of the "wecom" channel through the WeCom app API."""

    channel = store.CHANNEL

    def __init__(
        self,
        db: Database,
        api: WeComApi,
        tokens: TokenKeeper,
        *,
        default_language: str,
        card_users: dict[str, tuple[str, ...]],
        robot_url: str = "",
    ) -> None:
        self.db = db
        self.api = api
        self.tokens = tokens
        self.default_language = default_language
        self.card_users = card_users
        self.robot_url = robot_url

    async def deliver(self, message: Outbound) -> DeliveryResult:
        """Send one message to a user or to a group's recipients, classifying any failure."""
        try:
            if is_group(message.chat_id):
                return await self._group(message)
            return await self._private(message)
        except ApiError as exc:
            return _failure(exc)

    # --- groups: cards to every recipient, updated in place --------------------------------

    async def _group(self, message: Outbound) -> DeliveryResult:
        users = await asyncio.to_thread(self._recipients, message.chat_id)
        if not users:
            return Undeliverable(f"nobody on WeCom receives {message.chat_id}")
        if message.edit_message_id:
            await self._update_card(message, users)
            await self._mirror(message.text.split("\n", 1)[0] + "\n" + taken_line(message))
            return Delivered(None)
        if as_card(message):
            card = card_of(message, _task_id())
            answer = await self.tokens.call(lambda token: self.api.send(token, users, card))
            await self._mirror(message.text)
            code = str(answer.get("response_code") or "")
            if len(code) > 64:  # cannot be kept: later changes go as text instead
                log.warning("WeCom response_code of %d characters not kept", len(code))
                code = ""
            return Delivered(code or None)
        body = {"msgtype": "text", "text": {"content": text_of(message, self.default_language)}}
        answer = await self.tokens.call(lambda token: self.api.send(token, users, body))
        await self._mirror(message.text)
        return Delivered(str(answer.get("msgid") or "") or None)

    async def _update_card(self, message: Outbound, users: list[str]) -> None:
        """Every recipient's card shows the new last line instead of its buttons; when the
        card's code is used up or expired (72 h), the recipients get the text instead."""
        body = {
            "atall": 1,
            "response_code": message.edit_message_id,
            "button": {"replace_name": cut(taken_line(message), REPLACE_CHARS)},
        }
        try:
            await self.tokens.call(lambda token: self.api.update_card(token, body))
            return
        except ApiError as exc:
            if exc.errcode in TOKEN_ERRORS or exc.errcode in BUSY_ERRORS:
                raise
            log.info("WeCom card update refused (%s): sending the text", exc)
        text = {"msgtype": "text", "text": {"content": cut_bytes(message.text)}}
        await self.tokens.call(lambda token: self.api.send(token, users, text))

    async def _mirror(self, text: str) -> None:
        """Copy a group message to the group robot, read-only; its failure loses nothing."""
        if not self.robot_url:
            return
        try:
            await self.api.robot(self.robot_url, cut_bytes(text))
        except ApiError as exc:
            log.warning("WeCom group robot refused the copy: %s", exc)

    def _recipients(self, chat_id: str) -> list[str]:
        department = department_of(chat_id)
        configured = self.card_users.get(department or "all")
        if configured:
            return list(configured)
        with self.db.unit_of_work() as uow:
            return store.recipients(uow.session, department)

    # --- private chats ------------------------------------------------------------------

    async def _private(self, message: Outbound) -> DeliveryResult:
        userid = message.chat_id
        language = await asyncio.to_thread(self._language, userid)
        msgid = ""
        if message.upload is not None:
            kind = "image" if message.upload.kind == "photo" else "file"
            upload = message.upload
            media = await self.tokens.call(
                lambda token: self.api.upload(token, kind, upload.filename, upload.data)
            )
            body: dict[str, Any] = {"msgtype": kind, kind: {"media_id": media}}
            await self.tokens.call(lambda token: self.api.send(token, [userid], body))
        if message.text.strip() or menu_of(message):
            if as_card(message):
                body = card_of(message, _task_id())
            else:
                body = {"msgtype": "text", "text": {"content": text_of(message, language)}}
            answer = await self.tokens.call(lambda token: self.api.send(token, [userid], body))
            msgid = str(answer.get("msgid") or "")
        if message.photo:  # a photo taken in WeCom (a media id of this app)
            image = {"msgtype": "image", "image": {"media_id": message.photo}}
            await self.tokens.call(lambda token: self.api.send(token, [userid], image))
        if menu_of(message):  # a typed "1" picks the first option, as on the Official Account
            await asyncio.to_thread(self._remember_menu, message)
        return Delivered(msgid or None)

    def _language(self, userid: str) -> str:
        with self.db.unit_of_work() as uow:
            return store.chat_language(uow.session, userid) or self.default_language

    def _remember_menu(self, message: Outbound) -> None:
        with self.db.unit_of_work() as uow:
            store.set_menu(uow.session, message.chat_id, menu_of(message))
            uow.commit()


def _task_id() -> str:
    """A card's task id: unique within the app, letters, digits and _-@ only."""
    return "pd-" + secrets.token_hex(12)


def _failure(exc: ApiError) -> DeliveryResult:
    """What the outbox does about a WeCom error."""
    if exc.errcode in GONE_ERRORS:
        return Undeliverable(str(exc))
    if exc.errcode == 45009:  # frequency limit: wait a minute
        return RetryLater(60.0, str(exc))
    if exc.errcode in BUSY_ERRORS or exc.errcode in TOKEN_ERRORS:
        return RetryLater(None, str(exc))
    return Undeliverable(str(exc))
