"""How desk messages look in WeCom: buttons become an interactive template card
(button_interaction, at most 6 buttons), or numbered lines when there are more."""

from __future__ import annotations

from typing import Any

from bot.wechat.render import menu_of, render
from handlers.messages import Outbound

TEXT_BYTES = 2040  # WeCom text messages: at most 2048 bytes
CARD_BUTTONS = 6  # a button_interaction card holds 1 to 6 buttons
TITLE_CHARS = 36
SUBTITLE_CHARS = 600
BUTTON_CHARS = 12


def cut(text: str, chars: int) -> str:
    """At most `chars` characters, with an ellipsis when cut."""
    return text if len(text) <= chars else text[: chars - 1] + "…"


def cut_bytes(text: str, limit: int = TEXT_BYTES) -> str:
    """At most `limit` UTF-8 bytes, never splitting a character."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def as_card(message: Outbound) -> bool:
    """Whether the message goes as an interactive card rather than text."""
    count = len(menu_of(message))
    return 0 < count <= CARD_BUTTONS


def text_of(message: Outbound, language: str) -> str:
    """The message as WeCom text, buttons as numbered lines ("回复 1 …")."""
    return cut_bytes(render(message, language))


def card_of(message: Outbound, task_id: str) -> dict[str, Any]:
    """A button_interaction template card: the first line as title, the rest below it, each
    button's key its callback data (it comes back as the event's EventKey); a note joined in
    front (Outbound.note_chars) goes below the title, which is the question's first line."""
    note = message.text[: message.note_chars].strip()
    lines = message.text[message.note_chars :].strip().split("\n")
    title = lines[0].strip() or "-"
    rest = "\n\n".join(part for part in (note, "\n".join(lines[1:]).strip()) if part)
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": cut(title, TITLE_CHARS)},
        "task_id": task_id,
        "button_list": [
            {"text": cut(label, BUTTON_CHARS), "style": 1, "key": data}
            for label, data in menu_of(message)
        ],
    }
    if len(title) > TITLE_CHARS:
        rest = f"{title}\n{rest}".strip()
    if rest:
        card["sub_title_text"] = cut(rest, SUBTITLE_CHARS)
    return {"msgtype": "template_card", "template_card": card}


def taken_line(message: Outbound) -> str:
    """The line an edit adds at the end of a card ("✅ Taken by … at 10:02")."""
    return message.text.strip().rsplit("\n", 1)[-1]
