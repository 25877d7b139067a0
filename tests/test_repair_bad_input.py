"""Bad input in the repair dialog: a clear reply in the person's language, and nothing changed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from handlers.desk import Desk
from handlers.i18n import translator
from handlers.inbox import handle_inbound
from handlers.messages import Inbound
from store import migrate
from store.db import Database
from store.models import Conversation, Order, OutboxMessage
from store.price_list import import_prices
from store.units import import_units
from tests.harness import EXAMPLES, MONDAY_MORNING, FakeClock, Owner, current, paragraphs
from tests.test_repair import (
    convo_state,
    count_orders,
    desc_to_phone,
    item_id,
    register,
    tap,
    to_desc,
)

CHOOSE = "Please choose one of the buttons below."
STALE = "That button is out of date, so nothing was changed."
APOLOGY = "Sorry, something went wrong"


def assert_unchanged(owner: Owner, before: tuple[str, dict[str, Any], int]) -> None:
    """Same step, same draft, same button version, and no order anywhere."""
    assert convo_state(owner) == before
    assert count_orders(owner) == 0


async def at_desc(owner: Owner) -> tuple[str, dict[str, Any], int]:
    """Register and walk to the description step; the state there."""
    await register(owner)
    await to_desc(owner)
    return convo_state(owner)


def newest(owner: Owner) -> dict[str, Any]:
    """The newest message of the chat, as it is now (edits applied)."""
    return current(owner.fake, owner.chat_id)[0]


async def at_date(owner: Owner) -> tuple[str, dict[str, Any], int]:
    """Register and walk to the "which day" step; the state there."""
    await at_desc(owner)
    await owner.send("Tap drips")
    await tap(owner, "photos_done")
    await tap(owner, "when", "book")
    state = convo_state(owner)
    assert state[0] == "rep_date"
    return state


# --- the description -------------------------------------------------------------------------


async def test_blank_description(alice: Owner) -> None:
    """Whitespace only is not a description."""
    before = await at_desc(alice)
    for blank in (" \n\t\u3000 ", "\x00", " \x07\x1b "):
        replies = await alice.send(blank)
        assert alice.texts(replies) == ["Please type a short description of the problem."]
        assert_unchanged(alice, before)


async def test_description_too_long_and_just_long_enough(alice: Owner) -> None:
    """2001 characters are refused with the count; exactly 2000 are taken."""
    before = await at_desc(alice)
    replies = await alice.send("x" * 2001)
    assert alice.texts(replies) == [
        "Your description is 2001 characters; please keep it to 2000 or fewer."
    ]
    assert_unchanged(alice, before)

    replies = await alice.send("y" * 2000)
    assert alice.texts(replies)[0].startswith("Send up to 5 photos")
    step, data, _ = convo_state(alice)
    assert step == "rep_photos" and data["desc"] == "y" * 2000


async def test_photo_instead_of_description(alice: Owner) -> None:
    """A photo at the description step is not taken for the description, nor stored."""
    before = await at_desc(alice)
    replies = await alice.photo("early-photo")
    assert alice.texts(replies) == [
        "Please type a short description first; you can send photos in the next step."]
    assert_unchanged(alice, before)


# --- text where a button is expected ---------------------------------------------------------


async def test_text_at_where_category_and_when(alice: Owner) -> None:
    """Typing at a button-only step asks for a button and repeats the question."""
    await register(alice)
    await tap(alice, "repair")
    before = convo_state(alice)
    replies = await alice.send("my kitchen")
    assert paragraphs(alice.texts(replies)) == [CHOOSE, "Where is the problem?"]
    assert len(alice.buttons(replies[-1])) == 3
    assert_unchanged(alice, before)

    await tap(alice, "where", "home")
    before = convo_state(alice)
    replies = await alice.send("water")
    assert paragraphs(alice.texts(replies)) == [CHOOSE, "What kind of problem is it?"]
    assert_unchanged(alice, before)

    await tap(alice, "cat", "plumbing")
    before = convo_state(alice)
    replies = await alice.send("tap")
    assert paragraphs(alice.texts(replies)) == [
        CHOOSE, "Which of these is it? Prices are from our price list."]
    assert_unchanged(alice, before)

    await tap(alice, "item", str(item_id(alice, "PL01")))
    await alice.send("Tap drips")
    await tap(alice, "photos_done")
    before = convo_state(alice)
    replies = await alice.send("tomorrow please")
    assert paragraphs(alice.texts(replies)) == [CHOOSE, "When should we come?"]
    assert_unchanged(alice, before)


async def test_text_at_photo_quote_and_summary(alice: Owner) -> None:
    """Typing at the photo, quote and summary steps changes nothing."""
    await at_desc(alice)
    await alice.send("Tap drips")
    before = convo_state(alice)
    replies = await alice.send("here it comes")
    assert alice.texts(replies) == ["Please send a photo, or tap the button to continue."]
    assert_unchanged(alice, before)

    await tap(alice, "photos_done")
    await tap(alice, "when", "now")
    await tap(alice, "phone", "mine")
    before = convo_state(alice)
    replies = await alice.send("yes")
    assert paragraphs(alice.texts(replies))[0] == CHOOSE
    assert paragraphs(alice.texts(replies))[1].startswith("This is a paid service.")
    assert_unchanged(alice, before)

    await tap(alice, "quote", "agree")
    before = convo_state(alice)
    replies = await alice.send("submit")
    assert paragraphs(alice.texts(replies))[0] == CHOOSE
    assert paragraphs(alice.texts(replies))[1].startswith("Please check your request:")
    assert_unchanged(alice, before)


# --- the visit time --------------------------------------------------------------------------


PASSED = "That time has already passed. Please choose a time in the future."
HOURS = "We visit between 08:00 and 18:00. Please choose a time in those hours."
NO_SUCH_DATE = "That date does not exist. Please type it like 2026-11-24 10:00."
TOO_FAR = "We can book visits up to 30 days ahead. Please choose an earlier date."
UNREADABLE = "Please choose a day below, or type a date and time like 2026-11-24 10:00."
BAD_TIMES = [
    ("2026-11-22 10:00", PASSED),
    ("2026-11-23 08:00", PASSED),  # today, but already gone at 09:30
    ("2026-11-24 20:00", HOURS),
    ("2026-11-24 07:59", HOURS),
    ("2026-11-24 18:00", HOURS),
    ("9999-12-31 23:00", HOURS),
    ("2026-02-30 10:00", NO_SUCH_DATE),
    ("2026-11-24 10:61", NO_SUCH_DATE),
    ("2026-11-24 25:00", NO_SUCH_DATE),
    ("2027-06-01 10:00", TOO_FAR),
    ("9999-12-31 17:00", TOO_FAR),
    ("next tuesday", UNREADABLE),
    ("10:00", UNREADABLE),
]


async def test_bad_visit_times(alice: Owner) -> None:
    """Past, out-of-hours, impossible, too far or unreadable times are explained, one by one."""
    before = await at_date(alice)
    for typed, answer in BAD_TIMES:
        replies = await alice.send(typed)
        assert alice.texts(replies) == [answer], typed
        assert_unchanged(alice, before)


async def test_bad_time_at_the_window_step(alice: Owner) -> None:
    """The time-of-day step takes typed times too, with the same checks."""
    await at_date(alice)
    await tap(alice, "date", "20261124")
    before = convo_state(alice)
    replies = await alice.send("2026-11-24 18:00")
    assert alice.texts(replies) == [
        "We visit between 08:00 and 18:00. Please choose a time in those hours."]
    assert_unchanged(alice, before)


# --- the phone -------------------------------------------------------------------------------


async def test_invalid_phones(alice: Owner) -> None:
    """An unreadable number is refused with an example; the step stays."""
    await at_desc(alice)
    await desc_to_phone(alice)
    before = convo_state(alice)
    for typed in ("12345", "138 1234 567", "138abcd5678", "call me maybe", "1" * 41, "+86",
                  "１３８ｘ"):
        replies = await alice.send(typed)
        assert alice.texts(replies) == [
            "That does not look like a valid phone number. Please type an 11-digit mobile "
            "number, for example 138 1234 5678, or tap the button."], typed
        assert_unchanged(alice, before)
    replies = await alice.photo("not-a-phone")
    assert alice.texts(replies)[0].startswith("That does not look like a valid phone number.")
    assert_unchanged(alice, before)


# --- commands and buttons --------------------------------------------------------------------


async def test_unknown_command_mid_draft(alice: Owner) -> None:
    """An unknown command is named as such and the current question is asked again."""
    before = await at_desc(alice)
    replies = await alice.send("/foo")
    assert paragraphs(alice.texts(replies)) == [
        "Sorry, I do not know that command. Send /menu to see what I can do.",
        "Please describe what is wrong, in a few words.",
    ]
    assert_unchanged(alice, before)


async def test_stale_button_from_an_earlier_step(alice: Owner) -> None:
    """A button of a question already answered is out of date and changes nothing."""
    before = await at_desc(alice)
    for label in ("Public area", "Electrical", "Replace tap"):
        # (each was edited away by the next step: a quick second tap, as drawn)
        replies = await alice.press_again(label)
        # answered on the button alone, the question being on screen (issue 11.5)
        assert replies == [] and alice.notice == STALE, alice.texts(replies)
        assert_unchanged(alice, before)


async def test_stale_submit_after_submitting(alice: Owner) -> None:
    """Pressing Submit twice makes one order."""
    await at_desc(alice)
    await desc_to_phone(alice)
    await tap(alice, "phone", "mine")
    await tap(alice, "quote", "agree")
    await alice.press("Submit")
    replies = await alice.press_again("Submit")
    assert replies == [] and alice.notice == STALE  # no message, no menu (issue 11.5)
    assert count_orders(alice) == 1


async def test_forged_callback_data(alice: Owner) -> None:
    """Callback data that is not ours, or drawn for another version, is out of date."""
    await register(alice)
    await tap(alice, "repair")
    before = convo_state(alice)
    message = alice.last[0]
    older = f"{before[2] - 1}|where|home"
    for data in ("x|y", "999|where|home", "", "||", "a|b|c|d", older, "-1|where|home"):
        replies = await alice.press_data(data, message)
        assert replies == [] and alice.notice == STALE, data
        assert_unchanged(alice, before)


async def test_forged_buttons_with_the_current_version(alice: Owner) -> None:
    """Even with the right version, arguments that were never offered change nothing."""
    await register(alice)
    await tap(alice, "repair")
    await tap(alice, "where", "public")
    version = convo_state(alice)[2]
    message = alice.last[0]
    for arg in ("appliances", "office", "nonsense", "PLUMBING"):
        before = convo_state(alice)
        replies = await alice.press_data(f"{version}|cat|{arg}", message)
        assert replies == [] and alice.notice == CHOOSE, arg
        assert_unchanged(alice, before)

    await alice.send("/cancel")
    await to_desc(alice)
    await tap(alice, "back")  # back at the item list of plumbing
    _, _, version = convo_state(alice)
    message = alice.last[0]
    electrical = str(item_id(alice, "EL01"))
    for arg in (electrical, "²", "٣", "99999999999999999999999", "-1", "", "0"):
        before = convo_state(alice)
        replies = await alice.press_data(f"{version}|item|{arg}", message)
        assert replies == [] and alice.notice == CHOOSE, arg
        assert_unchanged(alice, before)


async def test_forged_day_and_slot_with_the_current_version(alice: Owner) -> None:
    """Forged days and times get the same checks as typed ones; nothing is booked."""
    await at_date(alice)
    no_times = "That day has no free visit times left. Please choose another day."
    for arg, answer in (("20261122", no_times), ("2026130", no_times), ("20261399", CHOOSE),
                        ("abc", CHOOSE)):
        version = convo_state(alice)[2]
        replies = await alice.press_data(f"{version}|date|{arg}", newest(alice))
        if answer == CHOOSE:  # never offered: answered on the button (issue 11.5)
            assert replies == [] and alice.notice == CHOOSE, arg
        else:
            assert paragraphs(alice.texts(replies))[0] == answer, arg
            assert paragraphs(alice.texts(replies))[-1].startswith("Which day?"), arg
        step, data, _ = convo_state(alice)
        assert step == "rep_date" and "day" not in data, arg
    await tap(alice, "date", "20261124")
    before = convo_state(alice)
    for arg, answer in (("999912312359", HOURS), ("202611242000", HOURS),
                        ("202611221000", PASSED), ("202612301000", TOO_FAR), ("x", CHOOSE)):
        replies = await alice.press_data(f"{before[2]}|slot|{arg}", newest(alice))
        if answer == CHOOSE:
            assert replies == [] and alice.notice == CHOOSE, arg
        else:
            assert alice.texts(replies)[0] == answer, arg
        assert_unchanged(alice, before)


# --- the person's language -------------------------------------------------------------------


async def test_bad_input_answered_in_chinese(zhang: Owner) -> None:
    """A Chinese client gets the Chinese catalog's wording (whatever it says today)."""
    zh = translator("zh")
    before = await at_date(zhang)
    replies = await zhang.send("2026-11-22 10:00")
    assert zhang.texts(replies) == [
        zh("That time has already passed. Please choose a time in the future.")]
    replies = await zhang.send("/foo")
    assert paragraphs(zhang.texts(replies))[0] == zh(
        "Sorry, I do not know that command. Send /menu to see what I can do.")
    message = zhang.last[-1]
    replies = await zhang.press_data("x|y", message)
    assert replies == [] and zhang.notice == zh(STALE)
    assert_unchanged(zhang, before)


# --- property tests, straight through the inbox ----------------------------------------------


class DirectChat:
    """One private chat driven through handle_inbound, reading replies from the outbox."""

    def __init__(self, db: Database, desk: Desk, user_id: str = "7001") -> None:
        self.db = db
        self.desk = desk
        self.user_id = user_id
        self._updates = itertools.count(1)
        self.history: list[dict[str, Any]] = []

    def send(self, text: str | None = None, *, button: str | None = None,
             photo: str | None = None, contact: str | None = None) -> list[dict[str, Any]]:
        """Hand one message to the inbox; the replies it queued."""
        with self.db.unit_of_work() as uow:
            last = uow.session.scalar(select(func.max(OutboxMessage.id)))
        inbound = Inbound(
            channel="telegram", update_id=f"direct-{next(self._updates)}", chat_id=self.user_id,
            chat_kind="private", user_id=self.user_id, user_name="Alice",
            language_hint="en", text=text, button=button, photo=photo, contact_phone=contact,
            contact_user_id=self.user_id if contact else None)  # one's own contact
        assert handle_inbound(self.db, self.desk, inbound).fresh
        with self.db.unit_of_work() as uow:
            rows = uow.session.scalars(
                select(OutboxMessage.payload).where(OutboxMessage.id > (last or 0))
                .where(OutboxMessage.chat_id == self.user_id).order_by(OutboxMessage.id))
            replies = [dict(payload) for payload in rows]
        self.history.extend(replies)
        return replies

    def tap(self, action: str, arg: str = "") -> list[dict[str, Any]]:
        """Press the newest button offered for action/arg."""
        for payload in reversed(self.history):
            for row in payload["buttons"]:
                for _label, data in row:
                    if data.split("|")[1:] == [action, arg]:
                        return self.send(button=data)
        raise AssertionError(f"no button {action}|{arg}")

    def state(self) -> tuple[str, dict[str, Any], int]:
        """Step, draft and version of this chat's conversation."""
        with self.db.unit_of_work() as uow:
            convo = uow.session.scalar(select(Conversation).where(
                Conversation.chat_id == self.user_id))
            assert convo is not None
            return convo.step, dict(convo.data or {}), convo.version

    def restore(self, state: tuple[str, dict[str, Any], int]) -> None:
        """Put the conversation back where it was."""
        with self.db.unit_of_work() as uow:
            convo = uow.session.scalar(select(Conversation).where(
                Conversation.chat_id == self.user_id))
            assert convo is not None
            convo.step, convo.data, convo.version = state[0], dict(state[1]), state[2]
            uow.commit()

    def orders(self) -> int:
        """How many orders exist."""
        with self.db.unit_of_work() as uow:
            return int(uow.session.scalar(select(func.count()).select_from(Order)) or 0)


@pytest.fixture
def direct(db_url: str) -> Iterator[DirectChat]:
    """Alice, registered, in a repair draft, on a database with the example estate."""
    migrate.upgrade(db_url)
    db = Database(db_url, FakeClock(MONDAY_MORNING))
    with db.unit_of_work() as uow:
        assert import_units(uow.session, EXAMPLES / "units.csv").ok
        assert import_prices(uow.session, EXAMPLES / "prices.csv").ok
        uow.commit()
    chat = DirectChat(db, Desk(clock=FakeClock(MONDAY_MORNING)))
    chat.send("/start")
    chat.send("Alice Li")
    chat.send("1-1-101")
    chat.send(contact="+8613900001111")
    chat.tap("repair")
    chat.tap("where", "home")
    chat.tap("cat", "plumbing")
    chat.tap("item", "other")
    assert chat.state()[0] == "rep_desc"
    try:
        yield chat
    finally:
        db.dispose()


PROPERTY = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
ANY_TEXT = st.one_of(
    st.text(max_size=2100),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=30).map(lambda t: "/" + t),
    st.sampled_from(["", " ", "\x00", "/cancel", "/repair", "/start", "/menu", "/help",
                     "\u200b", "x" * 2000, "x" * 2001, "2026-11-24 10:00", "🔧" * 10]),
)
PHONE_TEXT = st.one_of(
    ANY_TEXT,
    st.from_regex(r"\A(\+86 ?)?1[3-9]\d ?\d{4} ?\d{4}\Z"),
    st.from_regex(r"\A[\d +()\-.]{0,45}\Z"),
)


def test_slash_and_blank_is_not_a_crash() -> None:
    """ "/ " is an unknown command, not an IndexError."""
    inbound = Inbound(channel="telegram", update_id="1", chat_id="1", chat_kind="private",
                      user_id="1", text="/ ")
    assert inbound.command == ""


def _check_turn(chat: DirectChat, text: str, before: tuple[str, dict[str, Any], int],
                next_step: str) -> None:
    replies = chat.send(text)
    assert replies, "silence"
    assert not any(APOLOGY in r["text"] for r in replies), replies
    assert all(r["text"].strip() for r in replies)
    step = chat.state()[0]
    allowed = {before[0], next_step}
    as_sent = Inbound(channel="telegram", update_id="-", chat_id="-", chat_kind="private",
                      user_id="-", text=text)
    if as_sent.command == "cancel":
        allowed.add("idle")  # /cancel is the one way out, on purpose
    assert step in allowed, (text, step)
    if step == before[0]:
        assert chat.state()[1] == before[1]
    assert chat.orders() == 0


@PROPERTY
@given(text=ANY_TEXT)
def test_any_text_at_the_description_step(direct: DirectChat, text: str) -> None:
    """Whatever is typed as the description: a reply, no crash, same step or the next."""
    before = direct.state()
    try:
        _check_turn(direct, text, before, "rep_photos")
    finally:
        direct.restore(before)


@PROPERTY
@given(text=PHONE_TEXT)
def test_any_text_at_the_phone_step(direct: DirectChat, text: str) -> None:
    """Whatever is typed as the phone number: a reply, no crash, same step or the next."""
    if direct.state()[0] == "rep_desc":
        direct.send("Tap drips")
        direct.tap("photos_done")
        direct.tap("when", "now")
        assert direct.state()[0] == "rep_phone"
    before = direct.state()
    try:
        _check_turn(direct, text, before, "rep_quote")
    finally:
        direct.restore(before)


def test_description_with_control_characters_can_be_submitted(direct: DirectChat) -> None:
    """A NUL or other control character in the text does not break the order on any database."""
    direct.send("tap\x00drips\x07 badly")
    direct.tap("photos_done")
    direct.tap("when", "now")
    direct.tap("phone", "mine")
    direct.tap("quote", "ack")
    replies = direct.tap("submit")
    assert not any(APOLOGY in r["text"] for r in replies), replies
    with direct.db.unit_of_work() as uow:
        assert uow.session.scalars(select(Order.description)).all() == ["tapdrips badly"]
