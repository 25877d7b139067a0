"""Complaints and suggestions (R30–R34, R24, R25) as transcripts: intake on both channels, the
first-press take, each class and invalid, the butler's progress and its escalation, the relay,
resolution, reopening, the callback, and the 72-hour auto-close."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from store.complaints.models import Complaint
from store.models import Timer
from tests.fake_telegram import FakeTelegram, TgChat, TgUser
from tests.harness import STAFF_GROUP, Bot, FakeClock, Owner, staff_member, sweep, told
from tests.test_promises import said_to
from tests.test_repair import convo_state, find_action, register, tap

both_channels = pytest.mark.parametrize("channel", ["telegram", "wechat", "web"])
GROUP = TgChat(id=STAFF_GROUP, type="supergroup", title="Staff")
NUMBER = re.compile(r"C-20261123-\d{4}")
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


# --- helpers (also used by the anonymity and authorization tests) ---------------------------


def complaint_data(
    person: Owner, action: str, extra: str | None = None
) -> tuple[dict[str, Any], str]:
    """The newest message to `person` with a complaint button for `action` (and `extra`)."""
    for message in reversed(person.fake.sent(person.chat_id)):
        markup = message.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                parts = button["callback_data"].split("|")
                if not parts[0].startswith("k") or parts[1] != action:
                    continue
                if extra is None or parts[2].endswith(f"-{extra}"):
                    return message, button["callback_data"]
    raise AssertionError(f"no complaint button {action}; {person.texts(person.last)}")


async def press_k(person: Owner, action: str, extra: str | None = None) -> list[dict[str, Any]]:
    """Press the newest complaint button for `action` in this person's chat."""
    message, data = complaint_data(person, action, extra)
    return await person.press_data(data, message)


async def file_complaint(
    owner: Owner,
    text: str = "The corridor on floor 12 has not been cleaned for a week",
    *,
    kind: str = "complaint",
    subject: str = "cleaning",
    where: str = "public",
    anonymous: bool = False,
    photos: tuple[str, ...] = (),
) -> str:
    """From the menu to a filed complaint (or suggestion); its number."""
    if owner.channel == "wechat":  # numbered menus answer the latest message: show the menu
        await owner.send("/menu")
    await tap(owner, "complaint")
    await tap(owner, "type", kind)
    await tap(owner, "subj", subject)
    await owner.send(text)
    for ref in photos:
        await owner.photo(ref)
    await tap(owner, "photos_done")
    replies = await tap(owner, "where", where)
    if where == "elsewhere":
        replies = await owner.send("The bus stop outside the north gate")
    if kind == "complaint":
        replies = await tap(owner, "anon", "yes" if anonymous else "no")
    found = NUMBER.search(" ".join(owner.texts(replies)))
    assert found, owner.texts(replies)
    return found.group(0)


def load(bot: Bot, number: str) -> Complaint:
    """A complaint with its history, detached."""
    with bot.services.db.unit_of_work() as uow:
        complaint = uow.session.scalars(select(Complaint).where(Complaint.number == number)).one()
        _ = complaint.events, complaint.photos, complaint.liaisons
        uow.session.expunge_all()
        return complaint


def pending_kinds(bot: Bot, number: str) -> set[str]:
    """The kinds of the complaint's pending timers."""
    complaint = load(bot, number)
    with bot.services.db.unit_of_work() as uow:
        rows = uow.session.scalars(
            select(Timer.kind).where(
                Timer.subject_id == complaint.id,
                Timer.status == "pending",
                Timer.kind.like("%complaint%"),
            )
        )
        return set(rows)


async def desk_staff(fake: FakeTelegram, bot: Bot) -> dict[str, Owner]:
    """An agent, a second agent, a butler, a supervisor and a manager, chatting privately."""
    return {
        "agent": await staff_member(fake, bot, TgUser(5301, "Agent Sun", "en"), "agent"),
        "agent2": await staff_member(fake, bot, TgUser(5302, "Agent Li", "en"), "agent"),
        "butler": await staff_member(fake, bot, TgUser(5303, "Butler Zhou", "en"), "butler"),
        "sup": await staff_member(fake, bot, TgUser(5304, "Sup Zhao", "en"), "supervisor"),
        "mgr": await staff_member(fake, bot, TgUser(5305, "Manager Qian", "en"), "manager"),
    }


async def take_in_group(fake: FakeTelegram, bot: Bot, user: TgUser, number: str) -> list[str]:
    """Press Take on the complaint's card in the staff group; what the group was told, then
    the press's own notice to the presser if it had one (issue 11.5)."""
    card = next(m for m in fake.sent(STAFF_GROUP) if number in (m.get("text") or ""))
    data = card["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    in_group = Owner(fake, bot, user, chat=GROUP)
    said = in_group.texts(await in_group.press_data(data, card))
    return said + ([f"(notice) {in_group.notice}"] if in_group.notice else [])


async def classify_one(agent: Owner, note: str = "Cleaner skipped the floor; our fault") -> None:
    """The taker classifies as class 1 with a note and picks the butler."""
    await press_k(agent, "classify", "1")
    await agent.send(note)
    await agent.press("Butler Zhou")


async def taken_class_one(
    fake: FakeTelegram, bot: Bot, owner: Owner, **kwargs: Any
) -> tuple[str, dict[str, Owner]]:
    """A registered owner's complaint, taken and classified 1 with Butler Zhou."""
    await register(owner)
    staff = await desk_staff(fake, bot)
    number = await file_complaint(owner, **kwargs)
    await take_in_group(fake, bot, staff["agent"].user, number)
    await classify_one(staff["agent"])
    return number, staff


# --- intake ---------------------------------------------------------------------------------


@both_channels
async def test_complaint_class_one_from_intake_to_survey(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """R30–R33, R24: apology, number, card with Take, class 1 with a butler, progress relayed,
    messages both ways, resolved, confirmed, surveyed."""
    await register(alice)
    staff = await desk_staff(fake_tg, bot)
    await tap(alice, "complaint")
    await tap(alice, "type", "complaint")
    await tap(alice, "subj", "cleaning")
    await alice.send("The corridor on floor 12 has not been cleaned for a week")
    await alice.photo("AgACdirt1")
    await tap(alice, "photos_done")
    await tap(alice, "where", "public")
    replies = await tap(alice, "anon", "no")
    text = " ".join(alice.texts(replies))
    assert "sorry" in text.lower() and "thank you" in text.lower()  # R31
    number = NUMBER.search(text)
    assert number is not None
    number_s = number.group(0)
    assert "30 minutes" in text and "4 hours" in text  # what happens next
    card = said_to(fake_tg, STAFF_GROUP, number_s, "floor 12")  # the group speaks Chinese
    assert card and ("照片：1" in card[0] or "Photos: 1" in card[0])
    assert "Alice" not in card[0] and "Alice Li" not in card[0] and "13900001111" not in card[0]
    await take_in_group(fake_tg, bot, staff["agent"].user, number_s)
    assert said_to(fake_tg, STAFF_GROUP, number_s, "Agent Sun")  # the card shows the taker
    agent = staff["agent"]
    details = said_to(fake_tg, agent.chat_id, "You took", number_s)
    assert details and "Alice Li" in details[0] and "+8613900001111" in details[0]
    assert any("Agent Sun" in t for t in _told(alice))
    await press_k(agent, "classify", "1")
    replies = await agent.send("Cleaner skipped the floor; our fault")
    assert "Which butler" in agent.texts(replies)[-1]
    replies = await agent.press("Butler Zhou")
    assert any("Class 1" in t for t in agent.texts(replies))
    butler = staff["butler"]
    assert said_to(fake_tg, butler.chat_id, "You handle", number_s, "Alice Li")
    assert any("Butler Zhou" in t for t in _told(alice))
    complaint = load(bot, number_s)
    assert (complaint.status, complaint.klass) == ("in_progress", "1")
    assert complaint.class_note == "Cleaner skipped the floor; our fault"
    assert "progress:complaint" in pending_kinds(bot, number_s)
    # progress is relayed to the owner
    await press_k(butler, "progress")
    await butler.send("Cleaning team scheduled for 14:00 today")
    assert any("Cleaning team scheduled" in t for t in _told(alice))
    # the owner writes back through the desk, the butler answers
    await press_k(alice, "write")
    replies = await alice.send("Thanks, please also do the stairs")
    assert said_to(fake_tg, butler.chat_id, "From the complainant", "please also do the stairs")
    await press_k(butler, "relay")
    await butler.send("Stairs too, yes")
    assert any("Stairs too, yes" in t for t in _told(alice))
    # resolved → the owner confirms → survey
    await press_k(butler, "resolve")
    await butler.send("Corridor and stairs cleaned; weekly check added")
    assert any(
        "Is it resolved for you" in t or "是否" in t or "resolved" in t for t in _told(alice)
    )
    await press_k(alice, "answer", "yes")
    await press_k(alice, "survey", "satisfied")
    complaint = load(bot, number_s)
    assert (complaint.status, complaint.outcome) == ("closed", "resolved")
    assert (complaint.callback_method, complaint.callback_result) == ("survey", "satisfied")
    assert pending_kinds(bot, number_s) == set()
    actions = [e.action for e in complaint.events]
    for expected in (
        "submitted",
        "take",
        "class_1",
        "assign",
        "progress",
        "relay",
        "resolve",
        "confirm",
        "close",
        "callback",
    ):
        assert expected in actions


def _told(person: Owner) -> list[str]:
    return told(person)


@both_channels
async def test_suggestion_is_logged_without_the_complaint_clock(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """A suggestion: thanks, a number, a card without Take, no timers, no anonymity question."""
    await register(alice)
    number = await file_complaint(
        alice, "Please add a bench by the pond", kind="suggestion", subject="greening"
    )
    assert any("Thank you for your suggestion" in t or "建议" in t for t in _told(alice))
    assert said_to(fake_tg, STAFF_GROUP, number, "bench")
    complaint = load(bot, number)
    assert (complaint.kind, complaint.status, complaint.anonymous) == (
        "suggestion",
        "logged",
        False,
    )
    assert pending_kinds(bot, number) == set()


async def test_elsewhere_place_and_photos_are_kept(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """Where = elsewhere asks for the place; photos up to 5 are kept with the complaint."""
    await register(alice)
    number = await file_complaint(
        alice, "Rubbish piles up", where="elsewhere", photos=("AgAC1", "AgAC2")
    )
    complaint = load(bot, number)
    assert complaint.location == "elsewhere" and complaint.place
    assert [p.file_ref for p in complaint.photos] == ["AgAC1", "AgAC2"]
    assert said_to(fake_tg, STAFF_GROUP, number, "north gate")


async def to_complaint_photos(owner: Owner, text: str = "Broken glass by the playground") -> None:
    """From the menu to the complaint's photo step."""
    await tap(owner, "complaint")
    await tap(owner, "type", "complaint")
    await tap(owner, "subj", "facilities")
    await owner.send(text)


async def test_album_in_a_complaint_is_handled_like_in_a_repair(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """R31 photos, as a repair takes them: an album of three gets one answer; a second album
    of four keeps two more and says once that five is the most; five are filed."""
    await register(alice)
    await to_complaint_photos(alice)
    # Telegram delivers an album as separate messages, close together
    fake_tg.user_photo(alice.user, file_id="p1", media_group_id="album-1")
    fake_tg.user_photo(alice.user, file_id="p2", media_group_id="album-1")
    replies = await alice.photo("p3", album="album-1")
    assert alice.texts(replies) == ["Photo received. Send more, or tap Continue."]
    for n in range(4, 7):
        fake_tg.user_photo(alice.user, file_id=f"p{n}", media_group_id="album-2")
    replies = await alice.photo("p7", album="album-2")
    assert alice.texts(replies) == [
        "Photo received. Send more, or tap Continue.",
        "You have already sent 5 photos, the most I can keep.",
    ]
    assert alice.buttons(replies[-1]) == ["Continue"]
    assert convo_state(alice)[1]["photos"] == ["p1", "p2", "p3", "p4", "p5"]

    replies = await tap(alice, "photos_done")
    assert alice.texts(replies) == ["Where did it happen?"]
    await tap(alice, "where", "public")
    replies = await tap(alice, "anon", "no")
    found = NUMBER.search(" ".join(alice.texts(replies)))
    assert found, alice.texts(replies)
    assert [p.file_ref for p in load(bot, found.group(0)).photos] == ["p1", "p2", "p3", "p4", "p5"]


async def test_captioned_album_is_the_complaint_text_and_its_photos(
    fake_tg: FakeTelegram, alice: Owner
) -> None:
    """A captioned album at the text step (Telegram captions only the first photo): the caption
    is what happened, every photo is kept, and the album's later photos get no answer each."""
    await register(alice)
    await tap(alice, "complaint")
    await tap(alice, "type", "complaint")
    await tap(alice, "subj", "noise")
    fake_tg.user_photo(alice.user, file_id="n1", media_group_id="alb", caption="Drilling at 6am")
    fake_tg.user_photo(alice.user, file_id="n2", media_group_id="alb")
    replies = await alice.photo("n3", album="alb")
    assert alice.texts(replies) == ["Send up to 5 photos if they help, then tap the button."]
    assert alice.buttons(replies[0])[0] == "Continue (photos: 1)"  # the others came after it
    step, data, _ = convo_state(alice)
    assert step == "cmp_photos"
    assert (data["text"], data["photos"]) == ("Drilling at 6am", ["n1", "n2", "n3"])


# --- classes -------------------------------------------------------------------------------


async def test_first_take_wins(fake_tg: FakeTelegram, bot: Bot, alice: Owner) -> None:
    """首问负责制: the second Take is told who has it, nothing changes."""
    await register(alice)
    staff = await desk_staff(fake_tg, bot)
    number = await file_complaint(alice)
    await take_in_group(fake_tg, bot, staff["agent"].user, number)
    said = await take_in_group(fake_tg, bot, staff["agent2"].user, number)
    assert len(said) == 1 and said[0].startswith("(notice) "), said  # not in the group (11.5)
    assert "already taken by Agent Sun" in said[0] or "out of date" in said[0], said
    assert load(bot, number).agent_id is not None
    assert not said_to(fake_tg, staff["agent2"].chat_id, "You took")


@both_channels
async def test_class_two_liaison_form_reminded_when_due_and_called_back_by_a_manager(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """R32 class 2: a liaison form whose reply date passes is reminded; R25: the callback of a
    class-2 complaint is made by a manager or supervisor, not the front desk."""
    await register(alice)
    staff = await desk_staff(fake_tg, bot)
    agent = staff["agent"]
    number = await file_complaint(alice, "Cracks in the lobby wall", subject="building")
    await take_in_group(fake_tg, bot, agent.user, number)
    await press_k(agent, "classify", "2")
    await agent.send("Structural crack, developer's warranty")
    await agent.send("Evergreen Developers Ltd")
    await agent.send("Inspect and repair the lobby wall crack")
    replies = await agent.send("next week")
    assert "YYYY-MM-DD" in agent.texts(replies)[-1]
    assert load(bot, number).klass is None  # nothing stored half-way
    await agent.send("2026-11-25")
    complaint = load(bot, number)
    assert (complaint.status, complaint.klass) == ("in_progress", "2")
    [form] = complaint.liaisons
    assert (form.addressed_to, form.status) == ("Evergreen Developers Ltd", "awaiting")
    assert any("liaison form" in t for t in _told(alice))
    clock.advance(timedelta(days=2))  # Wed 25 Nov 09:30: the reply date has come
    await sweep(bot)
    assert said_to(fake_tg, agent.chat_id, "liaison form", number, "Evergreen")
    assert said_to(fake_tg, staff["sup"].chat_id, "liaison form", number)
    await press_k(agent, "liaison")
    await agent.send("Developer will repair on 2 December")
    assert load(bot, number).liaisons[0].status == "replied"
    await press_k(agent, "resolve")
    await agent.send("Developer repaired the crack")
    await press_k(alice, "answer", "yes")
    assert said_to(fake_tg, staff["mgr"].chat_id, "Callback needed", number)
    assert not said_to(fake_tg, agent.chat_id, "Callback needed")
    # an agent cannot take the manager's callback (R25), even with its button data
    _message, data = complaint_data(staff["mgr"], "cbtake")
    replies = await agent.press_data(data, agent.fake.sent(agent.chat_id)[-1])
    assert agent.refused(replies, "not for you")
    await press_k(staff["mgr"], "cbtake")
    assert said_to(fake_tg, staff["mgr"].chat_id, "You took the callback", "Alice Li")
    await press_k(staff["mgr"], "cbresult", "average")
    complaint = load(bot, number)
    assert (complaint.callback_method, complaint.callback_result) == ("call", "average")
    assert complaint.callback_by_id is not None and complaint.callback_at is not None


@both_channels
async def test_class_three_referred_and_invalid_explained(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """R32 class 3: referred-to recorded and the owner told; invalid: the owner gets the
    explanation; both are closed."""
    await register(alice)
    staff = await desk_staff(fake_tg, bot)
    agent = staff["agent"]
    first = await file_complaint(alice, "Street lamp outside the gate is broken", where="elsewhere")
    await take_in_group(fake_tg, bot, agent.user, first)
    await press_k(agent, "classify", "3")
    await agent.send("City street lighting, not ours")
    await agent.send("District street-lighting office")
    complaint = load(bot, first)
    assert (complaint.status, complaint.outcome, complaint.referred_to) == (
        "closed",
        "referred",
        "District street-lighting office",
    )
    assert any("District street-lighting office" in t for t in _told(alice))
    second = await file_complaint(alice, "The fountain is off at night", subject="facilities")
    await take_in_group(fake_tg, bot, agent.user, second)
    await press_k(agent, "classify", "invalid")
    await agent.send("The fountain is switched off at 22:00 by the owners' committee's decision.")
    complaint = load(bot, second)
    assert (complaint.status, complaint.outcome, complaint.klass) == (
        "closed",
        "invalid",
        "invalid",
    )
    assert any("owners' committee's decision" in t for t in _told(alice))
    assert pending_kinds(bot, first) == set() and pending_kinds(bot, second) == set()


# --- timers ----------------------------------------------------------------------------------


async def test_unclassified_complaint_reaches_supervisors_after_30_business_minutes(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """Filed at 09:30 Monday: unclassified at 10:00 → supervisors told once; none before."""
    await register(alice)
    staff = await desk_staff(fake_tg, bot)
    number = await file_complaint(alice)
    clock.advance(29 * MIN)
    await sweep(bot)
    assert not said_to(fake_tg, staff["sup"].chat_id, "not classified")
    clock.advance(2 * MIN)
    await sweep(bot)
    assert len(said_to(fake_tg, staff["sup"].chat_id, "not classified", number)) == 1


async def test_progress_reminder_then_supervisor_then_manager(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """R33: butler reminded at 3 h 30, supervisor at 4 h, manager at 8 h (all inside Monday's
    business hours); an update resets the clock."""
    number, staff = await taken_class_one(fake_tg, bot, alice)
    butler, sup, mgr = staff["butler"], staff["sup"], staff["mgr"]
    clock.advance(3 * HOUR + 29 * MIN)
    await sweep(bot)
    assert not said_to(fake_tg, butler.chat_id, "progress update", "due")
    clock.advance(2 * MIN)
    await sweep(bot)
    assert len(said_to(fake_tg, butler.chat_id, "progress update on", number)) == 1
    assert not said_to(fake_tg, sup.chat_id, "No progress")
    clock.advance(30 * MIN)
    await sweep(bot)
    assert len(said_to(fake_tg, sup.chat_id, "No progress", number)) == 1
    assert not said_to(fake_tg, mgr.chat_id, "No progress")
    clock.advance(4 * HOUR)
    await sweep(bot)
    assert len(said_to(fake_tg, mgr.chat_id, "No progress", number)) == 1
    # an update (Monday 17:31) starts the clock again, in business hours: not tonight at 21:01
    # but Tuesday 11:01 (29 minutes on Monday, 3 h 01 on Tuesday)
    await press_k(butler, "progress")
    await butler.send("Waiting for the cleaning contractor")
    clock.advance(3 * HOUR + 31 * MIN)
    await sweep(bot)
    assert len(said_to(fake_tg, butler.chat_id, "progress update on", number)) == 1
    clock.advance(14 * HOUR + 2 * MIN)
    await sweep(bot)
    assert len(said_to(fake_tg, butler.chat_id, "progress update on", number)) == 2
    assert len(said_to(fake_tg, mgr.chat_id, "No progress", number)) == 1


@both_channels
async def test_reopen_counts_and_auto_close_after_72_hours(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """Not resolved reopens (counted) and the butler hears; a later resolution without an
    answer is taken as resolved after 72 h, the owner told, the survey sent."""
    number, staff = await taken_class_one(fake_tg, bot, alice)
    butler = staff["butler"]
    await press_k(butler, "resolve")
    await butler.send("Corridor cleaned")
    await press_k(alice, "answer", "no")
    complaint = load(bot, number)
    assert (complaint.status, complaint.reopen_count) == ("in_progress", 1)
    assert said_to(fake_tg, butler.chat_id, "not resolved", number)
    assert "progress:complaint" in pending_kinds(bot, number)
    await press_k(butler, "resolve")
    await butler.send("Cleaned again, checked by the supervisor")
    clock.advance(71 * HOUR)
    await sweep(bot)
    assert load(bot, number).status == "resolved"
    clock.advance(2 * HOUR)
    await sweep(bot)
    complaint = load(bot, number)
    assert (complaint.status, complaint.outcome) == ("closed", "auto_resolved")
    assert any("recorded as resolved" in t for t in _told(alice))
    assert any("How satisfied" in t for t in _told(alice))
    if alice.channel == "telegram":  # (WeChat has no old buttons: numbers mean the last menu)
        replies = await press_k(alice, "answer", "yes")
        assert alice.refused(replies, "out of date")


@both_channels
async def test_flag_tells_bosses_and_makes_the_callback_a_call(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """R34: flagged → supervisors and managers told; R25: its callback is a manager's call."""
    number, staff = await taken_class_one(fake_tg, bot, alice)
    butler = staff["butler"]
    await press_k(butler, "flag")
    assert said_to(fake_tg, staff["mgr"].chat_id, number, "media")
    assert said_to(fake_tg, staff["sup"].chat_id, number, "media")
    await press_k(butler, "resolve")
    await butler.send("Done")
    await press_k(alice, "answer", "yes")
    assert said_to(fake_tg, staff["sup"].chat_id, "Callback needed", number)
    assert load(bot, number).callback_method == "call"


# --- lists ---------------------------------------------------------------------------------


async def test_my_requests_shows_only_own_complaints_and_butler_only_assigned(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, zhang: Owner
) -> None:
    """An owner sees their own complaints only; a butler lists only those assigned to them."""
    number, staff = await taken_class_one(fake_tg, bot, alice)
    await register(zhang)
    other = await file_complaint(zhang, "楼下噪音太大", subject="noise")
    replies = await tap(alice, "requests")
    labels = [b for m in replies for b in alice.buttons(m)]
    assert any(number in b for b in labels) and not any(other in b for b in labels)
    # a forged view of someone else's complaint shows nothing of it
    message, data = find_action(alice, "cmpview", str(load(bot, number).id))
    replies = await alice.press_data(
        data.replace(str(load(bot, number).id), str(load(bot, other).id)), message
    )
    assert not any("噪音" in t for t in alice.texts(replies))
    replies = await staff["butler"].send("/complaints")
    listed = [b for m in replies for b in staff["butler"].buttons(m)]
    assert any(number in b for b in listed) and not any(other in b for b in listed)
    replies = await staff["agent"].send("/complaints")
    listed = [b for m in replies for b in staff["agent"].buttons(m)]
    assert any(other in b for b in listed)


async def test_progress_clock_counts_business_hours_only(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """R33 in business hours (08:00-18:00): classified at 16:00 Monday, the butler is reminded
    at 09:30 Tuesday (2 h + 1 h 30), not in the night; the supervisor hears at 10:00."""
    await register(alice)
    staff = await desk_staff(fake_tg, bot)
    number = await file_complaint(alice)
    clock.advance(6 * HOUR + 30 * MIN)  # Monday 16:00
    await take_in_group(fake_tg, bot, staff["agent"].user, number)
    await classify_one(staff["agent"])
    butler, sup = staff["butler"], staff["sup"]
    clock.advance(3 * HOUR + 31 * MIN)  # 19:31: 3 h 30 by the wall clock, not in business time
    await sweep(bot)
    clock.advance(12 * HOUR)  # Tuesday 07:31
    await sweep(bot)
    assert not said_to(fake_tg, butler.chat_id, "progress update on", number)
    assert not said_to(fake_tg, sup.chat_id, "No progress", number)
    clock.advance(2 * HOUR)  # Tuesday 09:31
    await sweep(bot)
    assert len(said_to(fake_tg, butler.chat_id, "progress update on", number)) == 1
    assert not said_to(fake_tg, sup.chat_id, "No progress", number)
    clock.advance(30 * MIN)  # Tuesday 10:01
    await sweep(bot)
    assert len(said_to(fake_tg, sup.chat_id, "No progress", number)) == 1


async def test_hard_case_escalated_with_a_deadline(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """R33: the butler escalates with a deadline (a bad date is refused); managers hear at
    once and again if it is still open when the deadline passes; not after it is closed."""
    number, staff = await taken_class_one(fake_tg, bot, alice)
    butler, mgr = staff["butler"], staff["mgr"]
    await press_k(butler, "escalate")
    replies = await butler.send("2026-11-01")
    assert "after today" in butler.texts(replies)[-1]
    await butler.send("2026-11-24")  # solved by Tuesday 18:00
    assert said_to(fake_tg, mgr.chat_id, "escalated", number, "2026-11-24")
    assert [e.note for e in load(bot, number).events if e.action == "escalate"]
    clock.advance(timedelta(hours=32))  # Tuesday 17:30
    await sweep(bot)
    assert not said_to(fake_tg, mgr.chat_id, "passed its deadline")
    clock.advance(timedelta(hours=1))  # 18:30
    await sweep(bot)
    assert len(said_to(fake_tg, mgr.chat_id, "passed its deadline", number)) == 1
    assert said_to(fake_tg, butler.chat_id, "passed its deadline", number)
    # a second escalation, then closed in time: no alarm
    await press_k(butler, "escalate")
    await butler.send("2026-11-26")
    await press_k(butler, "resolve")
    await butler.send("Solved with the contractor")
    await press_k(alice, "answer", "yes")
    clock.advance(timedelta(days=3))
    await sweep(bot)
    assert len(said_to(fake_tg, mgr.chat_id, "passed its deadline", number)) == 1
