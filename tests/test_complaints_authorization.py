"""Who may do what to a complaint (issue 10 §7, R25, R32, R33): every complaint action, pressed
with a valid current button by every role, another owner and a stranger — refused, and
nothing changed — while the rightful person's press goes through."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from handlers.i18n import translator
from store.complaints.models import Complaint, ComplaintEvent
from store.models import Conversation, OutboxMessage, Timer
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, Owner, staff_member
from tests.test_complaints import (
    GROUP,
    complaint_data,
    desk_staff,
    file_complaint,
    press_k,
    take_in_group,
)
from tests.test_repair import register

REFUSED = {translator(lang)("Sorry, that button is not for you.") for lang in ("en", "zh")}


def snapshot(bot: Bot, number: str) -> tuple[Any, ...]:
    """Everything a press could change about a complaint: its row, history, timers, the
    messages queued for anyone."""
    with bot.services.db.unit_of_work() as uow:
        s = uow.session
        c = s.scalars(select(Complaint).where(Complaint.number == number)).one()
        row = (
            c.status,
            c.version,
            c.klass,
            c.agent_id,
            c.butler_id,
            c.flagged,
            c.reopen_count,
            c.callback_method,
            c.callback_status,
            c.callback_by_id,
            c.callback_result,
        )
        events = s.scalar(select(func.count()).where(ComplaintEvent.complaint_id == c.id))
        pending = s.scalar(
            select(func.count()).where(Timer.subject_id == c.id, Timer.status == "pending")
        )
        return (row, events, pending)


def outbox_size(bot: Bot) -> int:
    """Messages queued so far for everyone."""
    with bot.services.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def step_of(bot: Bot, person: Owner) -> str:
    """The person's dialog step."""
    with bot.services.db.unit_of_work() as uow:
        convo = uow.session.scalar(
            select(Conversation).where(
                Conversation.channel == "telegram", Conversation.chat_id == str(person.chat_id)
            )
        )
        return convo.step if convo is not None else "-"


async def everyone(fake: FakeTelegram, bot: Bot, alice: Owner, zhang: Owner) -> dict[str, Owner]:
    """Every role (two agents, two butlers), the complainant, another owner and a stranger."""
    people = await desk_staff(fake, bot)
    extra = {
        "butler2": (TgUser(5306, "Butler Wu", "en"), "butler", None),
        "engineer": (TgUser(5307, "Engineer Wang", "en"), "engineer", "engineering"),
        "cleaner": (TgUser(5308, "Cleaner Ma", "en"), "cleaner", "cleaning"),
        "gardener": (TgUser(5309, "Gardener He", "en"), "gardener", "greening"),
        "finance": (TgUser(5310, "Finance Xu", "en"), "finance", None),
    }
    for key, (user, role, dept) in extra.items():
        people[key] = await staff_member(fake, bot, user, role, dept)
    await register(zhang)
    stranger = Owner(fake, bot, TgUser(5999, "Stranger", "en"))
    await stranger.send("/start")  # unregistered: a chat, no person
    people.update(owner=alice, other_owner=zhang, stranger=stranger)
    return people


async def refused_for_all_but(
    bot: Bot,
    people: dict[str, Owner],
    number: str,
    holder: Owner,
    action: str,
    extra: str | None,
    allowed: set[str],
) -> int:
    """Press `holder`'s current button for `action` as everyone not in `allowed`: each is
    refused and nothing changes. Returns how many were tried."""
    _message, data = complaint_data(holder, action, extra)
    tried = 0
    for key, person in people.items():
        if key in allowed:
            continue
        before, queued, step = snapshot(bot, number), outbox_size(bot), step_of(bot, person)
        own_message = person.fake.sent(person.chat_id)[-1]
        replies = await person.press_data(data, own_message)
        texts = person.texts(replies)
        # refused on the button itself (issue 11.5): a notice, no chat message
        assert person.notice in REFUSED, (action, key, person.notice, texts)
        assert not any(t in REFUSED for t in texts), (action, key, texts)
        assert snapshot(bot, number) == before, (action, key)
        assert outbox_size(bot) == queued, (action, key)
        assert step_of(bot, person) == step, (action, key)
        tried += 1
    return tried


async def test_every_complaint_action_refuses_everyone_else(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, zhang: Owner
) -> None:
    """Each action × each role, the owner, another owner and a stranger."""
    await register(alice)
    people = await everyone(fake_tg, bot, alice, zhang)
    agent, butler, mgr = people["agent"], people["butler"], people["mgr"]
    tried = 0
    # a flagged class-1 complaint through its whole life; Take is on the group's card
    second = await file_complaint(alice, "Lift stuck again", subject="facilities")
    group_view = Owner(fake_tg, bot, agent.user, chat=GROUP)
    tried += await refused_for_all_but(
        bot, people, second, group_view, "take", None, {"agent", "agent2", "sup", "mgr"}
    )
    await take_in_group(fake_tg, bot, agent.user, second)
    tried += await refused_for_all_but(bot, people, second, agent, "classify", "1", {"agent"})
    await press_k(agent, "classify", "1")
    await agent.send("Lift maintenance overdue; our fault")
    await agent.press("Butler Zhou")
    for action in ("progress", "resolve", "escalate"):
        tried += await refused_for_all_but(bot, people, second, butler, action, None, {"butler"})
    tried += await refused_for_all_but(
        bot, people, second, butler, "flag", None, {"agent", "butler", "sup", "mgr"}
    )
    tried += await refused_for_all_but(
        bot, people, second, butler, "relay", None, {"agent", "butler"}
    )
    tried += await refused_for_all_but(bot, people, second, alice, "write", None, {"owner"})
    await press_k(butler, "flag")
    await press_k(butler, "resolve")
    await butler.send("Lift serviced and certified")
    tried += await refused_for_all_but(bot, people, second, alice, "answer", "yes", {"owner"})
    await press_k(alice, "answer", "yes")
    tried += await refused_for_all_but(bot, people, second, mgr, "cbtake", None, {"sup", "mgr"})
    await press_k(mgr, "cbtake")
    tried += await refused_for_all_but(bot, people, second, mgr, "cbresult", "satisfied", {"mgr"})
    await press_k(mgr, "cbresult", "satisfied")
    assert snapshot(bot, second)[0][10] == "satisfied"
    # class 2: the liaison reply is the taker's
    third = await file_complaint(alice, "Damp wall in the stairwell", subject="building")
    await take_in_group(fake_tg, bot, agent.user, third)
    await press_k(agent, "classify", "2")
    for answer in ("Warranty defect", "Evergreen Developers", "Fix the damp wall", "2026-12-01"):
        await agent.send(answer)
    tried += await refused_for_all_but(bot, people, third, agent, "liaison", None, {"agent"})
    # class 1 unflagged: the survey is the owner's
    fourth = await file_complaint(alice, "Hall light flickers", subject="facilities")
    await take_in_group(fake_tg, bot, agent.user, fourth)
    await press_k(agent, "classify", "1")
    await agent.send("Bulb failing")
    await agent.press("Butler Zhou")
    await press_k(butler, "resolve")
    await butler.send("Bulb replaced")
    await press_k(alice, "answer", "yes")
    tried += await refused_for_all_but(bot, people, fourth, alice, "survey", "satisfied", {"owner"})
    await press_k(alice, "survey", "satisfied")
    assert snapshot(bot, fourth)[0][10] == "satisfied"
    # the staff list: butlers see only what is theirs, the other butler nothing
    replies = await people["butler2"].send("/complaints")
    assert not any(second in b for m in replies for b in people["butler2"].buttons(m))
    replies = await alice.send("/complaints")  # an owner gets their own requests instead
    assert any(third in b for m in replies for b in alice.buttons(m))
    assert tried >= 100
