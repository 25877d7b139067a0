"""One message instead of two: a bare note and the next reply to the same chat in one turn
("Welcome!" and "What is your name?") go as one message, one API call (issue 15.2)."""

from __future__ import annotations

from dataclasses import replace

from handlers.messages import Outbound

TELEGRAM_CHARS = 4096  # a Telegram message holds 4,096 characters, counted in UTF-16 units
# WeChat cuts a text at 2,000 characters with its numbered menu (bot/wechat/render.py) and
# WeCom at 2,040 bytes (bot/wecom/render.py): a joined text, its menu lines and the "please
# type the number" line must fit in that many UTF-8 bytes, which is never more characters
NUMBERED_BYTES = 2000
NUMBERED_CHANNELS = frozenset({"wechat", "wecom"})
MENU_LINE_BYTES = 40  # "回复 12 选择 " and its line break, in UTF-8, beside the label
CONTACT_LINE_BYTES = 120  # "On WeChat, please type the number." in any language
WECOM_CARD_CHARS = 600  # a WeCom card (1-6 buttons) shows at most this much under its title
WECOM_CARD_BUTTONS = 6
GAP = "\n\n"


def join_replies(channel: str, replies: list[Outbound]) -> list[Outbound]:
    """The turn's replies with each bare note joined to the next reply to its chat, where
    that one is text and the two fit in one message on `channel`; order kept per chat."""
    joined = list(replies)
    index = 0
    while index < len(joined):
        note = joined[index]
        after = _next_to_chat(joined, index)
        if after is not None and _joinable(channel, note, joined[after]):
            # the joined message takes the note's place: the chat's order stays the same
            joined[index] = _joined(note, joined[after])
            del joined[after]
            continue  # the joined message may take the next note or question too
        index += 1
    return joined


def _next_to_chat(replies: list[Outbound], index: int) -> int | None:
    """The position of the next reply to the same chat (other chats' replies skipped)."""
    chat = replies[index].chat_id
    return next((i for i in range(index + 1, len(replies)) if replies[i].chat_id == chat), None)


def _bare_note(reply: Outbound) -> bool:
    """Plain words with nothing attached: no buttons, keyboard, photo or file, not an edit."""
    return (
        not reply.buttons
        and not reply.ask_contact
        and reply.photo is None
        and reply.upload is None
        and reply.edit_message_id is None
    )


def _joinable(channel: str, note: Outbound, later: Outbound) -> bool:
    """Whether `note` can go at the top of `later` with nothing lost or cut on `channel`."""
    if not _bare_note(note) or not note.text.strip():
        return False
    if later.photo is not None or later.upload is not None or later.edit_message_id is not None:
        return False  # a caption is shorter, an edit is further up the chat: keep them apart
    if not later.text.strip():
        return False
    if note.remove_keyboard and later.buttons:
        return False  # one keyboard a message: the removal or the inline buttons, not both
    return _fits(channel, _joined(note, later))


def _joined(note: Outbound, later: Outbound) -> Outbound:
    """The note's words, a blank line, and the later message with all it carries."""
    # a contact keyboard replaces the old keyboard anyway; otherwise the note's removal stays
    remove = (note.remove_keyboard or later.remove_keyboard) and not later.ask_contact
    return replace(
        later,
        text=f"{note.text}{GAP}{later.text}",
        remove_keyboard=remove,
        note_chars=len(note.text) + len(GAP) + later.note_chars,
    )


def _fits(channel: str, message: Outbound) -> bool:
    """Whether the message shows whole on the channel (else its parts stay apart)."""
    if len(message.text.encode("utf-16-le")) // 2 > TELEGRAM_CHARS:
        return False
    if channel not in NUMBERED_CHANNELS:
        return True
    labels = [button.label for row in message.buttons for button in row]
    size = len(message.text.encode()) + sum(len(x.encode()) + MENU_LINE_BYTES for x in labels)
    if message.ask_contact:
        size += CONTACT_LINE_BYTES
    if size > NUMBERED_BYTES:
        return False
    if channel == "wecom" and 0 < len(labels) <= WECOM_CARD_BUTTONS:
        return len(message.text) <= WECOM_CARD_CHARS  # a card: title and text under it
    return True
