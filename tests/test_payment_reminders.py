"""Payment reminders (催缴, R26–R27): the same evening, then every 3 days, at most 5, each with
the amount; they stop the moment the bill is paid; afterwards customer service follows up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from store.models import Bill, Order, Timer
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, FakeClock, Owner, staff_member, sweep
from tests.test_engineer import WANG, claimed_by, load_number
from tests.test_promises import said_to
from tests.test_repair import quick_order, register

REMINDER = "尚未支付"  # zhang reads Chinese


async def unpaid_repair(fake: FakeTelegram, bot: Bot, zhang: Owner) -> str:
    """A ¥30 list-price repair finished on Monday morning with the fee left unpaid."""
    await register(zhang)
    await quick_order(zhang)
    number = load_number(bot)
    wang = await claimed_by(fake, bot, WANG, number)
    await wang.press("Arrived")
    await wang.press("Done")
    await wang.press("Owner pays later")
    return number


def bill_state(bot: Bot, number: str) -> tuple[str, int, bool]:
    """status, reminders sent, on the follow-up list."""
    with bot.services.db.unit_of_work() as uow:
        bill = uow.session.scalars(select(Bill).join(Order).where(Order.number == number)).one()
        return bill.status, bill.reminders_sent, bill.follow_up_since is not None


async def test_five_reminders_then_follow_up(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner, clock: FakeClock
) -> None:
    """20:00 the same day, then every 3 days at 20:00; after the fifth, agents ask why."""
    number = await unpaid_repair(fake_tg, bot, zhang)
    agent = await staff_member(fake_tg, bot, TgUser(5301, "Agent Sun", "en"), "agent")
    clock.advance(timedelta(hours=10, minutes=29))  # Monday ~19:59
    await sweep(bot)
    assert not said_to(fake_tg, zhang.chat_id, REMINDER)
    clock.advance(timedelta(minutes=1))
    await sweep(bot)
    first = said_to(fake_tg, zhang.chat_id, REMINDER, number)
    assert len(first) == 1 and "¥30.00" in first[0]
    for sent in range(2, 6):
        clock.advance(timedelta(days=3) - timedelta(minutes=1))
        await sweep(bot)
        assert len(said_to(fake_tg, zhang.chat_id, REMINDER)) == sent - 1
        clock.advance(timedelta(minutes=1))
        await sweep(bot)
        assert len(said_to(fake_tg, zhang.chat_id, REMINDER)) == sent
    assert bill_state(bot, number) == ("unpaid", 5, False)
    assert not said_to(fake_tg, agent.chat_id, number)
    clock.advance(timedelta(days=3))
    await sweep(bot)
    ask = said_to(fake_tg, agent.chat_id, "ask why", number)
    assert len(ask) == 1 and "138 1234 5678" in ask[0] and "5 reminders" in ask[0]
    assert bill_state(bot, number) == ("unpaid", 5, True)
    clock.advance(timedelta(days=30))
    assert await sweep(bot) == {}
    assert len(said_to(fake_tg, zhang.chat_id, REMINDER)) == 5
    # the follow-up list shows it
    replies = await agent.press("Arrears list")
    assert f"📞 {number}" in agent.texts(replies)[-1]


async def test_paying_stops_the_reminders_at_once(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner, clock: FakeClock
) -> None:
    """R27: paid after the second reminder → the pending one is cancelled, nothing more."""
    number = await unpaid_repair(fake_tg, bot, zhang)
    fin = await staff_member(fake_tg, bot, TgUser(5302, "Finance Xu", "en"), "finance")
    clock.advance(timedelta(hours=11))
    await sweep(bot)
    clock.advance(timedelta(days=3))
    await sweep(bot)
    assert len(said_to(fake_tg, zhang.chat_id, REMINDER)) == 2
    await fin.send(f"/paid {number} 10 wechat")  # partial: reminders go on
    with bot.services.db.unit_of_work() as uow:
        bill_id = uow.session.scalars(select(Bill.id)).one()
        pending = uow.session.scalars(
            select(Timer).where(
                Timer.subject_id == bill_id,
                Timer.status == "pending",
                Timer.kind.like("payment%"),
            )
        ).all()
        assert [t.kind for t in pending] == ["payment_reminder"]
    await fin.send(f"/paid {number} 20 wechat")
    assert bill_state(bot, number)[0] == "paid"
    with bot.services.db.unit_of_work() as uow:
        statuses = [
            t.status
            for t in uow.session.scalars(select(Timer).where(Timer.kind == "payment_reminder"))
        ]
    assert statuses == ["done", "done", "cancelled"]
    clock.advance(timedelta(days=20))
    await sweep(bot)  # (the auto-accepted order's survey still goes out)
    assert len(said_to(fake_tg, zhang.chat_id, REMINDER)) == 2


async def test_reminder_due_in_quiet_hours_waits_for_morning(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner, clock: FakeClock
) -> None:
    """The bot was down over the evening: at 23:00 the reminder waits until 08:00."""
    await unpaid_repair(fake_tg, bot, zhang)
    clock.advance(timedelta(hours=13, minutes=30))  # Monday 23:00
    assert await sweep(bot) == {"deferred": 1}
    assert not said_to(fake_tg, zhang.chat_id, REMINDER)
    clock.advance(timedelta(hours=9))  # Tuesday 08:00
    await sweep(bot)
    assert len(said_to(fake_tg, zhang.chat_id, REMINDER)) == 1
