"""The supervisor's board: open work, the unclaimed queue with ages, overdue promises (R3)."""

from __future__ import annotations

from datetime import timedelta

from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, FakeClock, Owner, staff_member
from tests.test_jobs import submit_urgent_public_repair


async def test_board_shows_waiting_and_overdue_work(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """An urgent job unclaimed for 31 minutes is on the queue and overdue."""
    number = await submit_urgent_public_repair(alice)
    boss = await staff_member(fake_tg, bot, TgUser(4001, "Boss", "en"), "supervisor", "engineering")
    replies = await boss.send("/board")
    text = boss.texts(replies)[0]
    assert "Waiting for an engineer: 1" in text and number in text
    assert "Overdue" not in text
    clock.advance(timedelta(minutes=31))
    text = boss.texts(await boss.send("/board"))[0]
    assert "waiting 31 min" in text and "Overdue" in text


async def test_board_is_refused_to_others(fake_tg: FakeTelegram, bot: Bot, alice: Owner) -> None:
    """Engineers and owners get a polite no."""
    await submit_urgent_public_repair(alice)
    replies = await alice.send("/board")
    assert "for supervisors and managers" in alice.texts(replies)[0]
    engineer = await staff_member(
        fake_tg, bot, TgUser(4002, "Wang", "en"), "engineer", "engineering"
    )
    replies = await engineer.send("/board")
    assert "for supervisors and managers" in engineer.texts(replies)[0]
