"""An update is confirmed to Telegram only after it is committed (issue 14.1): while the
database refuses writes (a full disk), polling keeps asking for the same updates and the
webhook answers 503, with one log line per episode; once writes work again every owner is
answered, once."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from handlers.inbox import write_outbox
from handlers.messages import Outbound
from tests.engine_hooks import before_cursor, hook_new_engines
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, FakeClock, Owner, seed_examples, settle, start_bot
from tests.test_webhook import SECRET, hooked

__all__ = ["hooked"]  # the webhook bot fixture, shared with tests/test_webhook.py

EPISODE = "cannot be committed"


@pytest.fixture(autouse=True)
def _faults_can_be_hooked(monkeypatch: pytest.MonkeyPatch) -> None:
    hook_new_engines(monkeypatch)


class DiskFull:
    """A fault at the database layer: while on, every write fails as on a full disk."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        before_cursor(engine, self._check)

    def _check(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if self.on and verb in ("INSERT", "UPDATE", "DELETE"):
            raise OperationalError(statement, params, Exception("database or disk is full"))


def _episodes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if EPISODE in r.getMessage()]


async def test_polling_does_not_confirm_what_was_not_committed(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Three owners write while the disk is full: nothing is confirmed, the offset stays, one
    line is logged; when space returns each gets the answer once and the queue empties."""
    bot = await start_bot(fake_tg, db_url, clock)
    seed_examples(bot.services)
    disk = DiskFull(bot.services.db.engine)
    owners = [Owner(fake_tg, bot, TgUser(8201 + i, f"Owner {i}", "en")) for i in range(3)]
    try:
        with caplog.at_level(logging.INFO):
            disk.on = True
            updates = [fake_tg.user_text(o.user, "/help") for o in owners]
            first = updates[0]["update_id"]
            await fake_tg.await_for(  # tried, failed, and asked for the same updates again
                lambda calls: [
                    c for c in calls if c.method == "getUpdates" and c.params.get("offset") == first
                ],
                timeout=15,
            )
            await asyncio.sleep(1.5)  # a few more tries: still one line, nothing confirmed
            assert len(fake_tg.pending_updates()) == 3
            assert not any(fake_tg.messages_to(o.chat_id) for o in owners)
            assert len(_episodes(caplog)) == 1
            disk.on = False
            for update in updates:
                await settle(bot, str(update["update_id"]), timeout=60)
            await fake_tg.await_for(lambda _: not fake_tg.pending_updates(), timeout=30)
    finally:
        disk.on = False
        await bot.stop()
    for owner in owners:
        replies = fake_tg.messages_to(owner.chat_id)
        assert len(replies) == 1 and "service desk" in replies[0]
    assert len(_episodes(caplog)) == 1
    assert any("committed again" in r.getMessage() for r in caplog.records)
    # one line per episode, not a traceback per try of every update (issue 14.1)
    assert not [r for r in caplog.records if r.name == "handlers.inbox"]


async def test_webhook_answers_503_until_the_update_is_committed(
    fake_tg: FakeTelegram, hooked: tuple[Bot, str]
) -> None:
    """Telegram re-delivers an update answered with an error: 503 while the disk is full,
    200 once it is committed, and the owner is answered once."""
    bot, url = hooked
    disk = DiskFull(bot.services.db.engine)
    owner = Owner(fake_tg, bot, TgUser(8301, "Hook", "en"))
    update = fake_tg.user_text(owner.user, "/help")
    disk.on = True
    try:
        assert await fake_tg.apost_update_to(url, update, SECRET) == 503
        assert await fake_tg.apost_update_to(url, update, SECRET) == 503
    finally:
        disk.on = False
    assert await fake_tg.apost_update_to(url, update, SECRET) == 200
    await settle(bot, str(update["update_id"]))
    assert await fake_tg.apost_update_to(url, update, SECRET) == 200  # a duplicate: ignored
    await asyncio.sleep(0.3)
    replies = fake_tg.messages_to(owner.chat_id)
    assert len(replies) == 1 and "service desk" in replies[0]


async def test_the_sender_logs_a_database_outage_once(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The sender cannot lease while writes fail: one line for the episode (not one a poll),
    one when it works again, and the reply goes out then."""
    bot = await start_bot(fake_tg, db_url, clock)
    disk = DiskFull(bot.services.db.engine)
    owner = Owner(fake_tg, bot, TgUser(8401, "Late", "en"))
    try:
        await bot.desk.sender.stop()
        with bot.services.db.unit_of_work() as uow:
            write_outbox(uow, "telegram", [Outbound(str(owner.chat_id), "later")])
            uow.commit()
        with caplog.at_level(logging.INFO):
            disk.on = True
            bot.desk.sender.start()
            await asyncio.sleep(1.0)  # twenty polls at 0.05 s
            assert fake_tg.messages_to(owner.chat_id) == []
            disk.on = False
            await fake_tg.await_for(lambda _: fake_tg.messages_to(owner.chat_id), timeout=10)
    finally:
        disk.on = False
        await bot.stop()
    assert fake_tg.messages_to(owner.chat_id) == ["later"]
    failed = [r for r in caplog.records if "outbox: the database takes no writes" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is None
    assert any("outbox: the database takes writes again" in r.getMessage() for r in caplog.records)


class FailsOneUpdate:
    """A fault at the database layer: the first `times` writes about one update id fail."""

    def __init__(self, engine: Engine, update_id: int, times: int) -> None:
        self.update_id, self.times = str(update_id), times
        before_cursor(engine, self._check)

    def _check(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        about = self.update_id in repr(params) and "processed_updates" in statement
        if self.times and about and statement.lstrip().upper().startswith("INSERT"):
            self.times -= 1
            raise OperationalError(statement, params, Exception("disk I/O error"))


async def test_a_chat_stays_in_order_when_one_update_cannot_be_committed(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """Two messages of one owner in one batch; the first cannot be committed (nor its
    apology): the second is not handled before it, so the answers keep the owner's order."""
    user = TgUser(8501, "Order", "en")
    bot = await start_bot(fake_tg, db_url, clock)
    try:
        seed_examples(bot.services)
        polling = bot.desk.polling
        assert polling is not None
        await polling.stop()  # both messages wait for the next getUpdates: one batch
        first = fake_tg.user_text(user, "/help")
        second = fake_tg.user_text(user, "/start")
        FailsOneUpdate(bot.services.db.engine, first["update_id"], times=2)
        await polling.start()
        for update in (first, second):
            await settle(bot, str(update["update_id"]), timeout=60)
    finally:
        await bot.stop()
    replies = fake_tg.messages_to(user.id)
    # /help's answer, then the welcome with the first question in one message (issue 15.2)
    assert len(replies) == 2, replies
    assert "service desk" in replies[0] and "Welcome" in replies[1]


async def test_an_update_that_fails_on_its_own_does_not_block_polling(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """One update always fails (bad data, a bug) while other owners' messages are committed:
    after a few tries it is given up with one ERROR line, and polling goes on."""
    bot = await start_bot(fake_tg, db_url, clock)
    try:
        seed_examples(bot.services)
        polling = bot.desk.polling
        assert polling is not None
        await polling.stop()
        poison = fake_tg.user_text(TgUser(8601, "Poison", "en"), "/help")
        FailsOneUpdate(bot.services.db.engine, poison["update_id"], times=10_000)
        others = [Owner(fake_tg, bot, TgUser(8602 + i, f"Other {i}", "en")) for i in range(3)]
        with caplog.at_level(logging.INFO):
            await polling.start()
            for other in others:  # owners keep writing while the poison is tried again
                update = fake_tg.user_text(other.user, "/help")
                await settle(bot, str(update["update_id"]), timeout=60)
                await asyncio.sleep(0.8)
            await fake_tg.await_for(lambda _: not fake_tg.pending_updates(), timeout=30)
    finally:
        await bot.stop()
    for other in others:
        assert len(fake_tg.messages_to(other.user.id)) == 1
    assert fake_tg.messages_to(8601) == []
    given_up = [r for r in caplog.records if "given up" in r.getMessage()]
    assert len(given_up) == 1 and str(poison["update_id"]) in given_up[0].getMessage()
