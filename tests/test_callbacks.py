"""Callbacks (回访, R20–R24): the survey after acceptance, the human call a poor answer opens,
its escalation when nobody takes it, the outcome record, and the 30% sample of paid services."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from store.callbacks import plan_after_acceptance
from store.db import Database
from store.migrate import upgrade
from store.models import Callback, Order, OrderEvent, Person, Timer
from store.price_list import SERVICE_CATEGORIES
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, FakeClock, Owner, staff_member, sweep
from tests.test_engineer import WANG, claimed_by, load
from tests.test_jobs import submit_urgent_public_repair
from tests.test_promises import said_to

HOUR = timedelta(hours=1)


def callbacks_of(bot: Bot, number: str) -> list[Callback]:
    """An order's callbacks, detached."""
    with bot.services.db.unit_of_work() as uow:
        rows = list(
            uow.session.scalars(
                select(Callback).join(Order).where(Order.number == number).order_by(Callback.id)
            )
        )
        uow.session.expunge_all()
        return rows


async def accepted_repair(fake: FakeTelegram, bot: Bot, alice: Owner) -> str:
    """A free public-area repair done and accepted by the owner (no rating yet)."""
    number = await submit_urgent_public_repair(alice)
    wang = await claimed_by(fake, bot, WANG, number)
    await wang.press("Arrived")
    await wang.press("Done")
    await alice.press("Accept")
    return number


async def test_survey_two_hours_after_acceptance_satisfied(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """R20: every repair gets the survey 2 h after acceptance; a good answer closes it."""
    number = await accepted_repair(fake_tg, bot, alice)
    await alice.press("Satisfied")
    await alice.press("No comment")
    [survey] = callbacks_of(bot, number)
    assert (survey.reason, survey.method, survey.status) == ("routine", "survey", "scheduled")
    clock.advance(HOUR + timedelta(minutes=59))
    assert await sweep(bot) == {}
    clock.advance(timedelta(minutes=1))
    assert await sweep(bot) == {"ran": 1}
    assert said_to(fake_tg, alice.chat_id, "How satisfied", number)
    await alice.press("Satisfied")
    replies = await alice.send("Quick and friendly")
    assert "Thank you for your feedback" in alice.texts(replies)[-1]  # with the menu
    [survey] = callbacks_of(bot, number)
    assert (survey.status, survey.result, survey.comment) == (
        "answered",
        "satisfied",
        "Quick and friendly",
    )
    # pressing the answer again changes nothing
    replies = await alice.press_again("Unsatisfied")
    assert alice.refused(replies, "out of date")
    assert len(callbacks_of(bot, number)) == 1


async def test_poor_survey_answer_opens_a_call_that_an_agent_takes(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """R22, R24: 不满意 → agents get a call with Take; one wins; the outcome is recorded."""
    number = await accepted_repair(fake_tg, bot, alice)
    agent = await staff_member(fake_tg, bot, TgUser(5201, "Agent Sun", "en"), "agent")
    other = await staff_member(fake_tg, bot, TgUser(5202, "Agent Li", "en"), "agent")
    engineer = Owner(fake_tg, bot, WANG)
    clock.advance(2 * HOUR)
    await sweep(bot)
    replies = await alice.press("Unsatisfied")
    assert any("will call you on" in t for t in alice.texts(replies))  # and by when (issue 11.9)
    await sweep(bot)  # the call is announced at once
    for person in (agent, other):
        assert len(said_to(fake_tg, person.chat_id, "Callback needed", number, "Unsatisfied")) == 1
    _message, take = agent.find_button("Take")
    replies = await engineer.press_data(take, fake_tg.sent(WANG.id)[-1])  # not an agent
    assert engineer.refused(replies, "customer-service staff")
    replies = await agent.press("Take")
    text = agent.texts(replies)[-1]
    assert "Li Na" in text and "139 0000 1111" in text  # tappable (issue 11.10)
    replies = await other.press("Take")
    assert other.refused(replies, "already taken by Agent Sun") and other.alert
    await agent.press("Average")
    replies = await agent.send("Tap fixed again, owner calmer now")
    assert "Callback recorded" in agent.texts(replies)[0]
    survey, call = callbacks_of(bot, number)
    assert (survey.status, survey.result) == ("answered", "unsatisfied")
    assert (call.method, call.reason, call.status, call.result) == (
        "call",
        "rating",
        "done",
        "average",
    )
    assert call.comment == "Tap fixed again, owner calmer now"
    assert call.handled_by_id is not None and call.done_at is not None
    clock.advance(2 * HOUR)
    assert await sweep(bot) == {}  # taken in time: the supervisor alarm was cancelled


async def test_poor_rating_at_sign_off_calls_instead_of_surveying(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """R22: 一般 at sign-off opens the call at once; untaken for 1 h → the supervisor is told;
    the survey is then skipped (one callback per order, made by a person)."""
    number = await accepted_repair(fake_tg, bot, alice)
    agent = await staff_member(fake_tg, bot, TgUser(5203, "Agent Sun", "en"), "agent")
    sup = await staff_member(fake_tg, bot, TgUser(5204, "Sup Zhao", "en"), "supervisor")
    await alice.press("Average")
    await sweep(bot)
    assert said_to(fake_tg, agent.chat_id, "Callback needed", number, "Average")
    clock.advance(HOUR - timedelta(minutes=1))
    await sweep(bot)
    assert not said_to(fake_tg, sup.chat_id, "Nobody has taken the callback")
    clock.advance(timedelta(minutes=1))
    await sweep(bot)
    assert len(said_to(fake_tg, sup.chat_id, "Nobody has taken the callback", number)) == 1
    clock.advance(2 * HOUR)
    await sweep(bot)
    assert not said_to(fake_tg, alice.chat_id, "How satisfied are you with our service")
    survey, call = callbacks_of(bot, number)
    assert survey.status == "skipped" and call.status == "open"
    replies = await sup.press("Take")  # supervisors may take it too
    assert "You took the callback" in sup.texts(replies)[-1]


def test_paid_services_are_sampled_to_at_least_30_percent(db_url: str) -> None:
    """R23: whatever the dice say, each month's accepted service orders reach 30% callbacks;
    repairs always get one (R20)."""
    upgrade(db_url)
    start = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    db = Database(db_url, lambda: start)
    never = random.Random(1)
    never.random = lambda: 0.99  # type: ignore[method-assign]  # the dice never pick
    with db.unit_of_work() as uow:
        owner = Person(name="Owner", language="zh")
        uow.session.add(owner)
        uow.session.flush()
        picked = 0
        for i in range(40):
            category = sorted(SERVICE_CATEGORIES)[i % 3]
            order = Order(
                number=f"R-TEST-{i:04d}",
                owner_id=owner.id,
                location="home",
                category=category,
                description="x",
                contact_phone="+8613800000000",
                quote_kind="on_site",
                status="accepted",
                created_at=start,
            )
            uow.session.add(order)
            uow.session.flush()
            at = start + timedelta(hours=i)
            uow.session.add(OrderEvent(order_id=order.id, at=at, action="accept"))
            uow.session.flush()
            if plan_after_acceptance(uow.session, order, at, rng=never) is not None:
                picked += 1
            assert picked >= 0.3 * (i + 1) - 1e-9
        assert picked == 12  # exactly the 30% floor when chance never helps
        repair = Order(
            number="R-TEST-9999",
            owner_id=owner.id,
            location="home",
            category="plumbing",
            description="x",
            contact_phone="+8613800000000",
            quote_kind="list",
            status="accepted",
            created_at=start,
        )
        uow.session.add(repair)
        uow.session.flush()
        routine = plan_after_acceptance(uow.session, repair, start, rng=never)
        assert routine is not None and routine.reason == "routine"
        surveys = uow.session.scalars(select(Timer).where(Timer.kind == "callback_survey")).all()
        assert len(surveys) == 13
    db.dispose()


async def test_survey_waits_for_morning(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """Accepted at 20:30: 2 h later is night, so the survey goes in the morning at 09:00."""
    clock.advance(timedelta(hours=11))  # Monday 20:30 in Shanghai
    number = await accepted_repair(fake_tg, bot, alice)
    [survey] = callbacks_of(bot, number)
    with bot.services.db.unit_of_work() as uow:
        timer = uow.session.scalars(
            select(Timer).where(Timer.kind == "callback_survey", Timer.subject_id == survey.id)
        ).one()
        local = timer.due_at.astimezone(bot.services.desk.timezone)
    assert (local.day, local.hour, local.minute) == (24, 9, 0)
    assert load(bot, number).status == "accepted"
