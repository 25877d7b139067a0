"""The sender's lanes (issue 15.1): each chat in order at its own limit, chats never wait for
each other, the overall budget goes to interactive replies first; a 429 is one log line
(issue 14.6)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from sqlalchemy import func, select

from bot.outbox import Budget, priority_of
from handlers.messages import Button, Outbound
from store import outbox
from store.db import Database
from store.migrate import upgrade
from store.models import OutboxMessage
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import STAFF_GROUP, Bot, FakeClock, Owner, start_bot

TELEGRAM_LIMITS = {  # the production defaults, which the harness turns off for transcripts
    "telegram_chat_per_second": 1.0,
    "telegram_group_per_minute": 20.0,
    "telegram_overall_per_second": 30.0,
}
CARDS = 30


def _queue_cards(bot: Bot, count: int) -> list[str]:
    """A storm's job cards waiting for the staff group, as handlers.jobs words them."""
    texts = [f"🔧 R-20261123-{i:04d} · plumbing · 3-2-{i:04d}" for i in range(count)]
    with bot.services.db.unit_of_work() as uow:
        for i, text in enumerate(texts):
            card = Outbound(str(STAFF_GROUP), text, [[Button("🙋 Claim", f"o|claim|{i}|c1")]])
            uow.session.add(
                OutboxMessage(
                    channel="telegram", chat_id=str(STAFF_GROUP), payload=card.to_payload()
                )
            )
        uow.commit()
    return texts


def _to_group(fake: FakeTelegram) -> list[str]:
    return [
        str(c.params.get("text"))
        for c in fake.calls_of("sendMessage", include_failed=False)
        if str(c.params.get("chat_id")) == str(STAFF_GROUP)
    ]


def _pending_cards(bot: Bot) -> int:
    with bot.services.db.unit_of_work() as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.chat_id == str(STAFF_GROUP), OutboxMessage.status == "pending")
            )
            or 0
        )


async def test_a_busy_staff_group_does_not_delay_owners_replies(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """30 job cards queue for the group (20 a minute: 1.5 minutes of work); owners who write
    meanwhile get their answers while the cards still wait, and the group gets its cards in
    order, never faster than its limit."""
    bot = await start_bot(fake_tg, db_url, clock, **TELEGRAM_LIMITS)
    started = time.monotonic()
    try:
        cards = _queue_cards(bot, CARDS)
        bot.desk.sender.notify()
        await fake_tg.await_for(lambda _: _to_group(fake_tg) or None)
        owners = [Owner(fake_tg, bot, TgUser(7001 + i, f"Owner {i}", "en")) for i in range(3)]
        for owner in owners:
            fake_tg.user_text(owner.user, "/help")
        await fake_tg.await_for(
            lambda _: all(fake_tg.messages_to(o.chat_id) for o in owners), timeout=15
        )
        waiting = _pending_cards(bot)
        elapsed = time.monotonic() - started
        sent = _to_group(fake_tg)
    finally:
        await bot.stop()
    for owner in owners:
        assert "service desk" in fake_tg.messages_to(owner.chat_id)[0]
    assert waiting >= CARDS - len(sent) > 0, "the owners were answered while the cards waited"
    assert sent == cards[: len(sent)]  # the group's cards in order
    assert len(sent) <= 3 + elapsed / 3 + 1  # burst of 3, then one every 3 s


async def test_interactive_replies_take_the_overall_budget_first() -> None:
    """With the overall budget spent, waiting lanes are served by priority, then in turn:
    owners' replies before job cards, cards before reminders, reminders before reports."""
    budget = Budget(rate=50.0, burst=1)
    served: list[str] = []

    async def lane(name: str, priority: int) -> None:
        await budget.take(priority)
        served.append(name)

    order = [
        ("report", outbox.REPORT),
        ("card 1", outbox.CARD),
        ("reminder", outbox.REMINDER),
        ("card 2", outbox.CARD),
        ("owner 1", outbox.INTERACTIVE),
        ("owner 2", outbox.INTERACTIVE),
    ]
    await asyncio.gather(*(lane(name, priority) for name, priority in order))
    # the first asker finds a token; the rest queue and are served best first, then in turn
    assert served == ["report", "owner 1", "owner 2", "card 1", "card 2", "reminder"]


async def test_a_card_that_waited_long_enough_is_not_starved() -> None:
    """Owners who keep the budget busy cannot hold a job card back for ever: a card that has
    waited longer than its priority's head start goes before a reply that just asked."""
    budget = Budget(rate=2.0, burst=1, step=0.01)
    served: list[str] = []

    async def lane(name: str, priority: int) -> None:
        await budget.take(priority)
        served.append(name)

    first = asyncio.create_task(lane("owner 0", outbox.INTERACTIVE))  # spends the token
    card = asyncio.create_task(lane("card", outbox.CARD))
    await asyncio.sleep(0.1)  # the card waits longer than its 0.01 s handicap
    owner = asyncio.create_task(lane("owner 1", outbox.INTERACTIVE))
    await asyncio.gather(first, card, owner)
    assert served == ["owner 0", "card", "owner 1"]


def test_priorities_come_from_the_row(db_url: str, clock: FakeClock) -> None:
    """No column: groups get cards' priority, files reports', rows a timer wrote reminders',
    everything else (a turn's replies and notices) goes first."""
    upgrade(db_url)
    db = Database(db_url, clock)
    try:
        with db.unit_of_work() as uow:
            uow.session.info[outbox.PRIORITY_KEY] = outbox.REMINDER  # as the sweeper does
            uow.session.add(
                OutboxMessage(
                    channel="telegram", chat_id="5", payload=Outbound("5", "due").to_payload()
                )
            )
            uow.commit()
        with db.unit_of_work() as uow:
            reminder = uow.session.scalars(select(OutboxMessage)).one()
            assert priority_of(reminder.chat_id, reminder.payload) == outbox.REMINDER
    finally:
        db.dispose()
    assert priority_of("5", Outbound("5", "hi").to_payload()) == outbox.INTERACTIVE
    assert priority_of("-1001", Outbound("-1001", "card").to_payload()) == outbox.CARD
    chart = {"upload": {"kind": "photo"}, "text": ""}
    assert priority_of("5", chart) == outbox.REPORT


async def test_a_429_is_one_line_without_a_traceback(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 14.6: Telegram's 429 is expected and retried: one INFO/WARNING line naming the
    chat and retry_after, no ERROR, no traceback."""
    bot = await start_bot(fake_tg, db_url, clock)
    owner = Owner(fake_tg, bot, TgUser(7101, "Zhou", "en"))
    try:
        with caplog.at_level(logging.INFO):
            fake_tg.fail_next("sendMessage", status=429, retry_after=7)
            fake_tg.user_text(owner.user, "/help")
            await fake_tg.await_for(lambda calls: any(c.failed for c in calls), timeout=5)
            await asyncio.sleep(0.3)
    finally:
        await bot.stop()
    about = [r for r in caplog.records if "retry" in r.getMessage().lower()]
    assert len(about) == 1, [r.getMessage() for r in caplog.records]
    line = about[0]
    assert line.levelno in (logging.INFO, logging.WARNING) and line.exc_info is None
    assert str(owner.chat_id) in line.getMessage() and "7" in line.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
