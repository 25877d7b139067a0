"""Anonymous means anonymous (R30): over an anonymous complaint's whole life — card, take,
class, butler, relay both ways with text and photos, progress alarms, the R34 flag, reopening,
the manager's callback, the staff list — no staff chat ever sees the complainant's name, room,
phone, account id, username or openid; and the relay still reaches both sides."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from store.models import OutboxMessage
from tests.fake_telegram import FakeTelegram, TgUser
from tests.fake_wechat import openid_of, wechat_owner
from tests.harness import STAFF_GROUP, Bot, FakeClock, Owner, sweep, told
from tests.test_complaints import (
    complaint_data,
    desk_staff,
    file_complaint,
    load,
    press_k,
    take_in_group,
)
from tests.test_promises import said_to

HOUR = timedelta(hours=1)
SECRET_OWNER = TgUser(id=5060, first_name="Alice", language_code="en", username="alice_lee88")


def secrets_of(owner: Owner) -> list[str]:
    """Everything that would identify the complainant."""
    return [
        "Alice",
        "1-1-101",
        "13900001111",
        str(SECRET_OWNER.id),
        "alice_lee88",
        openid_of(SECRET_OWNER),
    ]


def staff_visible(fake: FakeTelegram, bot: Bot, owner: Owner) -> list[str]:
    """Every text, caption and button label sent to any chat but the complainant's: what the
    fake Bot API delivered, and every outbox row (delivered or not)."""
    seen: list[str] = []
    for message in fake.sent():
        if str(message.get("chat", {}).get("id")) == str(owner.chat_id):
            continue
        seen.append(json.dumps(message, ensure_ascii=False))
    with bot.services.db.unit_of_work() as uow:
        for row in uow.session.scalars(select(OutboxMessage)):
            if row.chat_id != str(owner.chat_id):
                seen.append(json.dumps(row.payload, ensure_ascii=False))
    return seen


@pytest.mark.parametrize("channel", ["telegram", "wechat", "web"])
async def test_anonymous_complaint_never_names_the_owner_to_staff(
    fake_tg: FakeTelegram, bot: Bot, clock: FakeClock, channel: str
) -> None:
    """R30 over the whole life of an anonymous complaint, with the relay working both ways."""
    owner = (
        wechat_owner(bot, SECRET_OWNER)
        if channel == "wechat"
        else Owner(fake_tg, bot, SECRET_OWNER)
    )
    await owner.send("/start")
    await owner.send("Alice Li")
    await owner.send("1-1-101")
    if channel == "wechat":
        await owner.send("13900001111")
    else:
        await owner.contact("+8613900001111")
    staff = await desk_staff(fake_tg, bot)
    agent, butler, sup, mgr = staff["agent"], staff["butler"], staff["sup"], staff["mgr"]
    number = await file_complaint(
        owner,
        "The guard at gate 2 was rude to me",
        subject="attitude",
        where="home",
        anonymous=True,
        photos=("AgACgate1",),
    )
    assert load(bot, number).anonymous
    clock.advance(31 * timedelta(minutes=1))
    await sweep(bot)  # unclassified: supervisors hear
    assert said_to(fake_tg, sup.chat_id, number)
    await take_in_group(fake_tg, bot, agent.user, number)
    assert said_to(fake_tg, agent.chat_id, "You took", number, "Anonymous")
    await press_k(agent, "relay")
    await agent.send("Which day did it happen?")
    await press_k(owner, "write")
    await owner.send("Last Friday evening")
    assert said_to(fake_tg, agent.chat_id, "Last Friday evening")
    await press_k(agent, "classify", "1")
    await agent.send("Guard's conduct; our service")
    await agent.press("Butler Zhou")
    await press_k(butler, "progress")
    await butler.send("Talked to the security lead")
    await press_k(owner, "write")
    await owner.photo("AgACgate2")
    await press_k(butler, "relay")
    await butler.send("We have the photo, thank you")
    clock.advance(4 * HOUR)
    await sweep(bot)  # supervisor after 4 business hours
    clock.advance(18 * HOUR)
    await sweep(bot)  # manager after 8 (the next morning)
    assert said_to(fake_tg, mgr.chat_id, "No progress", number)
    await press_k(butler, "flag")
    await press_k(butler, "resolve")
    await butler.send("Guard retrained and apologised")
    await press_k(owner, "answer", "no")
    await press_k(butler, "resolve")
    await butler.send("Guard moved to another gate")
    await press_k(owner, "answer", "yes")
    await press_k(mgr, "cbtake")
    assert said_to(fake_tg, mgr.chat_id, "You took the callback", "anonymous")
    await press_k(mgr, "relay")
    await mgr.send("Manager here: are you happy with the outcome?")
    await press_k(owner, "write")
    await owner.send("Yes, thank you")
    assert said_to(fake_tg, mgr.chat_id, "Yes, thank you")
    await press_k(mgr, "cbresult", "satisfied")
    await agent.send("/complaints")
    await butler.send("/complaints")
    _message, data = complaint_data(mgr, "relay")
    await agent.press_data(data.replace("relay", "view"), agent.fake.sent(agent.chat_id)[-1])

    # the relay reached the owner both times, and the owner's words and photo reached staff
    owner_saw = " ".join(told(owner))
    for words in (
        "Which day did it happen?",
        "Talked to the security lead",
        "We have the photo",
        "are you happy with the outcome",
    ):
        assert words in owner_saw
    if channel == "telegram":
        photos = [m.get("photo") for m in fake_tg.sent(butler.chat_id) if m.get("photo")]
        assert photos, "the owner's photo reached the butler"
    complaint = load(bot, number)
    assert (complaint.status, complaint.callback_result, complaint.reopen_count) == (
        "closed",
        "satisfied",
        1,
    )
    # ... and no staff-visible message names the owner
    visible = staff_visible(fake_tg, bot, owner)
    assert len(visible) > 30
    for secret in secrets_of(owner):
        leaks = [text for text in visible if secret in text]
        assert not leaks, f"{secret!r} leaked to staff: {leaks[:2]}"
    assert said_to(fake_tg, STAFF_GROUP, number)
