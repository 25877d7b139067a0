"""Delivery guarantees: duplicates ignored, 429 honoured, 5xx retried, order kept, restarts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from store.models import OutboxMessage, ProcessedUpdate
from tests.fake_telegram import FakeTelegram
from tests.harness import Bot, FakeClock, Owner, settle, start_bot


def _delivered(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [
        c.params.get("text", "")
        for c in fake.calls_of("sendMessage", include_failed=False)
        if str(c.params.get("chat_id")) == str(chat_id)
    ]


def _count(bot: Bot, model: type, *where: object) -> int:
    with bot.services.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_duplicated_update_is_handled_once(fake_tg: FakeTelegram, alice: Owner) -> None:
    """The same update id delivered twice creates one reply, not two."""
    update = fake_tg.user_text(alice.user, "/start")
    await settle(alice.bot, str(update["update_id"]))
    before = len(fake_tg.sent(alice.chat_id))
    fake_tg.duplicate(update)
    await fake_tg.await_for(lambda _: not fake_tg.pending_updates(), timeout=5)
    await asyncio.sleep(0.5)
    assert len(fake_tg.sent(alice.chat_id)) == before
    assert (
        _count(alice.bot, ProcessedUpdate, ProcessedUpdate.update_id == str(update["update_id"]))
        == 1
    )


async def test_429_waits_for_retry_after_then_delivers_once_in_order(
    fake_tg: FakeTelegram, alice: Owner, clock: FakeClock
) -> None:
    """A 429 delays the chat by retry_after; later replies of the chat do not overtake."""
    fake_tg.fail_next("sendMessage", status=429, retry_after=30)
    fake_tg.user_text(alice.user, "/start")
    await fake_tg.await_for(
        lambda calls: any(c.method == "sendMessage" and c.failed for c in calls), timeout=5
    )
    # the chat's next reply (welcome and question now go as one message, issue 15.2)
    fake_tg.user_text(alice.user, "Alice Wang")
    for _ in range(500):  # until its reply is in the outbox, behind the first
        if _count(alice.bot, OutboxMessage, OutboxMessage.chat_id == str(alice.chat_id)) == 2:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)  # the sender keeps polling: nothing may go out early
    assert _delivered(fake_tg, alice.chat_id) == []
    with alice.bot.services.db.unit_of_work() as uow:
        first = uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        assert first is not None and first.attempts == 1 and first.status == "pending"
        assert first.next_attempt_at - clock() > timedelta(seconds=25)
    clock.advance(timedelta(seconds=31))
    alice.bot.desk.sender.notify()
    texts = await fake_tg.await_for(lambda _: _delivered(fake_tg, alice.chat_id)[1:] or None)
    delivered = _delivered(fake_tg, alice.chat_id)
    assert len(delivered) == 2 and "Welcome" in delivered[0] and "home" in delivered[1], texts
    failed = [c for c in fake_tg.calls_of("sendMessage") if c.failed]
    assert len(failed) == 1


async def test_5xx_is_retried_and_the_reply_arrives_once(
    fake_tg: FakeTelegram, alice: Owner
) -> None:
    """A Bad Gateway on send is retried with backoff; the owner sees the reply exactly once."""
    fake_tg.fail_next("sendMessage", status=502, times=2)
    update = fake_tg.user_text(alice.user, "/help")
    await settle(alice.bot, str(update["update_id"]))
    delivered = _delivered(fake_tg, alice.chat_id)
    assert len(delivered) == 1 and "service desk" in delivered[0]
    assert len([c for c in fake_tg.calls_of("sendMessage") if c.failed]) == 2


async def test_undelivered_replies_survive_a_restart(
    fake_tg: FakeTelegram, alice: Owner, db_url: str, clock: FakeClock
) -> None:
    """Replies committed before a crash go out when the next process starts."""
    fake_tg.fail_next("sendMessage", status=429, retry_after=5)
    fake_tg.user_text(alice.user, "/help")
    await fake_tg.await_for(lambda calls: any(c.failed for c in calls), timeout=5)
    await alice.bot.stop()
    assert _count(alice.bot, OutboxMessage, OutboxMessage.status == "pending") == 1
    clock.advance(timedelta(seconds=6))
    second = await start_bot(fake_tg, db_url, clock)
    try:
        await fake_tg.await_for(lambda _: _delivered(fake_tg, alice.chat_id) or None)
        assert len(_delivered(fake_tg, alice.chat_id)) == 1
    finally:
        await second.stop()
