"""A bare note and the next reply to the same chat in one turn go as one message (issue 15.2):
"Welcome!" and "What is your name?" take one Bot API call, not two; never across chats, never
over a channel's length limit, never one keyboard too many."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.wechat.render import TEXT_LIMIT, render
from bot.wecom.render import CARD_BUTTONS, SUBTITLE_CHARS, TEXT_BYTES, card_of, text_of
from handlers.joined_replies import (
    NUMBERED_BYTES,
    TELEGRAM_CHARS,
    WECOM_CARD_BUTTONS,
    WECOM_CARD_CHARS,
    join_replies,
)
from handlers.messages import Button, Outbound, Upload
from tests.harness import Owner, paragraphs
from tests.test_repair import PROFILES, register, tap
from tests.transcripts import whole_repair

WELCOME = (
    "Welcome to the property service desk! I can take repair requests and keep you posted on "
    "them. First, a few details so we know who you are."
)
CHOOSE = "Please choose one of the buttons below."
all_channels = pytest.mark.parametrize("channel", ["telegram", "wechat", "web"])


def note(chat: str, text: str, remove_keyboard: bool = False) -> Outbound:
    """A bare note: words only."""
    return Outbound(chat, text, remove_keyboard=remove_keyboard)


def question(chat: str, text: str, *labels: str) -> Outbound:
    """A question with one row of buttons."""
    return Outbound(chat, text, [[Button(label, f"1|{label}|") for label in labels]])


# --- through the real bot, on SQLite and PostgreSQL -----------------------------------------


async def test_a_whole_repair_takes_fewer_api_calls(db_url: str, tmp_path: Path) -> None:
    """One whole repair (the checked-in transcript's script): the owner's welcome and first
    question, and the poor rating's apology and the comment question, are one message each:
    the owner gets 13 sends, was 15; 59 Bot API calls in all, was 61."""
    _, counts = await whole_repair("en", tmp_path, db_url=db_url)
    total = sum(sum(bucket.values()) for bucket in (counts.sent, counts.edited, counts.answered))
    assert counts.sent["Owner"] <= 13, counts
    assert total <= 59, counts
    assert counts.answered["Owner"] == 13  # every press still answered once


@all_channels
async def test_the_welcome_and_the_first_question_are_one_message(alice: Owner) -> None:
    """/start gets one message: the welcome, a blank line, the question."""
    replies = await alice.send("/start")
    assert alice.texts(replies) == [f"{WELCOME}\n\nWhat is your name?"]
    replies = await alice.send(PROFILES[alice.user.id][0])  # the dialog goes on as before
    assert paragraphs(alice.texts(replies))[0].startswith("Which home do you live in?")


@all_channels
async def test_a_refusal_and_the_question_again_are_one_message_whose_buttons_work(
    alice: Owner,
) -> None:
    """Typing at a button step: "please choose" and the question come as one message with the
    question's buttons (on WeChat its numbered menu: "1" picks the first option)."""
    await register(alice)
    await tap(alice, "repair")
    replies = await alice.send("my kitchen")
    assert alice.texts(replies) == [f"{CHOOSE}\n\nWhere is the problem?"]
    assert len(alice.buttons(replies[0])) == 3
    replies = await tap(alice, "where", "home")
    assert paragraphs(alice.texts(replies))[-1] == "What kind of problem is it?"


async def test_the_removal_of_the_contact_keyboard_stays_apart_from_the_menu(
    alice: Owner,
) -> None:
    """After a shared phone: "Thank you … registered" takes the share button away and the menu
    brings inline buttons; a message has one keyboard, so they stay two messages."""
    name, room, phone = PROFILES[alice.user.id]
    for text in ("/start", name, room):
        await alice.send(text)
    replies = await alice.contact(phone)
    assert replies[0].get("reply_markup") == {"remove_keyboard": True}
    assert alice.texts(replies)[0].startswith("Thank you, Alice Li! You are registered")
    assert alice.texts(replies)[1] == "What can I do for you?"
    assert "🔧 Report a repair" in alice.buttons(replies[1])


# --- the joining itself ---------------------------------------------------------------------


def test_notes_to_two_chats_are_not_joined() -> None:
    """Each chat's note joins the next message to its own chat, never another chat's."""
    replies = [
        note("owner", "Good news."),
        note("group", "R-1 taken."),
        question("owner", "Next?", "Yes"),
        question("group", "Anything else?", "No"),
    ]
    joined = join_replies("telegram", replies)
    assert [(m.chat_id, m.text) for m in joined] == [
        ("owner", "Good news.\n\nNext?"),
        ("group", "R-1 taken.\n\nAnything else?"),
    ]
    assert [b.label for b in joined[0].buttons[0]] == ["Yes"]
    assert join_replies("telegram", [note("a", "One."), question("b", "Two?", "x")]) == [
        note("a", "One."),
        question("b", "Two?", "x"),
    ]


def test_an_over_long_pair_stays_apart() -> None:
    """4,096 characters (UTF-16 units, as Telegram counts) fit one message; one more does not."""
    ask = question("owner", "What next?", "Yes")
    fits = note("owner", "x" * (TELEGRAM_CHARS - len("\n\nWhat next?")))
    (joined,) = join_replies("telegram", [fits, ask])
    assert len(joined.text) == TELEGRAM_CHARS
    too_long = note("owner", "😀" + "x" * (TELEGRAM_CHARS - len("\n\nWhat next?") - 1))
    assert join_replies("telegram", [too_long, ask]) == [too_long, ask]  # 😀 counts 2


def test_a_note_that_removes_the_keyboard_before_an_inline_question() -> None:
    """The removal and inline buttons cannot share a message: apart; before a question
    without inline buttons the note joins and the removal goes with it."""
    thanks = note("owner", "Thank you!", remove_keyboard=True)
    menu = question("owner", "What can I do for you?", "Repair")
    assert join_replies("telegram", [thanks, menu]) == [thanks, menu]
    (joined,) = join_replies("telegram", [thanks, note("owner", "Send /start again.")])
    assert joined.remove_keyboard and joined.text == "Thank you!\n\nSend /start again."
    asks = Outbound("owner", "Your phone?", ask_contact="Share")
    (joined,) = join_replies("telegram", [thanks, asks])
    assert joined.ask_contact == "Share" and not joined.remove_keyboard


def test_what_is_never_joined() -> None:
    """A question, a photo, an edit, a contact keyboard or an empty text keeps its own message."""
    chat = "owner"
    after = question(chat, "Next?", "Yes")
    for first, second in (
        (question(chat, "First?", "a"), after),
        (Outbound(chat, "Photo", photo="file-1"), after),
        (Outbound(chat, "Edited", edit_message_id="7"), after),
        (Outbound(chat, "Your phone?", ask_contact="Share"), after),
        (note(chat, "Look:"), Outbound(chat, "", photo="file-1")),
        (note(chat, "Look:"), Outbound(chat, "Chart", upload=Upload("photo", "c.png", b"x"))),
        (note(chat, "Above:"), Outbound(chat, "Done", edit_message_id="9")),
        (note(chat, " "), after),
    ):
        assert join_replies("telegram", [first, second]) == [first, second]


def test_notes_in_a_row_all_join_the_question() -> None:
    """Two notes and a question: one message, in the order they were written."""
    (joined,) = join_replies(
        "web", [note("c", "One."), note("c", "Two."), question("c", "Three?", "ok")]
    )
    assert joined.text == "One.\n\nTwo.\n\nThree?"


def test_numbered_channels_keep_the_joined_message_whole() -> None:
    """WeChat cuts a text at 2,000 characters with its menu lines, WeCom at 2,040 bytes and a
    WeCom card shows 600 characters under its title: a pair that would be cut stays apart."""
    assert NUMBERED_BYTES <= TEXT_LIMIT and NUMBERED_BYTES <= TEXT_BYTES
    assert (WECOM_CARD_CHARS, WECOM_CARD_BUTTONS) == (SUBTITLE_CHARS, CARD_BUTTONS)
    ask = question("o", "Is it fixed?", "✅ Accept", "❌ Not fixed")
    chinese = note("o", "维修" * 400)  # 800 characters, 2,400 bytes
    assert len(join_replies("telegram", [chinese, ask])) == 1
    assert join_replies("wechat", [chinese, ask]) == [chinese, ask]
    short = note("o", "Wang has finished R-1.")
    (joined,) = join_replies("wechat", [short, ask])
    shown = render(joined, "en")
    assert shown.startswith("Wang has finished R-1.\n\nIs it fixed?\n\nReply 1 for ✅ Accept")
    assert len(shown) < TEXT_LIMIT and text_of(joined, "en") == shown
    long_note = note("o", "x" * 590)
    assert len(join_replies("web", [long_note, ask])) == 1
    assert join_replies("wecom", [long_note, ask]) == [long_note, ask]  # a card: 600 at most


def test_a_wecom_card_is_titled_with_the_question_not_the_joined_note() -> None:
    """On WeCom a message with a few buttons is a card whose title is its first line: after a
    join that is the question, with the notes under it, also after the outbox's JSON."""
    ask = question("wanggong", "R-7 · Leaking pipe\nRoom 3-1-502\nTake this job?", "Take", "Skip")
    (joined,) = join_replies("wecom", [note("wanggong", CHOOSE), ask])
    joined = Outbound.from_payload("wanggong", joined.to_payload())
    card = card_of(joined, "task-1")["template_card"]
    assert card["main_title"]["title"] == "R-7 · Leaking pipe"
    assert card["sub_title_text"] == f"{CHOOSE}\n\nRoom 3-1-502\nTake this job?"
    (twice,) = join_replies("wecom", [note("wanggong", "Hello."), note("wanggong", CHOOSE), ask])
    assert card_of(twice, "task-2")["template_card"]["main_title"]["title"] == "R-7 · Leaking pipe"
    plain = card_of(ask, "task-3")["template_card"]  # nothing joined: as before
    assert plain["main_title"]["title"] == "R-7 · Leaking pipe"
    assert plain["sub_title_text"] == "Room 3-1-502\nTake this job?"
    assert "note_chars" not in ask.to_payload()  # the outbox JSON of other messages is as it was


kinds = st.sampled_from(["note", "removal", "question", "contact", "photo", "edit"])
replies_strategy = st.lists(
    st.tuples(st.sampled_from(["a", "b"]), kinds, st.integers(min_value=0, max_value=3000)),
    max_size=8,
)


def _make(chat: str, kind: str, size: int, index: int) -> Outbound:
    text = f"m{index}" + "y" * size
    if kind == "removal":
        return note(chat, text, remove_keyboard=True)
    if kind == "question":
        return question(chat, text, "ok")
    if kind == "contact":
        return Outbound(chat, text, ask_contact="Share")
    if kind == "photo":
        return Outbound(chat, text, photo="file")
    if kind == "edit":
        return Outbound(chat, text, edit_message_id="5")
    return note(chat, text)


@given(replies_strategy, st.sampled_from(["telegram", "wechat", "wecom", "web"]))
def test_joining_keeps_every_word_in_order_per_chat(
    spec: list[tuple[str, str, int]], channel: str
) -> None:
    """Whatever a turn writes: each chat gets the same words in the same order, no message is
    longer than Telegram takes, none has two keyboards, and only bare notes were folded in."""
    replies = [_make(chat, kind, size, i) for i, (chat, kind, size) in enumerate(spec)]
    joined = join_replies(channel, replies)
    for chat in ("a", "b"):
        before = [m.text for m in replies if m.chat_id == chat]
        after = [m.text for m in joined if m.chat_id == chat]
        assert "\n\n".join(before) == "\n\n".join(after)
        assert len(after) <= len(before)
    for message in joined:
        assert len(message.text.encode("utf-16-le")) // 2 <= TELEGRAM_CHARS or message in replies
        assert not (message.remove_keyboard and message.buttons)
        assert message.text[message.note_chars :] in [m.text for m in replies]  # the last one
    kept = [m for m in replies if m.buttons or m.photo or m.edit_message_id or m.ask_contact]
    assert len(joined) >= len(kept)
