"""Deliver neutral Outbound messages through the Telegram Bot API."""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.outbox import Delivered, DeliveryResult, RetryLater, Undeliverable
from bot.telegram.inbound import CHANNEL
from handlers.messages import Outbound

log = logging.getLogger(__name__)
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


def markup(message: Outbound) -> Markup:
    """Inline buttons, a share-contact keyboard, or the removal of that keyboard."""
    if message.ask_contact:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(message.ask_contact, request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    if message.buttons:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
                for row in message.buttons
            ]
        )
    if message.remove_keyboard:
        return ReplyKeyboardRemove()
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

    async def _send(self, message: Outbound) -> str | None:
        reply_markup = markup(message)
        if message.edit_message_id is not None:
            inline = reply_markup if isinstance(reply_markup, InlineKeyboardMarkup) else None
            try:
                await self.bot.edit_message_text(
                    message.text,
                    chat_id=message.chat_id,
                    message_id=int(message.edit_message_id),
                    reply_markup=inline,
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
            sent = await self.bot.send_photo(
                message.chat_id,
                message.photo,
                caption=message.text[:1024] or None,
                reply_markup=reply_markup,
            )
        else:
            sent = await self.bot.send_message(
                message.chat_id, message.text, reply_markup=reply_markup
            )
        return str(sent.message_id)

    async def _upload(self, message: Outbound, reply_markup: Markup) -> str:
        upload = message.upload
        assert upload is not None
        file = InputFile(upload.data, filename=upload.filename)
        caption = message.text[:1024] or None
        if upload.kind == "photo":
            sent = await self.bot.send_photo(
                message.chat_id, file, caption=caption, reply_markup=reply_markup
            )
        else:
            sent = await self.bot.send_document(
                message.chat_id, file, caption=caption, reply_markup=reply_markup
            )
        return str(sent.message_id)
