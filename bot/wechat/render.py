"""WeChat has no buttons: they become a numbered text menu, and "1" or the words map back."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from handlers.i18n import translator
from handlers.messages import Outbound
from store.wechat import Menu

TEXT_LIMIT = 2000  # WeChat text messages are capped at 2048 characters


def menu_of(message: Outbound) -> Menu:
    """The message's buttons in reading order: number n is the n-th of this list."""
    return [(b.label, b.data) for row in message.buttons for b in row]


def render(message: Outbound, language: str) -> str:
    """The text of a message with its buttons as numbered lines ("回复 1 同意报价")."""
    _ = translator(language)
    menu = menu_of(message)
    lines = [
        _("Reply {number} for {label}").format(number=n, label=label)
        for n, (label, _data) in enumerate(menu, start=1)
    ]
    text = message.text.strip()
    if message.ask_contact:  # Telegram's share-my-number button has no WeChat counterpart
        text += "\n" + _("On WeChat, please type the number.")
    if lines:
        text = f"{text}\n\n" + "\n".join(lines) if text else "\n".join(lines)
    return text[:TEXT_LIMIT]


def combine(payloads: Sequence[dict[str, Any]], chat_id: str, language: str) -> str | None:
    """One passive reply for several text messages, or None when they can't be one
    (a photo, or buttons before the last message: only the last menu can be live)."""
    messages = [Outbound.from_payload(chat_id, p) for p in payloads]
    if any(m.photo or m.upload for m in messages) or any(m.buttons for m in messages[:-1]):
        return None
    texts = [render(m, language) for m in messages]
    combined = "\n\n".join(t for t in texts if t)
    return combined if combined and len(combined) <= TEXT_LIMIT else None


def _words(text: str) -> str:
    """Letters and digits only, case-folded: "🏠 Inside my home (paid)" → "insidemyhomepaid"."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LN")


def pick(menu: Menu, text: str) -> str | None:
    """The callback data the person chose by number or by the option's words, if any."""
    if not menu:
        return None
    typed = unicodedata.normalize("NFKC", text).strip().rstrip(".")
    if typed.isascii() and typed.isdigit() and len(typed) <= 3:
        number = int(typed)
        return menu[number - 1][1] if 1 <= number <= len(menu) else None
    words = _words(typed)
    if len(words) < 2:
        return None
    exact = [data for label, data in menu if _words(label) == words]
    if len(exact) == 1:
        return exact[0]
    starts = [data for label, data in menu if _words(label).startswith(words)]
    return starts[0] if len(starts) == 1 else None
