"""Turn a Telegram update into a channel-neutral Inbound."""

from __future__ import annotations

from dataclasses import replace

from telegram import Update

from handlers.messages import Inbound

CHANNEL = "telegram"


def to_inbound(update: Update) -> Inbound | None:
    """The neutral form of an update; None for updates the desk does not act on."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    base = Inbound(
        channel=CHANNEL,
        update_id=str(update.update_id),
        chat_id=str(chat.id),
        chat_kind="private" if chat.type == "private" else "group",
        user_id=str(user.id),
        user_name=user.full_name,
        language_hint=user.language_code,
    )
    query = update.callback_query
    if query is not None:
        message_id = query.message.message_id if query.message is not None else None
        return replace(
            base,
            button=query.data or "",
            button_message_id=str(message_id) if message_id else None,
        )
    message = update.message
    if message is None:
        return None  # edits, channel posts, member updates: nothing to answer
    contact = message.contact
    location = message.location
    return replace(
        base,
        text=message.text or message.caption,
        photo=message.photo[-1].file_id if message.photo else None,
        album=message.media_group_id,
        contact_phone=contact.phone_number if contact else None,
        contact_user_id=str(contact.user_id) if contact and contact.user_id else None,
        location=(location.latitude, location.longitude) if location else None,
    )
