"""Bad input at every complaint step gets a polite answer in the person's language and changes
nothing: empty, over-long and invisible-only text, photos where words are wanted, words where a
button is wanted, stale buttons, a relay to a closed complaint, a fourth anonymous complaint."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from handlers.complaints.common import TEXT_LIMIT, clean
from store.complaints.models import Complaint
from tests.fake_telegram import FakeTelegram
from tests.harness import Bot, Owner
from tests.test_complaints import (
    desk_staff,
    file_complaint,
    load,
    press_k,
    take_in_group,
    taken_class_one,
)
from tests.test_repair import convo_state, register, tap

both_channels = pytest.mark.parametrize("channel", ["telegram", "wechat"])
INVISIBLE = "\u200b\u200d\u2060\u202e\ufeff"
BAD_TEXTS = ("   ", INVISIBLE, "x" * (TEXT_LIMIT + 1))


def complaints_count(owner: Owner) -> int:
    """How many complaints the database holds."""
    with owner.bot.services.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Complaint)) or 0)


async def assert_unchanged(owner: Owner, text: str) -> str:
    """Send `text`: the step, draft and button version stay; the answer is not silence."""
    before = convo_state(owner)
    replies = await owner.send(text)
    assert owner.texts(replies) and all(owner.texts(replies)), text
    assert convo_state(owner) == before, text
    return " ".join(owner.texts(replies))


@both_channels
async def test_intake_text_steps_refuse_empty_long_and_invisible(alice: Owner) -> None:
    """What happened and the place: each bad text gets an answer; the draft stays."""
    await register(alice)
    await tap(alice, "complaint")
    await tap(alice, "type", "complaint")
    await tap(alice, "subj", "noise")
    assert convo_state(alice)[0] == "cmp_text"
    answers = [await assert_unchanged(alice, text) for text in BAD_TEXTS]
    assert "in words" in answers[0] and "in words" in answers[1]
    assert str(TEXT_LIMIT) in answers[2]
    await alice.send("Drilling after 22:00 every night")
    await tap(alice, "photos_done")
    await tap(alice, "where", "elsewhere")
    assert convo_state(alice)[0] == "cmp_place"
    for text in ("  ", INVISIBLE, "y" * 201):
        await assert_unchanged(alice, text)
    assert complaints_count(alice) == 0


async def test_words_where_buttons_are_wanted_and_photos_where_words_are(
    alice: Owner,
) -> None:
    """Typing at a button step asks for a button; a photo at the text step asks for words."""
    await register(alice)
    await tap(alice, "complaint")
    text = await assert_unchanged(alice, "complaint please")
    assert "buttons" in text
    await tap(alice, "type", "complaint")
    await tap(alice, "subj", "noise")
    before = convo_state(alice)
    replies = await alice.photo("AgACnoise")
    assert "type a few words first" in alice.texts(replies)[-1]
    assert convo_state(alice) == before
    await alice.send("Loud music")
    for _ in range(5):
        await alice.photo("AgACx")
    replies = await alice.photo("AgACsixth")
    assert "already sent 5 photos" in alice.texts(replies)[-1]
    assert len(convo_state(alice)[1]["photos"]) == 5
    await tap(alice, "photos_done")
    await assert_unchanged(alice, "public")
    replies = await alice.send("/cancel")
    assert "Nothing was saved" in alice.texts(replies)[0]
    assert complaints_count(alice) == 0


async def test_stale_intake_button_changes_nothing(alice: Owner) -> None:
    """An answer button from an earlier step is out of date."""
    await register(alice)
    await tap(alice, "complaint")
    await tap(alice, "type", "complaint")
    from tests.test_repair import find_action

    message, data = find_action(alice, "type", "suggestion", as_drawn=True)  # edited away
    before = convo_state(alice)
    replies = await alice.press_data(data, message)
    assert alice.refused(replies, "out of date")  # on the button (issue 11.5)
    assert convo_state(alice)[0] == before[0] and convo_state(alice)[1] == before[1]


async def test_fourth_open_anonymous_complaint_is_refused_politely(alice: Owner) -> None:
    """At most 3 open anonymous complaints per person; a named one is still possible."""
    await register(alice)
    for n in range(3):
        await file_complaint(alice, f"Anonymous matter {n}", anonymous=True)
    await tap(alice, "complaint")
    await tap(alice, "type", "complaint")
    await tap(alice, "subj", "security")
    await alice.send("A fourth matter")
    await tap(alice, "photos_done")
    await tap(alice, "where", "public")
    replies = await tap(alice, "anon", "yes")
    assert "3 anonymous complaints open" in alice.texts(replies)[0]
    assert complaints_count(alice) == 3 and convo_state(alice)[0] == "cmp_anon"
    replies = await tap(alice, "anon", "no")
    assert complaints_count(alice) == 4


async def test_staff_notes_refuse_bad_text_and_relay_to_closed_complaint(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """The classification note and the relay refuse empty or invisible text; a Reply to a
    closed complaint sends nothing."""
    await register(alice)
    staff = await desk_staff(fake_tg, bot)
    agent = staff["agent"]
    number = await file_complaint(alice)
    await take_in_group(fake_tg, bot, agent.user, number)
    await press_k(agent, "classify", "invalid")
    for text in ("   ", INVISIBLE, "z" * (TEXT_LIMIT + 1)):
        replies = await agent.send(text)
        assert agent.texts(replies)
    assert load(bot, number).status == "taken"
    await agent.send("This is the owners' committee's rule, not a fault.")
    assert load(bot, number).status == "closed"
    replies = await press_k(agent, "relay")
    assert agent.refused(replies, "closed")


async def test_relay_refuses_bad_text_then_a_closed_complaint(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """The owner's Reply: empty or invisible text is refused; after closing, the Reply button
    says the complaint is closed and nothing reaches staff."""
    _number, staff = await taken_class_one(fake_tg, bot, alice)
    butler = staff["butler"]
    await press_k(alice, "write")
    for text in ("  ", INVISIBLE):
        replies = await alice.send(text)
        assert "in words" in alice.texts(replies)[-1]
    await alice.send("/cancel")
    await press_k(butler, "resolve")
    await butler.send("Done")
    await press_k(alice, "answer", "yes")
    seen = len(fake_tg.sent(butler.chat_id))
    replies = await press_k(alice, "write")
    assert alice.refused(replies, "closed")
    assert len(fake_tg.sent(butler.chat_id)) == seen


@given(st.text(max_size=60))
def test_clean_keeps_only_visible_text(text: str) -> None:
    """Whatever is typed, `clean` leaves no control, format or private-use character and no
    surrounding whitespace; visible letters survive."""
    result = clean(text)
    assert result == result.strip()
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Co") and c != "\n" for c in result)
    visible = [c for c in text if unicodedata.category(c)[0] in "LN"]
    assert all(c in result for c in visible)
