"""Outbox leases (issue 14.3-14.5): a chat is in one worker's hands at a time, a lease does not
expire under a worker that is still sending, a dead worker's chats resume within seconds, and
every delivery record is fenced by the holder's lease token."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.cli import main
from handlers.messages import Button, Outbound
from store import outbox
from store.clock import system_clock
from store.db import Database
from store.migrate import upgrade
from store.models import OutboxMessage
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import STAFF_GROUP, Bot, FakeClock, Owner, start_bot

CHATS = 12
PER_CHAT = 4


def _queue(db: Database, chat_id: str, texts: list[str], channel: str = "telegram") -> None:
    """Rows as a turn writes them: several messages of one chat, committed together."""
    with db.unit_of_work() as uow:
        for text in texts:
            payload = Outbound(chat_id, text, [[Button("🙋 Claim", f"{text}|claim")]]).to_payload()
            uow.session.add(OutboxMessage(channel=channel, chat_id=chat_id, payload=payload))
        uow.commit()


def _claim(db: Database, clock: FakeClock) -> list[tuple[str, int]]:
    with db.unit_of_work() as uow:
        rows = outbox.claim_due(uow.session, "telegram", clock())
        uow.commit()
        return [(r.chat_id, r.id) for r in rows]


def test_two_workers_claiming_at_once_never_split_a_chat(db_url: str, clock: FakeClock) -> None:
    """Issue 14.4: rounds of two workers claiming at the same moment; every chat's leased rows
    belong to one of them (on PostgreSQL the other's claim is uncommitted and invisible)."""
    upgrade(db_url)
    workers = [Database(db_url, clock), Database(db_url, clock)]
    try:
        for round_no in range(6):
            for chat in range(CHATS):
                _queue(workers[0], str(1000 + chat), [f"r{round_no} m{i}" for i in range(PER_CHAT)])
            gate = threading.Barrier(2)
            claimed: list[list[tuple[str, int]]] = [[], []]

            def work(index: int, gate: threading.Barrier, out: list[list[tuple[str, int]]]) -> None:
                gate.wait()
                out[index] = _claim(workers[index], clock)

            threads = [threading.Thread(target=work, args=(i, gate, claimed)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            chats = [{chat for chat, _ in rows} for rows in claimed]
            assert not chats[0] & chats[1], f"round {round_no}: chats split between two workers"
            ids = [row_id for rows in claimed for _, row_id in rows]
            assert len(ids) == len(set(ids))
            with workers[0].unit_of_work() as uow:  # done: the next round starts afresh
                uow.session.execute(update(OutboxMessage).values(status="sent", lease_until=None))
                uow.commit()
    finally:
        for db in workers:
            db.dispose()


def test_a_record_is_fenced_by_the_lease_token(db_url: str, clock: FakeClock) -> None:
    """A worker whose lease ran out and was taken over cannot mark the row sent or reschedule it;
    the new holder can."""
    upgrade(db_url)
    db = Database(db_url, clock)
    try:
        _queue(db, "42", ["only"])
        with db.unit_of_work() as uow:
            (first,) = outbox.claim_due(uow.session, "telegram", clock())
            uow.commit()
        old_token = first.lease_until
        assert old_token is not None
        clock.advance(outbox.LEASE + timedelta(seconds=1))  # the first holder stalled
        with db.unit_of_work() as uow:
            (second,) = outbox.claim_due(uow.session, "telegram", clock())
            uow.commit()
        assert second.id == first.id and second.lease_until != old_token
        with db.unit_of_work() as uow:
            assert not outbox.mark_sent(uow.session, first.id, old_token, clock(), "1")
            assert not outbox.reschedule(uow.session, first.id, old_token, clock(), "late")
            assert outbox.mark_sent(uow.session, second.id, second.lease_until, clock(), "2")
            uow.commit()
        with db.unit_of_work() as uow:
            row = uow.session.get(OutboxMessage, first.id)
            assert row is not None and row.status == "sent" and row.external_id == "2"
            assert row.attempts == 1
    finally:
        db.dispose()


def _cards_to_group(fake: FakeTelegram) -> list[str]:
    return [
        str(c.params.get("text"))
        for c in fake.calls_of("sendMessage", include_failed=False)
        if str(c.params.get("chat_id")) == str(STAFF_GROUP)
    ]


def _statuses(db: Database) -> set[str]:
    with db.unit_of_work() as uow:
        return set(uow.session.scalars(select(OutboxMessage.status)))


async def _until(check: object, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_two_workers_never_send_a_card_twice_while_one_sends_slowly(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14.3: sending a chat's rows takes longer than a lease (a slow group, here 0.4 s a
    card against a 1 s lease); the holder keeps its lease alive, so the second worker never
    takes the rows over: each card reaches the group once, in order."""
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=1))
    fake_tg.delay("sendMessage", 0.4, chat_id=STAFF_GROUP)
    bots: list[Bot] = [await start_bot(fake_tg, db_url, clock) for _ in range(2)]
    cards = [f"card {i:02d}" for i in range(8)]
    try:
        _queue(bots[0].services.db, str(STAFF_GROUP), cards)
        for bot in bots:
            bot.desk.sender.notify()
        await _until(lambda: len(_cards_to_group(fake_tg)) >= len(cards))
        await asyncio.sleep(1.5)  # long enough for a stolen lease to show as a second copy
    finally:
        for bot in bots:
            await bot.stop()
    assert _cards_to_group(fake_tg) == cards


async def test_a_dead_workers_chat_resumes_within_seconds(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """Issue 14.5: a worker claimed an owner's replies and died (kill -9: no mark, no release).
    A live worker delivers them, in order, once the short lease ran out (seconds, not 60 s);
    a reply written later to that chat waits behind them."""
    bot = await start_bot(fake_tg, db_url, clock)
    try:
        owner = Owner(fake_tg, bot, TgUser(6101, "Wang", "en"))
        db = bot.services.db
        await bot.desk.sender.stop()  # the live worker waits while the other one claims
        _queue(db, str(owner.chat_id), ["first", "second"])
        dead = Database(db.url, clock)  # the other worker: claims, then dies
        assert [chat for chat, _ in _claim(dead, clock)] == [str(owner.chat_id)] * 2
        dead.dispose()
        _queue(db, str(owner.chat_id), ["third"])
        bot.desk.sender.start()
        bot.desk.sender.notify()
        await asyncio.sleep(0.5)
        assert fake_tg.messages_to(owner.chat_id) == []  # the lease is still live
        clock.advance(timedelta(seconds=11))  # a dead worker renews nothing
        bot.desk.sender.notify()
        await _until(lambda: len(fake_tg.messages_to(owner.chat_id)) >= 3, timeout=10)
        assert fake_tg.messages_to(owner.chat_id) == ["first", "second", "third"]
        await _until(lambda: _statuses(db) == {"sent"})  # the last mark may still be on its way
    finally:
        await bot.stop()


def _run(fake: FakeTelegram, db_url: str, folder: Path) -> subprocess.Popen[str]:
    """`propdesk run` as an operator starts it (the wall clock: a process of its own)."""
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "123456:KILL-TEST",
        "PROPDESK_TELEGRAM_API_BASE_URL": fake.base_url,
        "PROPDESK_TELEGRAM_FILE_BASE_URL": fake.base_file_url,
        "PROPDESK_DATABASE_URL": db_url,
        "PROPDESK_OUTBOX_POLL_SECONDS": "0.1",
        "PROPDESK_SCHEDULER_ENABLED": "false",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _leased(db: Database, chat_id: str) -> bool:
    with db.unit_of_work() as uow:
        rows = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == chat_id)
        ).all()
        return any(r.lease_until is not None for r in rows)


def test_kill_9_of_a_sending_worker_frees_its_chat_within_seconds(
    fake_tg: FakeTelegram, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14.5 with real processes: `propdesk run` is killed (SIGKILL) while it sends an
    owner's first reply; a second `propdesk run` delivers the chat, in order, once the short
    lease has run out (a 60 s lease would outlast this test's wait). The reply in flight at
    the kill may arrive twice (at least once), nothing else."""
    monkeypatch.setenv("PROPDESK_DATABASE_URL", db_url)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    db = Database(db_url, system_clock)
    chat = 9301
    texts = ["one", "two", "three"]
    try:
        _queue(db, str(chat), texts)
        fake_tg.delay("sendMessage", 2.0, chat_id=chat)  # the first send is still in flight
        first = _run(fake_tg, db_url, tmp_path)
        try:
            deadline = time.monotonic() + 30
            while not _leased(db, str(chat)):
                assert time.monotonic() < deadline, "the first worker never claimed the chat"
                time.sleep(0.05)
            time.sleep(0.3)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        fake_tg.delay("sendMessage", 0, chat_id=chat)
        second = _run(fake_tg, db_url, tmp_path)
        try:
            fake_tg.wait_for(
                lambda _: set(texts) <= set(fake_tg.messages_to(chat)) or None, timeout=40
            )
            time.sleep(0.5)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
        delivered = fake_tg.messages_to(chat)
        assert list(dict.fromkeys(delivered)) == texts
        assert len(delivered) <= len(texts) + 1
        with db.unit_of_work() as uow:
            rows = uow.session.scalars(select(OutboxMessage)).all()
            assert {r.status for r in rows} == {"sent"}
    finally:
        db.dispose()
