"""Turn a Telegram update into a channel-neutral Inbound."""

from __future__ import annotations

from dataclasses import replace

from telegram import Update

from handlers.messages import Inbound

CHANNEL = "telegram"


def to_inbound(update: Update, bot_username: str | None = None) -> Inbound | None:
    """The neutral form of an update; None for updates the desk does not act on, such as a
    command addressed to another bot (`/cancel@otherbot`) or an edit in a group."""
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
            press_notices=True,  # answerCallbackQuery shows it to the presser alone
        )
    message = update.message
    edited = message is None and update.edited_message is not None
    if edited and chat.type == "private":  # told that edits are not read (issue 11.11)
        message = update.edited_message
    if message is None:
        return None  # channel posts, member updates, edits in groups: nothing to answer
    if _for_another_bot(message.text or "", bot_username):
        return None
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
        edited=edited,
    )


def _for_another_bot(text: str, bot_username: str | None) -> bool:
    """Whether the text is a command addressed to some other bot, e.g. `/cancel@otherbot`."""
    if not text.startswith("/") or bot_username is None:
        return False
    word = text[1:].split(maxsplit=1)[0] if text[1:].strip() else ""
    _command, at, addressee = word.partition("@")
    return bool(at) and addressee.lower() != bot_username.lower()
