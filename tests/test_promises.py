"""Order promises kept by timers (R3, R6, R7, R9), as transcripts with a controllable clock:
each timer fires once at its time and the right event cancels it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from store.models import Order, Timer
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import STAFF_GROUP, Bot, FakeClock, Owner, staff_member, sweep
from tests.test_engineer import WANG, claimed_by, load, load_number
from tests.test_jobs import submit_urgent_public_repair
from tests.test_repair import quick_order, register

MIN = timedelta(minutes=1)


def cards(fake: FakeTelegram, number: str) -> list[str]:
    """Every card posted (not edits) in the staff group about an order."""
    return [
        m.get("text") or ""
        for m in fake.sent(STAFF_GROUP)
        if number in (m.get("text") or "") and "edit_date" not in m
    ]


def said_to(fake: FakeTelegram, chat: int, *words: str) -> list[str]:
    """Messages to a chat containing every word."""
    return [t for t in fake.messages_to(chat) if all(w in t for w in words)]


def timers_of(bot: Bot, number: str) -> dict[str, str]:
    """kind → status of an order's timers (the latest of each kind)."""
    with bot.services.db.unit_of_work() as uow:
        order_id = uow.session.scalar(select(Order.id).where(Order.number == number))
        rows = uow.session.scalars(
            select(Timer).where(Timer.subject_id == order_id).order_by(Timer.id)
        )
        return {t.kind: t.status for t in rows if not t.kind.startswith(("payment", "callback"))}


async def bosses(fake: FakeTelegram, bot: Bot) -> tuple[Owner, Owner]:
    """The engineering supervisor and a manager."""
    sup = await staff_member(fake, bot, TgUser(5101, "Sup Zhao", "en"), "supervisor", "engineering")
    mgr = await staff_member(fake, bot, TgUser(5102, "Manager Qian", "en"), "manager")
    return sup, mgr


async def test_unclaimed_urgent_job_reannounced_then_escalated(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """Urgent and unclaimed: re-posted after 5 min, supervisor after 10, R3 alert at 30."""
    number = await submit_urgent_public_repair(alice)
    sup, mgr = await bosses(fake_tg, bot)
    assert await sweep(bot) == {}
    clock.advance(4 * MIN)
    assert await sweep(bot) == {}
    assert len(cards(fake_tg, number)) == 1
    clock.advance(1 * MIN)
    await sweep(bot)
    again = cards(fake_tg, number)
    assert len(again) == 2 and "仍在等待" in again[1]  # the group reads zh, with Claim again
    assert not said_to(fake_tg, sup.chat_id, "Nobody has taken", number)
    clock.advance(5 * MIN)
    await sweep(bot)
    alert = said_to(fake_tg, sup.chat_id, "Nobody has taken", number)
    assert len(alert) == 1 and "10 minutes" in alert[0]
    assert not said_to(fake_tg, mgr.chat_id, number)  # managers are not bothered yet
    clock.advance(20 * MIN)
    await sweep(bot)
    for boss in (sup, mgr):
        urgent = said_to(fake_tg, boss.chat_id, "Urgent", number, "not on site")
        assert len(urgent) == 1 and "nobody has taken it" in urgent[0]
    clock.advance(24 * 60 * MIN)
    assert await sweep(bot) == {}  # each fired once
    assert len(cards(fake_tg, number)) == 2
    assert timers_of(bot, number) == {
        "job_reannounce": "done",
        "job_unclaimed": "done",
        "urgent_arrival": "done",
    }


async def test_claim_stops_the_waiting_alarms_and_arrival_stops_r3(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """Claimed within 2 minutes and on site within 30: nobody is alerted about anything."""
    number = await submit_urgent_public_repair(alice)
    sup, mgr = await bosses(fake_tg, bot)
    clock.advance(2 * MIN)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    assert timers_of(bot, number) == {
        "job_reannounce": "cancelled",
        "job_unclaimed": "cancelled",
        "urgent_arrival": "pending",
    }
    clock.advance(20 * MIN)
    await wang.press("On my way")
    await wang.press("Arrived")
    assert timers_of(bot, number)["urgent_arrival"] == "cancelled"
    clock.advance(2 * 60 * MIN)
    assert await sweep(bot) == {}
    assert len(cards(fake_tg, number)) == 1
    assert not said_to(fake_tg, sup.chat_id, number) and not said_to(fake_tg, mgr.chat_id, number)


async def test_claimed_but_not_on_site_in_30_minutes_alerts_with_the_holder(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """R3 is about being on site, not about claiming: the alert names who holds the job."""
    number = await submit_urgent_public_repair(alice)
    sup, mgr = await bosses(fake_tg, bot)
    await claimed_by(fake_tg, bot, WANG, number)
    clock.advance(29 * MIN)
    assert await sweep(bot) == {}
    clock.advance(1 * MIN)
    assert await sweep(bot) == {"ran": 1}
    for boss in (sup, mgr):
        assert len(said_to(fake_tg, boss.chat_id, "Urgent", number, "Holder: Wang")) == 1


async def test_booked_visit_reminders_move_with_a_rebooking(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner, clock: FakeClock
) -> None:
    """Visit tomorrow 10:00: the owner hears at 19:00 tonight, the engineer at 09:30."""
    await register(zhang)
    await quick_order(zhang)  # tomorrow (Tue 24 Nov) 10:00–12:00
    number = load_number(bot)
    await claimed_by(fake_tg, bot, WANG, number)
    assert timers_of(bot, number)["visit_owner"] == "pending"
    assert timers_of(bot, number)["visit_engineer"] == "pending"
    clock.advance(9 * 60 * MIN + 29 * MIN)  # Monday 18:59
    await sweep(bot)
    assert not said_to(fake_tg, zhang.chat_id, "提醒")
    clock.advance(1 * MIN)  # 19:00
    await sweep(bot)
    owner_note = said_to(fake_tg, zhang.chat_id, "提醒", number)
    assert len(owner_note) == 1 and "10:00–12:00" in owner_note[0]
    clock.advance(14 * 60 * MIN + 29 * MIN)  # Tuesday 09:29
    await sweep(bot)
    assert not said_to(fake_tg, WANG.id, "Reminder", number)
    clock.advance(1 * MIN)
    await sweep(bot)
    reminder = said_to(fake_tg, WANG.id, "Reminder", number)
    assert len(reminder) == 1 and "10:00–12:00" in reminder[0]
    clock.advance(3 * 24 * 60 * MIN)
    assert await sweep(bot) == {}
    assert len(said_to(fake_tg, zhang.chat_id, "提醒", number)) == 1


async def test_not_home_then_rebooked_reschedules_reminders(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner, clock: FakeClock
) -> None:
    """R7: after 'not home' and a re-booking, the old reminders are gone and new ones wait."""
    await register(zhang)
    await quick_order(zhang)
    number = load_number(bot)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    await wang.press("On my way")
    await wang.press("Owner not home")
    assert timers_of(bot, number)["visit_engineer"] == "cancelled"
    await zhang.press("重新预约")
    day = zhang.buttons(zhang.last[-1])[2]  # the third bookable day
    await zhang.press(day)
    await zhang.press(zhang.buttons(zhang.last[-1])[0])
    with bot.services.db.unit_of_work() as uow:
        order_id = uow.session.scalar(select(Order.id).where(Order.number == number))
        pending = {
            t.kind: t.due_at
            for t in uow.session.scalars(
                select(Timer).where(Timer.subject_id == order_id, Timer.status == "pending")
            )
        }
    order = load(bot, number)
    assert order.visit_start is not None
    assert pending["visit_engineer"] == order.visit_start - timedelta(minutes=30)
    assert "visit_owner" in pending


async def test_sign_off_reminder_then_auto_accept_and_callback(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """R9: no answer → reminder after 24 h, accepted after 72 h, recorded as automatic, and the
    callback survey follows (R20)."""
    number = await submit_urgent_public_repair(alice)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    await wang.press("Arrived")
    await wang.press("Done")
    clock.advance(23 * 60 * MIN)
    await sweep(bot)
    assert not said_to(fake_tg, alice.chat_id, "Could you check the work")
    clock.advance(60 * MIN)
    await sweep(bot)
    nudges = [m for m in fake_tg.sent(alice.chat_id) if "Could you check" in (m.get("text") or "")]
    assert len(nudges) == 1 and Owner.buttons(nudges[0]) == ["✅ Accept", "❌ Not fixed"]
    clock.advance(48 * 60 * MIN)
    await sweep(bot)
    order = load(bot, number)
    assert order.status == "accepted"
    auto = order.events[-1]
    assert auto.action == "accept" and auto.actor_id is None and "auto" in (auto.note or "")
    assert said_to(fake_tg, alice.chat_id, "recorded as accepted")
    # the owner's old Accept button is stale now
    replies = await alice.press_data(*reversed(alice.find_button("Accept", as_drawn=True)))
    said = " ".join(alice.texts(replies)) + (alice.notice or "")  # on the button (issue 11.5)
    assert "out of date" in said or "cannot be done" in said, said
    clock.advance(2 * 60 * MIN)
    await sweep(bot)
    assert said_to(fake_tg, alice.chat_id, "How satisfied", number)
