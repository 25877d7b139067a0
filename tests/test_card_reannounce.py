"""The "still waiting" re-post of a job card counts from when the card reached the group, not
from when the order was made (issue 14.7, R6): in a congested group the repeat never lands
minutes, or seconds, after the card it repeats."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from store.models import Order, OutboxMessage
from tests.fake_telegram import FakeTelegram
from tests.harness import Bot, FakeClock, Owner, sweep
from tests.test_jobs import submit_urgent_public_repair
from tests.test_promises import cards, timers_of

MIN = timedelta(minutes=1)


def _card_reached_group_late(bot: Bot, number: str, late: timedelta) -> None:
    """What the sender records when a busy group (20 a minute) took `late` to get the card."""
    with bot.services.db.unit_of_work() as uow:
        order = uow.session.scalars(select(Order).where(Order.number == number)).one()
        card = uow.session.get(OutboxMessage, order.card_outbox_id)
        assert card is not None and card.sent_at is not None
        card.sent_at = order.created_at + late
        uow.commit()


async def test_reannounce_counts_from_the_cards_delivery(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """Urgent (5 min): the card reached the group 3 minutes late, so 5 minutes after the order
    nothing is repeated yet; 5 minutes after the card, it is, once."""
    number = await submit_urgent_public_repair(alice)
    _card_reached_group_late(bot, number, 3 * MIN)
    clock.advance(5 * MIN)
    await sweep(bot)
    assert len(cards(fake_tg, number)) == 1, "re-posted 2 minutes after the card reached the group"
    assert timers_of(bot, number)["job_reannounce"] == "pending"
    clock.advance(3 * MIN)
    await sweep(bot)
    again = cards(fake_tg, number)
    assert len(again) == 2 and "仍在等待" in again[1]
    clock.advance(60 * MIN)
    await sweep(bot)
    assert len(cards(fake_tg, number)) == 2
    assert timers_of(bot, number)["job_reannounce"] == "done"


async def test_a_card_still_queued_is_not_repeated(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """While the card has not reached the group at all, its repeat waits (and looks again)."""
    number = await submit_urgent_public_repair(alice)
    with bot.services.db.unit_of_work() as uow:
        order = uow.session.scalars(select(Order).where(Order.number == number)).one()
        card = uow.session.get(OutboxMessage, order.card_outbox_id)
        assert card is not None
        card.sent_at = None  # as if still waiting behind the group's limit
        uow.commit()
    clock.advance(6 * MIN)
    await sweep(bot)
    assert len(cards(fake_tg, number)) == 1
    assert timers_of(bot, number)["job_reannounce"] == "pending"
