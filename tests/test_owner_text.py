"""Typed text is normalised at the inbox (issue 11.2): no bidi controls, no zero-width characters
(a ZWJ inside an emoji stays), fullwidth ASCII folded, one kind of line break, and text that
shows nothing is empty — so it can be neither a blank description nor a reversed approval line."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from handlers.owner_text import (
    BIDI_CONTROLS,
    BLANK_LETTERS,
    QUOTE_MARK,
    ZERO_WIDTH,
    ZWJ,
    field_text,
    normalise,
    one_line,
)
from store.models import Person
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Owner, staff_member
from tests.test_repair import both_channels, convo_state, to_desc
from tests.test_repair_bad_input import PROPERTY, DirectChat, direct  # noqa: F401

INVISIBLE = sorted(BIDI_CONTROLS | ZERO_WIDTH | BLANK_LETTERS | {"\u00ad", "\u2061", "\u180e"})
# what people type: letters, digits, CJK, punctuation (Chinese too), spaces and line breaks
PLAIN = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),
        st.sampled_from("，。：！？（）、《》“”　\n\t¥…—"),
    ),
    max_size=80,
)
JUNK = st.lists(st.sampled_from(INVISIBLE), max_size=6)


def _interleave(text: str, junk: list[str], positions: list[int]) -> str:
    chars = list(text)
    for c, p in zip(junk, positions, strict=False):
        chars.insert(p % (len(chars) + 1), c)
    return "".join(chars)


def _allowed_zwj(text: str, i: int) -> bool:
    before = text[:i].rstrip("\ufe0f\ufe0e" + "".join(map(chr, range(0x1F3FB, 0x1F400))))
    after = text[i + 1 : i + 2]
    return bool(before and after) and all(
        unicodedata.category(c) == "So" for c in (before[-1], after)
    )


@given(st.text(max_size=200))
def test_normalised_text_has_no_hidden_characters(text: str) -> None:
    """Whatever arrives: no controls, bidi, zero-width or blank letters; idempotent."""
    clean = normalise(text)
    assert normalise(clean) == clean
    assert clean == unicodedata.normalize("NFC", clean)
    for i, c in enumerate(clean):
        assert c not in BIDI_CONTROLS and c not in BLANK_LETTERS
        assert c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs", "Zl", "Zp")
        assert c not in ZERO_WIDTH or (c == ZWJ and _allowed_zwj(clean, i))
    assert clean == "" or clean.strip()


@given(PLAIN, JUNK, st.lists(st.integers(min_value=0), max_size=6))
def test_hidden_characters_change_nothing_visible(
    text: str, junk: list[str], positions: list[int]
) -> None:
    """Plain typed text comes through as typed; hiding invisible characters in it changes
    nothing; text made only of them is empty."""
    expected = text if text.strip() else ""
    assert normalise(text) == expected
    assert normalise(_interleave(text, junk, positions)) == expected
    assert normalise("".join(junk) + " \n") == ""


def test_what_is_kept_and_folded() -> None:
    """Emoji sequences keep their ZWJ; fullwidth digits and letters fold; Chinese
    punctuation stays; every kind of line break becomes one."""
    assert normalise("👩\u200d🔧 修好了") == "👩\u200d🔧 修好了"
    assert normalise("👨\u200d👩\u200d👧") == "👨\u200d👩\u200d👧"
    assert normalise("张\u200d伟") == "张伟"
    assert normalise("\u202eLi Na 3-2-1201") == "Li Na 3-2-1201"
    assert normalise("３－２－１２０１，电话：１３８") == "3-2-1201，电话：138"
    assert normalise("a\r\nb\rc\u2028d\u2029e\x85f") == "a\nb\nc\nd\ne\nf"
    assert normalise("\u3164") == normalise("\u200b\u200b") == normalise("\u2800 ") == ""


@given(st.text(max_size=300))
def test_fields_never_start_a_line(text: str) -> None:
    """A name is one line; every further line of a field starts with the quote mark."""
    assert "\n" not in one_line(text) and one_line(text).strip()
    first, *rest = field_text(text).split("\n")
    assert first.strip()
    assert all(line.startswith(QUOTE_MARK) and line[len(QUOTE_MARK) :].strip() for line in rest)


@PROPERTY
@given(text=PLAIN, junk=JUNK, positions=st.lists(st.integers(min_value=0), max_size=6))
def test_the_description_is_stored_clean(
    direct: DirectChat,  # noqa: F811
    text: str,
    junk: list[str],
    positions: list[int],
) -> None:
    """Through the inbox: hidden characters never reach the draft; invisible-only is refused."""
    before = direct.state()
    try:
        replies = direct.send(_interleave(text, junk, positions))
        step, draft, _version = direct.state()
        if not text.strip():
            assert step == "rep_desc" and draft == before[1]
            assert "description" in replies[0]["text"]
        elif step == "rep_photos":
            assert draft["desc"] == text.strip()
    finally:
        direct.restore(before)


@both_channels
async def test_invisible_description_is_asked_again(alice: Owner) -> None:
    """A description of zero-width spaces is empty: the owner is asked again, nothing kept."""
    await alice.send("/start")
    await alice.send("Li Na")
    await alice.send("1-1-101")
    await alice.contact("+8613900001111")
    await to_desc(alice, where="public")
    replies = await alice.send("\u200b\u200c\u2060\ufeff")
    assert alice.texts(replies) == ["Please type a short description of the problem."]
    assert convo_state(alice)[0] == "rep_desc" and "desc" not in convo_state(alice)[1]


@both_channels
async def test_direction_override_in_a_name_is_dropped(fake_tg: FakeTelegram, alice: Owner) -> None:
    """A right-to-left override cannot reverse the agent's approval line; a blank name is
    no name."""
    agent = await staff_member(fake_tg, alice.bot, TgUser(5201, "Agent Sun", "en"), "agent")
    await alice.send("/start")
    replies = await alice.send("\u3164\u200b")
    assert alice.texts(replies) == ["Please type your name."]
    await alice.send("\u202eLi\u200b Na\u202c")
    await alice.send("1-1-101")
    await alice.send("13900001111")  # typed: checked by an agent
    request = [t for t in fake_tg.messages_to(agent.chat_id) if "registration" in t][-1]
    assert "Li Na, room 1-1-101" in request
    assert not any(c in BIDI_CONTROLS or c in ZERO_WIDTH for c in request)
    with alice.bot.services.db.unit_of_work() as uow:
        assert uow.session.scalars(
            select(Person.name).where(Person.unit_id.is_not(None))
        ).all() == ["Li Na"]
