"""Repair intake transcripts (R1-R5, R44, R50): what the owner sends, what the bot answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import Conversation, Identity, Order, PriceItem
from tests.fake_telegram import FakeTelegram
from tests.harness import Bot, FakeClock, Owner, current, paragraphs, start_bot

ORDER_NUMBER = re.compile(r"R-20261123-\d{4}")
# name, room, and the phone on file for that room: registration is verified at once
PROFILES = {
    5001: ("张伟", "3-2-1201", "+8613812345678"),
    5002: ("Alice Li", "1-1-101", "+8613900001111"),
}
TOMORROW = "20261124"  # Tuesday 24 November 2026
# transcripts without Telegram-only features (albums, captions, forged buttons, a restart of the
# Telegram process) run over WeChat too: numbered menus, a typed phone, encrypted webhook posts;
# and in the web chat (issue 12): a browser's cookie, JSON posts, the event stream read back
both_channels = pytest.mark.parametrize("channel", ["telegram", "wechat", "web"])


# --- helpers (also used by test_repair_bad_input.py) ------------------------------------------


async def register(owner: Owner) -> None:
    """Register the owner with the phone on file for their home; they land on the menu."""
    name, room, phone = PROFILES[owner.user.id]
    await owner.send("/start")
    await owner.send(name)
    await owner.send(room)
    replies = await owner.contact(phone)
    assert any("|repair|" in _datas(m) for m in replies), owner.texts(replies)  # the menu


def _datas(message: dict[str, Any]) -> str:
    markup = message.get("reply_markup") or {}
    return " ".join(b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row)


def find_action(
    owner: Owner, action: str, arg: str = "", as_drawn: bool = False
) -> tuple[dict[str, Any], str]:
    """The newest bot message with a button for `action`/`arg`, and that button's data (on
    messages as they are now, or with `as_drawn` as first drawn: a stale press)."""
    for message in current(owner.fake, owner.chat_id, as_drawn):
        markup = message.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if button["callback_data"].split("|")[1:] == [action, arg]:
                    return message, button["callback_data"]
    raise AssertionError(f"no button {action}|{arg}; bot said: {owner.texts(owner.last)}")


async def tap(owner: Owner, action: str, arg: str = "") -> list[dict[str, Any]]:
    """Press a button by what it does, whatever its label says in the owner's language."""
    message, data = find_action(owner, action, arg)
    return await owner.press_data(data, message)


@contextmanager
def session_of(owner: Owner) -> Iterator[Session]:
    """A read-only look at the bot's database."""
    with owner.bot.services.db.unit_of_work() as uow:
        yield uow.session


def item_id(owner: Owner, code: str) -> int:
    """The id of a price-list item by its code, e.g. PL01."""
    with session_of(owner) as session:
        found = session.scalar(select(PriceItem.id).where(PriceItem.code == code))
    assert found is not None
    return found


def convo_state(owner: Owner) -> tuple[str, dict[str, Any], int]:
    """The owner's conversation: step, draft and button version."""
    with session_of(owner) as session:
        convo = session.scalar(select(Conversation).where(
            Conversation.channel == owner.channel, Conversation.chat_id == str(owner.chat_id)))
        assert convo is not None
        return convo.step, dict(convo.data or {}), convo.version


def count_orders(owner: Owner) -> int:
    """How many orders the database holds (for everyone)."""
    with session_of(owner) as session:
        return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def orders_of(owner: Owner) -> list[Order]:
    """The owner's orders (oldest first), detached, with history, photos and item loaded."""
    with session_of(owner) as session:
        mine = list(session.scalars(
            select(Order).join(Identity, Identity.person_id == Order.owner_id)
            .where(Identity.channel == owner.channel, Identity.external_id == owner.external_id)
            .order_by(Order.id)))
        for order in mine:
            _ = order.events, order.photos, order.price_item, order.unit
        session.expunge_all()  # keep them readable after the unit of work rolls back
        return mine


async def to_desc(owner: Owner, where: str = "home", category: str = "plumbing",
                  item: str = "PL01") -> None:
    """From the menu to the description step ("other" for no price-list item)."""
    await tap(owner, "repair")
    await tap(owner, "where", where)
    await tap(owner, "cat", category)
    if where == "home":
        await tap(owner, "item", "other" if item == "other" else str(item_id(owner, item)))
    assert convo_state(owner)[0] == "rep_desc"


async def desc_to_phone(owner: Owner, desc: str = "The kitchen tap drips",
                        slot: str = "1000") -> None:
    """From the description to the phone step, no photos, a visit tomorrow."""
    await owner.send(desc)
    await tap(owner, "photos_done")
    await tap(owner, "when", "book")
    await tap(owner, "date", TOMORROW)
    await tap(owner, "slot", TOMORROW + slot)
    assert convo_state(owner)[0] == "rep_phone"


async def quick_order(owner: Owner, desc: str = "The kitchen tap drips",
                      item: str = "PL01") -> list[dict[str, Any]]:
    """A whole home repair for a listed item, agreed and submitted; the final replies."""
    await to_desc(owner, item=item)
    await desc_to_phone(owner, desc)
    await tap(owner, "phone", "mine")
    await tap(owner, "quote", "agree")
    return await tap(owner, "submit")


# --- 1. in-home repair with a list price, agreed ---------------------------------------------


@both_channels
async def test_home_repair_with_list_price_agreed(alice: Owner) -> None:
    """R1, R2, R4, R44, R50: the owner sees and agrees to the price, then gets a number and plan."""
    await register(alice)

    replies = await alice.press("Report a repair")
    assert alice.texts(replies) == ["Where is the problem?"]
    assert alice.buttons(replies[0]) == [
        "🏠 Inside my home (paid service)", "🏢 Public area (free)", "✖ Cancel"]

    replies = await alice.press("Inside my home")
    assert alice.texts(replies) == ["What kind of problem is it?"]
    assert alice.buttons(replies[0])[:2] == ["Plumbing", "Electrical"]
    assert alice.buttons(replies[0])[-2:] == ["« Back", "✖ Cancel"]

    replies = await alice.press("Plumbing")
    assert alice.texts(replies) == ["Which of these is it? Prices are from our price list."]
    buttons = alice.buttons(replies[0])
    assert buttons[0].startswith("Replace tap · ¥30.00/")
    assert "Leaking pipe repair · quoted on site" in buttons
    assert buttons[-3:] == ["Something else / not sure", "« Back", "✖ Cancel"]

    replies = await alice.press("Replace tap")
    assert alice.texts(replies) == ["Please describe what is wrong, in a few words."]

    replies = await alice.send("  The kitchen tap drips all night  ")
    assert alice.texts(replies) == [
        "Send up to 5 photos of the problem if you can, then tap the button."]
    assert alice.buttons(replies[0]) == ["Skip photos", "« Back", "✖ Cancel"]

    replies = await alice.photo("tap-photo-1")
    assert alice.texts(replies) == ["Photo received. Send more, or tap Continue."]
    assert alice.buttons(replies[0]) == ["Continue"]

    replies = await alice.press("Continue")
    assert alice.texts(replies) == ["When should we come?"]
    assert alice.buttons(replies[0]) == [
        "🚨 Urgent: come now", "📅 Book a visit", "« Back", "✖ Cancel"]

    replies = await alice.press("Book a visit")
    assert alice.texts(replies) == [
        "Which day? Or type a date and time, for example 2026-11-24 10:00."]
    days = alice.buttons(replies[0])
    assert days[:3] == ["Mon 23 Nov", "Tue 24 Nov", "Wed 25 Nov"]
    assert len(days) == 7 + 2  # a week of days, then Back and Cancel

    replies = await alice.press("Tue 24 Nov")
    assert alice.texts(replies) == ["What time on Tue 24 Nov?"]
    assert alice.buttons(replies[0]) == [
        "08:00–10:00", "10:00–12:00", "12:00–14:00", "14:00–16:00", "16:00–18:00",
        "« Back", "✖ Cancel"]

    replies = await alice.press("10:00–12:00")
    assert alice.texts(replies) == [
        "Which phone number should the engineer call? Tap below or type another one."]
    assert alice.buttons(replies[0]) == ["Use 139****1111", "« Back", "✖ Cancel"]

    replies = await alice.press("Use 139****1111")
    (quote,) = alice.texts(replies)
    assert quote.startswith("This is a paid service.")
    assert "Replace tap: ¥30.00 per" in quote
    assert re.search(r"Materials.*at cost", quote)
    assert alice.buttons(replies[0]) == ["✅ Agree", "❌ Decline", "« Back", "✖ Cancel"]
    assert count_orders(alice) == 0  # nothing is stored before the owner agrees (R4)

    replies = await alice.press("Agree")
    (summary,) = alice.texts(replies)
    assert summary.splitlines() == [
        "Please check your request:",
        "Where: inside the home",
        "Category: Plumbing",
        "Item: Replace tap",
        "Problem: The kitchen tap drips all night",
        "Photos: 1",
        "When: Tue 24 Nov 10:00–12:00",
        "Phone: 139****1111",
        "Price: ¥30.00, agreed (materials at cost)",
    ]
    assert alice.buttons(replies[0]) == ["📨 Submit", "« Back", "✖ Cancel"]
    assert count_orders(alice) == 0

    replies = await alice.press("Submit")
    texts = alice.texts(replies)
    assert len(texts) == 1  # the thanks and the menu in one message (issue 15.2)
    thanks, menu = texts[0].split("\n\n")
    number = ORDER_NUMBER.search(thanks)
    assert number is not None
    assert thanks.splitlines() == [
        f"Thank you! Your request {number.group()} is registered.",
        "An engineer will come Tue 24 Nov 10:00–12:00.",
        "You will get a message as soon as an engineer takes it.",
    ]
    assert menu == "What can I do for you?"

    (order,) = orders_of(alice)
    assert order.number == number.group() == "R-20261123-0001"
    assert (order.kind, order.location, order.category) == ("repair", "home", "plumbing")
    assert order.description == "The kitchen tap drips all night"
    assert order.contact_phone == "+8613900001111"
    assert order.unit is not None and order.unit.code == "1-1-101"
    assert order.price_item is not None and order.price_item.code == "PL01"
    assert (order.quote_kind, order.quoted_fen, order.status) == ("list", 3000, "submitted")
    assert order.urgent is False
    assert order.visit_start == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert order.visit_start.utcoffset() == timedelta(0)
    assert order.visit_end == datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    # a web upload is kept under a random name of the desk's own (its type read from its bytes)
    web_photo = re.compile(r"[0-9a-f]{32}\.png")
    assert [
        "tap-photo-1" if alice.channel == "web" and web_photo.fullmatch(p.file_ref) else p.file_ref
        for p in order.photos
    ] == ["tap-photo-1"]
    assert [(e.action, e.to_status, e.amount_fen, e.actor_id) for e in order.events] == [
        ("submitted", "submitted", None, order.owner_id),
        ("quote_agreed", None, 3000, order.owner_id),
    ]
    assert all(e.at.tzinfo is not None for e in order.events)
    assert convo_state(alice)[:2] == ("idle", {})


# --- 2. declined at the quote ----------------------------------------------------------------


@both_channels
async def test_declined_quote_creates_no_order(alice: Owner) -> None:
    """R4: without the owner's yes nothing is ordered and nothing is charged."""
    await register(alice)
    await alice.press("Report a repair")
    await alice.press("Inside my home")
    await alice.press("Plumbing")
    await alice.press("Unblock drain")
    await desc_to_phone(alice, "The shower drain is blocked")
    replies = await alice.press("Use 139")
    assert "Unblock drain: ¥50.00 per" in alice.texts(replies)[0]

    replies = await alice.press("Decline")
    texts = alice.texts(replies)
    assert texts == [  # the note and the menu in one message (issue 15.2)
        "Understood: no order was made and nothing will be charged. If you change your mind, "
        "you can start a new request any time.\n\nWhat can I do for you?",
    ]
    assert "Report a repair" in alice.buttons(replies[0])[0]
    assert count_orders(alice) == 0
    assert convo_state(alice)[:2] == ("idle", {})


# --- 3. no list price: quoted on site (R5) ---------------------------------------------------


@both_channels
async def test_item_quoted_on_site(alice: Owner) -> None:
    """R5: an item without a list price is quoted on site; the owner acknowledges that."""
    await register(alice)
    await alice.press("Report a repair")
    await alice.press("Inside my home")
    await alice.press("Walls and floors")
    replies = await alice.press("Wall paint touch-up · quoted on site")
    assert alice.texts(replies) == ["Please describe what is wrong, in a few words."]
    await desc_to_phone(alice, "Paint peeling above the bathroom door")

    replies = await alice.press("Use 139")
    (text,) = alice.texts(replies)
    assert "An engineer will inspect and quote on site; you decide then" in text
    assert "no work starts before you agree" in text
    assert alice.buttons(replies[0]) == ["👌 Understood", "« Back", "✖ Cancel"]

    replies = await alice.press("Understood")
    assert "Price: quoted on site; you decide then" in alice.texts(replies)[0].splitlines()
    replies = await alice.press("Submit")
    assert ORDER_NUMBER.search(alice.texts(replies)[0])

    (order,) = orders_of(alice)
    assert (order.quote_kind, order.quoted_fen) == ("on_site", None)
    assert order.price_item is not None and order.price_item.code == "WF01"
    assert [e.action for e in order.events] == ["submitted"]


@both_channels
async def test_something_else_quoted_on_site(alice: Owner) -> None:
    """R5: "Something else / not sure" has no price item and is quoted on site."""
    await register(alice)
    await alice.press("Report a repair")
    await alice.press("Inside my home")
    await alice.press("Electrical")
    await alice.press("Something else / not sure")
    await desc_to_phone(alice, "The doorbell buzzes by itself")
    replies = await alice.press("Use 139")
    assert "quote on site" in alice.texts(replies)[0]
    assert "Agree" not in " ".join(alice.buttons(replies[0]))
    await alice.press("Understood")
    await alice.press("Submit")

    (order,) = orders_of(alice)
    assert (order.category, order.quote_kind, order.quoted_fen) == ("electrical", "on_site", None)
    assert order.price_item is None


# --- 4. public area: free --------------------------------------------------------------------


@both_channels
async def test_public_area_is_free(alice: Owner) -> None:
    """R1: public areas are free: no item step, no quote step, the summary says free."""
    await register(alice)
    await alice.press("Report a repair")
    replies = await alice.press("Public area")
    categories = alice.buttons(replies[0])
    assert "Appliances" not in categories and "Office services" not in categories
    replies = await alice.press("Electrical")
    assert alice.texts(replies) == ["Please describe what is wrong, in a few words."]
    await desc_to_phone(alice, "Corridor light on floor 3 is out", slot="1400")

    replies = await alice.press("Use 139")
    (summary,) = alice.texts(replies)
    lines = summary.splitlines()
    assert lines[0] == "Please check your request:"
    assert "Where: public area" in lines
    assert "Price: free (public area)" in lines
    assert "When: Tue 24 Nov 14:00–16:00" in lines

    replies = await alice.press("Submit")
    assert "An engineer will come Tue 24 Nov 14:00–16:00." in alice.texts(replies)[0]
    (order,) = orders_of(alice)
    assert (order.location, order.quote_kind, order.quoted_fen) == ("public", "free", None)
    assert order.price_item is None
    assert [e.action for e in order.events] == ["submitted"]


# --- 5. urgent: come now (R3) ----------------------------------------------------------------


@both_channels
async def test_urgent_repair_within_30_minutes(alice: Owner) -> None:
    """R2, R3: "come now" skips the booking and the plan promises 30 minutes."""
    await register(alice)
    await to_desc(alice, where="public", category="plumbing")
    await alice.send("Water pouring from the ceiling in the lobby")
    await alice.press("Skip photos")
    replies = await alice.press("Urgent: come now")
    assert alice.texts(replies) == [
        "Which phone number should the engineer call? Tap below or type another one."]
    replies = await alice.send("138 0000 1234")  # another number than the registered one
    assert "When: come now (urgent)" in alice.texts(replies)[0].splitlines()
    assert "Phone: 138****1234" in alice.texts(replies)[0].splitlines()
    assert "Photos: 0" in alice.texts(replies)[0].splitlines()

    replies = await alice.press("Submit")
    plan = alice.texts(replies)[0].splitlines()[1]
    assert "within 30 minutes" in plan
    (order,) = orders_of(alice)
    assert order.urgent is True
    assert (order.visit_start, order.visit_end) == (None, None)
    assert order.contact_phone == "+8613800001234"


# --- 6. cancel and back ----------------------------------------------------------------------


@both_channels
async def test_cancel_command_midway_stores_nothing(alice: Owner) -> None:
    """/cancel drops the draft: nothing stored, the menu is shown."""
    await register(alice)
    await to_desc(alice)
    await alice.send("Tap broken")
    await alice.photo("p1")
    replies = await alice.send("/cancel")
    assert alice.texts(replies) == ["Cancelled. Nothing was saved.", "What can I do for you?"]
    assert count_orders(alice) == 0
    assert convo_state(alice)[:2] == ("idle", {})
    # a fresh request starts from the beginning, with no photos left over
    replies = await alice.press("Report a repair")
    assert alice.texts(replies) == ["Where is the problem?"]
    assert convo_state(alice)[1] == {"photos": [], "albums": []}


@both_channels
async def test_cancel_button_midway_stores_nothing(alice: Owner) -> None:
    """The ✖ Cancel button at the quote step drops the draft as well."""
    await register(alice)
    await to_desc(alice)
    await desc_to_phone(alice)
    await tap(alice, "phone", "mine")
    replies = await alice.press("✖ Cancel")
    assert alice.texts(replies) == ["Cancelled. Nothing was saved.", "What can I do for you?"]
    assert count_orders(alice) == 0
    assert convo_state(alice)[:2] == ("idle", {})
    replies = await alice.send("/cancel")
    assert alice.texts(replies) == ["There is nothing to cancel.\n\nWhat can I do for you?"]


@both_channels
async def test_back_goes_to_the_previous_question(alice: Owner) -> None:
    """« Back at each step asks the previous question again, keeping what was answered."""
    await register(alice)
    await to_desc(alice)
    replies = await alice.press("« Back")  # description -> item
    assert alice.texts(replies) == ["Which of these is it? Prices are from our price list."]
    replies = await alice.press("« Back")  # item -> category
    assert alice.texts(replies) == ["What kind of problem is it?"]
    replies = await alice.press("« Back")  # category -> where
    assert alice.texts(replies) == ["Where is the problem?"]
    await alice.press("Inside my home")
    await alice.press("Plumbing")
    await alice.press("Replace tap")
    await alice.send("Tap drips")
    await alice.photo("p1")
    await alice.press("Continue")
    replies = await alice.press("« Back")  # when -> photos, with the count
    assert alice.texts(replies) == [
        "Send up to 5 photos of the problem if you can, then tap the button."]
    assert alice.buttons(replies[0])[0] == "Continue (photos: 1)"
    await alice.press("Continue (photos: 1)")
    await alice.press("Book a visit")
    await alice.press("Tue 24 Nov")
    replies = await alice.press("« Back")  # window -> date
    assert alice.texts(replies)[0].startswith("Which day?")
    replies = await alice.press("« Back")  # date -> when
    assert alice.texts(replies) == ["When should we come?"]
    await alice.press("Book a visit")
    await alice.press("Wed 25 Nov")
    await alice.press("08:00–")
    replies = await alice.press("« Back")  # phone -> date
    assert alice.texts(replies)[0].startswith("Which day?")
    await alice.press("Wed 25 Nov")
    await alice.press("16:00–")
    await alice.press("Use 139")
    replies = await alice.press("« Back")  # quote -> phone
    assert alice.texts(replies)[0].startswith("Which phone number")
    await alice.press("Use 139")
    await alice.press("Agree")
    replies = await alice.press("« Back")  # summary -> quote
    assert alice.texts(replies)[0].startswith("This is a paid service.")
    replies = await alice.press("Agree")
    lines = alice.texts(replies)[0].splitlines()
    assert "Problem: Tap drips" in lines
    assert "Photos: 1" in lines
    assert "When: Wed 25 Nov 16:00–18:00" in lines
    assert count_orders(alice) == 0
    await alice.press("Submit")
    (order,) = orders_of(alice)
    assert order.visit_start == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert len(order.photos) == 1


@both_channels
async def test_back_from_urgent_phone_and_public_summary(alice: Owner) -> None:
    """Back from the phone (urgent) goes to "when"; from a public summary to the phone."""
    await register(alice)
    await to_desc(alice, where="public", category="cleaning")
    await alice.send("Rubbish left in stairwell B")
    await alice.press("Skip photos")
    await alice.press("Urgent")
    replies = await alice.press("« Back")
    assert alice.texts(replies) == ["When should we come?"]
    await alice.press("Urgent")
    await alice.press("Use 139")
    replies = await alice.press("« Back")
    assert alice.texts(replies)[0].startswith("Which phone number")


# --- 7. a restart mid-draft ------------------------------------------------------------------


async def test_restart_mid_draft_resumes(
    alice: Owner, fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """State lives in the database: a new process continues the draft, old buttons still work."""
    await register(alice)
    await to_desc(alice)
    before = convo_state(alice)
    await alice.bot.stop()

    new_bot: Bot = await start_bot(fake_tg, db_url, clock)
    try:
        alice.bot = new_bot
        assert convo_state(alice) == before
        replies = await alice.send("Tap drips since the weekend")
        assert alice.texts(replies) == [
            "Send up to 5 photos of the problem if you can, then tap the button."]
        await alice.photo("after-restart")
        # the buttons drawn by the old process for the current step still work
        replies = await alice.press("Continue")
        assert alice.texts(replies) == ["When should we come?"]
        await alice.press("Book a visit")
        await alice.press("Tue 24 Nov")
        await alice.press("12:00–")
        await alice.press("Use 139")
        await alice.press("Agree")
        replies = await alice.press("Submit")
        assert ORDER_NUMBER.search(alice.texts(replies)[0])
        (order,) = orders_of(alice)
        assert order.description == "Tap drips since the weekend"
        assert [p.file_ref for p in order.photos] == ["after-restart"]
    finally:
        await new_bot.stop()


async def test_restart_keeps_buttons_of_the_current_step(
    alice: Owner, fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """A button shown before the restart, for the step the owner is still on, is honoured."""
    await register(alice)
    await to_desc(alice, where="public", category="greening")
    await alice.send("Dead tree branch over the path")
    await alice.press("Skip photos")
    await alice.bot.stop()
    new_bot = await start_bot(fake_tg, db_url, clock)
    try:
        alice.bot = new_bot
        replies = await alice.press("Book a visit")  # drawn by the old process
        assert alice.texts(replies)[0].startswith("Which day?")
        replies = await alice.send("2026-11-24 15:00")  # typed time
        assert alice.texts(replies)[0].startswith("Which phone number")
        await alice.press("Use 139")
        replies = await alice.press("Submit")
        assert "An engineer will come Tue 24 Nov 15:00–17:00." in alice.texts(replies)[0]
        (order,) = orders_of(alice)
        assert order.visit_start == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    finally:
        await new_bot.stop()


# --- 8. my requests --------------------------------------------------------------------------


async def test_my_requests_list_detail_and_privacy(alice: Owner, zhang: Owner) -> None:
    """An owner sees their own orders, newest first, with history; never someone else's."""
    await register(alice)
    await register(zhang)
    replies = await alice.press("My requests")
    assert alice.texts(replies) == ["You have no requests yet."]

    await quick_order(alice, "First: kitchen tap drips")
    await quick_order(alice, "Second: drain blocked", item="PL02")
    await quick_order(zhang, "张伟的秘密问题")
    (theirs,) = orders_of(zhang)

    replies = await alice.press("My requests")
    assert alice.texts(replies) == ["Your requests (newest first). Tap one to see its history:"]
    assert alice.buttons(replies[0]) == [
        "R-20261123-0002 · Waiting for an engineer",
        "R-20261123-0001 · Waiting for an engineer",
        "« Menu",
    ]

    replies = await alice.press("R-20261123-0001")
    (detail,) = alice.texts(replies)
    lines = detail.splitlines()
    assert lines[0] == "R-20261123-0001 · Waiting for an engineer"
    assert "Problem: First: kitchen tap drips" in lines
    assert "When: Tue 24 Nov 10:00–12:00" in lines
    assert "Price: ¥30.00 (materials at cost)" in lines
    history = lines[lines.index("History:") + 1 :]
    assert [re.sub(r"^11-23 09:3\d ", "", h) for h in history] == [
        "Request submitted", "Price agreed ¥30.00"]
    assert alice.buttons(replies[0]) == ["« My requests"]

    # a forged button for zhang's order reveals nothing of it
    message = replies[0]
    replies = await alice.press_data(f"g|order|{theirs.id}", message)
    texts = alice.texts(replies)
    assert paragraphs(texts)[0] == "I could not find that request among yours."
    everything = " ".join(texts + [b for m in replies for b in alice.buttons(m)])
    assert theirs.number not in everything
    assert "秘密" not in everything
    assert len(orders_of(zhang)) == 1 and len(orders_of(alice)) == 2


# --- 9. albums -------------------------------------------------------------------------------


async def test_album_gets_one_reply_and_photos_stop_at_five(
    alice: Owner, fake_tg: FakeTelegram
) -> None:
    """Three photos of one album get one answer; the sixth photo is refused; five are kept."""
    await register(alice)
    await to_desc(alice)
    await alice.send("Tap and pipe both leak")

    # Telegram delivers an album as separate messages, close together
    fake_tg.user_photo(alice.user, file_id="a1", media_group_id="album-1")
    fake_tg.user_photo(alice.user, file_id="a2", media_group_id="album-1")
    replies = await alice.photo("a3", album="album-1")
    assert alice.texts(replies) == ["Photo received. Send more, or tap Continue."]

    assert alice.texts(await alice.photo("s4")) == ["Photo received. Send more, or tap Continue."]
    assert alice.texts(await alice.photo("s5")) == ["Photo received. Send more, or tap Continue."]
    replies = await alice.photo("s6")
    assert alice.texts(replies) == ["You have already sent 5 photos, the most I can keep."]
    assert alice.buttons(replies[0]) == ["Continue"]
    assert convo_state(alice)[1]["photos"] == ["a1", "a2", "a3", "s4", "s5"]

    await alice.press("Continue")
    await alice.press("Urgent")
    await alice.press("Use 139")
    await alice.press("Agree")
    replies = await alice.press("Submit")
    assert ORDER_NUMBER.search(alice.texts(replies)[0])
    (order,) = orders_of(alice)
    assert [p.file_ref for p in order.photos] == ["a1", "a2", "a3", "s4", "s5"]
    assert {p.channel for p in order.photos} == {"telegram"}


async def test_album_over_the_limit_is_refused_once(alice: Owner, fake_tg: FakeTelegram) -> None:
    """An album of seven keeps five and says so once, instead of dropping two in silence."""
    await register(alice)
    await to_desc(alice)
    await alice.send("Water damage everywhere")
    for n in range(1, 7):
        fake_tg.user_photo(alice.user, file_id=f"b{n}", media_group_id="album-big")
    replies = await alice.photo("b7", album="album-big")
    assert alice.texts(replies) == [
        "Photo received. Send more, or tap Continue.",
        "You have already sent 5 photos, the most I can keep.",
    ]
    assert convo_state(alice)[1]["photos"] == ["b1", "b2", "b3", "b4", "b5"]


async def test_captioned_photo_is_description_and_photo(
    alice: Owner, fake_tg: FakeTelegram
) -> None:
    """A captioned album at the description step gives the description and keeps every photo."""
    await register(alice)
    await to_desc(alice)
    fake_tg.user_photo(alice.user, file_id="c1", media_group_id="alb", caption="Tap leaking")
    replies = await alice.photo("c2", album="alb")  # Telegram captions only the first
    assert alice.texts(replies) == [
        "Send up to 5 photos of the problem if you can, then tap the button."]
    assert alice.buttons(replies[0])[0] == "Continue (photos: 1)"  # the second came after it
    step, data, _ = convo_state(alice)
    assert (step, data["desc"], data["photos"]) == ("rep_photos", "Tap leaking", ["c1", "c2"])


# --- 10. order numbers -----------------------------------------------------------------------


@both_channels
async def test_order_numbers_are_sequential_per_day(alice: Owner, clock: FakeClock) -> None:
    """Numbers count up within a local day and start again at 0001 the next day."""
    await register(alice)
    first = await quick_order(alice, "One")
    second = await quick_order(alice, "Two")
    assert "R-20261123-0001" in alice.texts(first)[0]
    assert "R-20261123-0002" in alice.texts(second)[0]

    clock.advance(timedelta(days=1))  # Tuesday 24 Nov, 09:30
    await to_desc(alice)
    await alice.send("Three")
    await tap(alice, "photos_done")
    await tap(alice, "when", "now")
    await tap(alice, "phone", "mine")
    await tap(alice, "quote", "agree")
    third = await tap(alice, "submit")
    assert "R-20261124-0001" in alice.texts(third)[0]
    assert [o.number for o in orders_of(alice)] == [
        "R-20261123-0001", "R-20261123-0002", "R-20261124-0001"]


@both_channels
async def test_chinese_owner_gets_an_order_number(zhang: Owner) -> None:
    """The same dialog works for a Chinese client (asserting on data, not wording)."""
    await register(zhang)
    replies = await quick_order(zhang, "厨房水龙头漏水")
    assert ORDER_NUMBER.search(zhang.texts(replies)[0])
    (order,) = orders_of(zhang)
    assert order.contact_phone == "+8613812345678"
    assert order.unit is not None and order.unit.code == "3-2-1201"
    assert order.description == "厨房水龙头漏水"


@both_channels
async def test_resume_draft_from_the_menu(alice: Owner) -> None:
    """Report a repair while a draft is open continues it where it was."""
    await register(alice)
    await to_desc(alice)
    await alice.send("Tap drips")
    await alice.send("/menu")
    replies = await alice.press("Report a repair")
    assert paragraphs(alice.texts(replies)) == [
        "Let us continue your repair request where you left off.",
        "Send up to 5 photos of the problem if you can, then tap the button.",
    ]
    assert convo_state(alice)[1]["desc"] == "Tap drips"

