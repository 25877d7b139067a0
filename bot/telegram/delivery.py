"""Deliver neutral Outbound messages through the Telegram Bot API."""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta
from typing import Any

from telegram import Bot, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter
from telegram.warnings import PTBDeprecationWarning

from bot.outbox import Delivered, DeliveryResult, RetryLater, Undeliverable
from bot.telegram.inbound import CHANNEL
from handlers.messages import Outbound

log = logging.getLogger(__name__)
Markup = dict[str, Any] | None


def markup(message: Outbound) -> Markup:
    """Inline buttons, a share-contact keyboard, or the removal of that keyboard, as the Bot
    API's JSON (no PTB objects: they would only be turned back into this)."""
    if message.ask_contact:
        return {
            "keyboard": [[{"text": message.ask_contact, "request_contact": True}]],
            "resize_keyboard": True,
            "one_time_keyboard": True,
        }
    if message.buttons:
        return {
            "inline_keyboard": [
                [{"text": b.label, "callback_data": b.data} for b in row] for row in message.buttons
            ]
        }
    if message.remove_keyboard:
        return {"remove_keyboard": True}
    return None


def _seconds(exc: RetryAfter) -> float:
    """retry_after in seconds; PTB 22 is moving it from int to timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


class TelegramDelivery:
    """Sends outbox messages with a PTB Bot (the sender's lanes keep Telegram's limits)."""

    channel = CHANNEL

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def deliver(self, message: Outbound) -> DeliveryResult:
        """Send or edit one message, classifying any failure."""
        try:
            sent = await self._send(message)
        except RetryAfter as exc:
            return RetryLater(_seconds(exc), str(exc))
        except Forbidden as exc:
            return Undeliverable(str(exc))
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return Delivered(message.edit_message_id)
            return Undeliverable(str(exc))
        except (NetworkError, TelegramError) as exc:
            return RetryLater(None, str(exc))
        return Delivered(sent)

    async def call(self, method: str, fields: dict[str, Any]) -> Any:
        """One Bot API call through the bot's transport and PTB's error handling (429 is
        RetryAfter, 403 Forbidden, ...), returning the result as JSON: a sent message is not
        turned into PTB objects only for its id, nor do the fields pass through the bot's
        defaults and callback-data cache, which the desk does not use (issue 15.4). Fields
        are encoded as PTB's own methods encode them (a file is uploaded)."""
        bot = self.bot
        data = RequestData(
            [RequestParameter.from_input(k, v) for k, v in fields.items() if v is not None]
        )
        return await bot.request.post(f"{bot.base_url}/{method}", request_data=data)

    async def answer_button(self, query_id: str, text: str | None, alert: bool) -> None:
        """Answer a button press (its notice, or nothing to show) on the same lean path."""
        fields: dict[str, Any] = {"callback_query_id": query_id}
        if text:
            fields.update(text=text[:200], show_alert=alert)  # Telegram shows 200 at most
        await self.call("answerCallbackQuery", fields)

    async def _send(self, message: Outbound) -> str | None:
        reply_markup = markup(message)
        if message.edit_message_id is not None:
            inline = reply_markup if reply_markup and "inline_keyboard" in reply_markup else None
            try:
                await self.call(
                    "editMessageText",
                    {
                        "chat_id": message.chat_id,
                        "message_id": int(message.edit_message_id),
                        "text": message.text,
                        "reply_markup": inline,
                    },
                )
                return message.edit_message_id
            except BadRequest as exc:
                if "not modified" in str(exc).lower():  # it already shows exactly this
                    return message.edit_message_id
                # a photo or caption, deleted, or too old to edit: the words go as a new
                # message instead, never lost (issue 11.6)
                log.info("edit refused (%s): sending a new message", exc)
        if message.upload is not None:
            return await self._upload(message, reply_markup)
        if message.photo is not None:
            sent = await self.call(
                "sendPhoto",
                {
                    "chat_id": message.chat_id,
                    "photo": message.photo,
                    "caption": message.text[:1024] or None,
                    "reply_markup": reply_markup,
                },
            )
        else:
            sent = await self.call(
                "sendMessage",
                {"chat_id": message.chat_id, "text": message.text, "reply_markup": reply_markup},
            )
        return str(sent["message_id"])

    async def _upload(self, message: Outbound, reply_markup: Markup) -> str:
        upload = message.upload
        assert upload is not None
        kind = "photo" if upload.kind == "photo" else "document"
        sent = await self.call(
            "sendPhoto" if kind == "photo" else "sendDocument",
            {
                "chat_id": message.chat_id,
                kind: InputFile(upload.data, filename=upload.filename),
                "caption": message.text[:1024] or None,
                "reply_markup": reply_markup,
            },
        )
        return str(sent["message_id"])
