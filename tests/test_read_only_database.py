"""A read-only database (issue 14.2): `propdesk run` refuses to start on one with one clear
line and exit code 3; a bot whose database turns read-only while running writes again within
seconds once it can (its read-only connections are dropped), and /healthz says which it is.

Tests run as root here, and root ignores file permissions, so the fault is made at the
database layer: SQLite opened with ``?mode=ro`` (exactly what SQLite does itself when the file
or its folder is not writable) for a start, and ``PRAGMA query_only=ON`` on every new
connection while the fault lasts (a connection stuck read-only, as after a chmod); on
PostgreSQL ``default_transaction_read_only`` plays both parts. As another user the start test
uses a real ``chmod``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from bot.telegram.commands import chat_commands, staff_chats
from bot.web import webhook_app
from store import migrate
from store.db import READ_ONLY, Database, DatabaseNotWritable
from store.models import Identity, OutboxMessage, PersonRole, ProcessedUpdate
from store.staff import create_invite
from tests.engine_hooks import hook_new_engines, on_connect
from tests.fake_telegram import FakeTelegram, TgUser
from tests.fake_wechat import FakeWeChat, WeChatPhone, start_wechat, wechat_settings
from tests.fake_wechat import text_xml as wechat_text_xml
from tests.fake_wecom import FakeWeCom, WeComPhone, start_wecom, text_xml, wecom_settings
from tests.harness import MONDAY_MORNING, FakeClock, run_env, seed_examples, settle, start_bot


@pytest.fixture(autouse=True)
def _faults_can_be_hooked(monkeypatch: pytest.MonkeyPatch) -> None:
    hook_new_engines(monkeypatch)


class ReadOnly:
    """While on, every new connection is opened read-only (a "connect" hook); turning it on
    also drops the pool's connections, so the bot is read-only at once."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.engine = engine
        on_connect(engine, self._connect)

    def _connect(self, dbapi_conn: Any, _record: Any) -> None:
        if not self.on:
            return
        cur = dbapi_conn.cursor()
        if self.engine.dialect.name == "sqlite":
            cur.execute("PRAGMA query_only=ON")
        else:
            cur.execute("SET default_transaction_read_only = on")
        cur.close()
        if self.engine.dialect.name != "sqlite":
            dbapi_conn.commit()

    def start(self) -> None:
        """From now on connections cannot write."""
        self.on = True
        self.engine.dispose()

    def leave_stale_readers(self) -> None:
        """While on: every idle pooled connection is (re)opened read-only and used only to
        read, as the desk's readers (menus, sweeps; reports on SQLite) leave them; none of them
        has refused a write, so none has been dropped, and they stay read-only after `stop`."""
        assert self.on
        idle = max(1, self.engine.pool.checkedin())  # type: ignore[attr-defined]
        readers = [self.engine.connect() for _ in range(idle)]
        for reader in readers:
            reader.execution_options(**{READ_ONLY: True}).exec_driver_sql("SELECT 1")
        for reader in readers:
            reader.close()

    def stop(self) -> None:
        """New connections can write again; the old ones stay as they were opened."""
        self.on = False


def _read_only_url(db_url: str, tmp_path: Path) -> str:
    """The same database, as a process may only read it."""
    if db_url.startswith("postgresql"):
        return db_url + "?options=-c%20default_transaction_read_only%3Don"
    path = Path(db_url.split("///", 1)[1])
    if os.geteuid() != 0:  # a real chmod of the file and its folder
        path.chmod(0o444)
        path.parent.chmod(0o555)
        return db_url
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def test_run_refuses_a_read_only_database(
    fake_tg: FakeTelegram, db_url: str, tmp_path: Path
) -> None:
    """The migration has nothing to write, so only the write probe notices: one line on
    stderr naming the database and what to do, exit code 3, nothing served."""
    migrate.upgrade(db_url)
    url = _read_only_url(db_url, tmp_path)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    env = run_env(fake_tg, url)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        if os.geteuid() != 0 and not db_url.startswith("postgresql"):
            Path(db_url.split("///", 1)[1]).parent.chmod(0o755)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "is read-only" in lines[0] and "write permission" in lines[0]
    assert not fake_tg.calls_of("getUpdates")  # it never started polling


def test_the_probe_tells_a_writable_database(db_url: str) -> None:
    """check_writable passes on a writable database and changes nothing."""
    migrate.upgrade(db_url)
    revision = migrate.current_revision(db_url)
    db = Database(db_url, FakeClock(MONDAY_MORNING))
    try:
        db.check_writable()
        fault = ReadOnly(db.engine)
        fault.start()
        with pytest.raises(DatabaseNotWritable):
            db.check_writable()
        fault.stop()
        db.check_writable()  # the read-only connection was dropped, not kept in the pool
        assert revision and migrate.current_revision(db_url) == revision
    finally:
        db.dispose()


def test_command_lists_are_read_while_the_database_takes_no_writes(db_url: str) -> None:
    """The command lists only read the staff: they are read in a transaction that takes no
    write lock, so a start on a database that just turned read-only still sets them (a write
    transaction on SQLite failed, and the start-up task died with a traceback)."""
    migrate.upgrade(db_url)
    db = Database(db_url, FakeClock(MONDAY_MORNING))
    try:
        fault = ReadOnly(db.engine)
        fault.start()
        assert staff_chats(db) == [] and chat_commands(db, "8303") is None
        fault.stop()
    finally:
        db.dispose()


async def test_writes_resume_when_permissions_return(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """An owner writes while the database is read-only: no answer, nothing confirmed, health
    503; once it is writable again the owner is answered once and health says ok."""
    bot = await start_bot(fake_tg, db_url, clock)
    seed_examples(bot.services)
    fault = ReadOnly(bot.services.db.engine)
    app = webhook_app(bot.desk)
    owner = TgUser(8301, "Owner", "en")
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://desk"
        ) as web:
            assert (await web.get("/healthz")).status_code == 200
            fault.start()
            update = fake_tg.user_text(owner, "/help")
            first = update["update_id"]
            await fake_tg.await_for(  # tried, failed, and asked for the same update again
                lambda calls: [
                    c for c in calls if c.method == "getUpdates" and c.params.get("offset") == first
                ][1:],
                timeout=15,
            )
            health = await web.get("/healthz")
            assert health.status_code == 503 and "not writable" in health.text
            assert not fake_tg.messages_to(owner.id)
            fault.stop()
            await settle(bot, str(first), timeout=15)  # seconds, not minutes
            assert (await web.get("/healthz")).status_code == 200
    finally:
        fault.stop()
        await bot.stop()
    replies = fake_tg.messages_to(owner.id)
    assert len(replies) == 1 and "service desk" in replies[0]


async def test_wecom_callback_is_sent_again_when_the_database_takes_no_writes(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """A WeCom callback that cannot be stored is answered 503, not 200: WeCom re-delivers on
    anything but 200 (an empty 200 would tell it the message was taken). A staff member's
    invitation code sent while the database is read-only is not lost: WeCom's retry after it
    is writable again makes them staff once, and a late retry is a duplicate."""
    with FakeWeCom() as fake:
        bot = await start_bot(fake_tg, db_url, clock, **wecom_settings(fake))
        side = await start_wecom(bot, fake)
        fault = ReadOnly(bot.services.db.engine)
        services = bot.services
        try:
            with services.db.unit_of_work() as uow:
                code = create_invite(
                    uow.session, "engineer", "engineering", services.clock(), name="Wang Gong"
                ).code
                uow.commit()
            phone = WeComPhone(side.url, services.clock)
            xml = text_xml(
                "wanggong", f"/start {code}", 8_300_000_000_001, int(clock().timestamp())
            )
            params, body = phone.request(xml)

            fault.start()
            assert await phone.post_raw(params, body) == 503
            assert await phone.post_raw(params, body) == 503  # WeCom's retry, still read-only
            fault.leave_stale_readers()
            fault.stop()
            assert await phone.post_raw(params, body) == 200  # its last retry
            await settle(bot, "8300000000001", timeout=15)
            assert await phone.post_raw(params, body) == 200  # a late copy: a duplicate
            await settle(bot, "8300000000001", timeout=15)
            with services.db.unit_of_work() as uow:
                handled = uow.session.scalar(
                    select(func.count())
                    .select_from(ProcessedUpdate)
                    .where(ProcessedUpdate.update_id == "8300000000001")
                )
                roles = uow.session.execute(
                    select(PersonRole.role, PersonRole.department)
                    .join(Identity, Identity.person_id == PersonRole.person_id)
                    .where(Identity.channel == "wecom", Identity.external_id == "wanggong")
                ).all()
            assert handled == 1 and roles == [("engineer", "engineering")]
        finally:
            fault.stop()
            await side.stop()
            await bot.stop()
        welcomes = fake.messages_to("wanggong")
        assert len(welcomes) == 1 and "Wang Gong" in welcomes[0]["text"], welcomes


async def test_wechat_message_is_answered_503_while_the_database_takes_no_writes(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """The Official Account's webhook answers a message it could not store 503 (one log line,
    no traceback), like WeCom's callback; WeChat's retry once writes work is answered with the
    passive reply, and a later copy is a duplicate: "success", handled once."""
    with FakeWeChat() as fake:
        bot = await start_bot(fake_tg, db_url, clock, **wechat_settings(fake))
        side = await start_wechat(bot, fake)
        fault = ReadOnly(bot.services.db.engine)
        try:
            phone = WeChatPhone(side.url, bot.services.clock)
            xml = wechat_text_xml("o-follower-1", "/help", 8_400_000_000_001, phone.now())
            params, body = phone.request(xml)
            fault.start()
            assert (await phone.post_raw(params, body))[0] == 503
            fault.leave_stale_readers()
            fault.stop()
            status, reply = await phone.post_raw(params, body)
            assert status == 200 and reply, reply
            assert await phone.post_raw(params, body) == (200, None)  # a duplicate: "success"
            await settle(bot, "8400000000001", timeout=15)
            with bot.services.db.unit_of_work() as uow:
                handled = uow.session.scalar(
                    select(func.count())
                    .select_from(ProcessedUpdate)
                    .where(ProcessedUpdate.update_id == "8400000000001")
                )
            assert handled == 1
        finally:
            fault.stop()
            await side.stop()
            await bot.stop()


async def test_a_reply_sent_while_writes_are_refused_is_not_sent_again(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 14: a reply goes out just as the database turns read-only, so its "sent" mark
    cannot be written, and the window outlasts its lease. The sender keeps trying the mark
    (it knows the message went out) instead of letting the row be sent a second time; the
    outbox and the timers say so in one line per episode, without tracebacks."""
    bot = await start_bot(fake_tg, db_url, clock, scheduler_enabled=True, sweep_seconds=0.2)
    fault = ReadOnly(bot.services.db.engine)
    owner = TgUser(8302, "Owner", "en")
    fake_tg.delay("sendMessage", 1.5, chat_id=owner.id)  # the send is in flight ...
    try:
        update = fake_tg.user_text(owner, "/help")
        await _until_leased(bot.services.db, str(owner.id))
        fault.start()  # ... when the database stops taking writes
        await asyncio.sleep(2.5)  # sent; the mark and every claim and sweep are refused
        clock.advance(timedelta(seconds=30))  # long past the row's lease
        await asyncio.sleep(1.5)
        fault.stop()
        await settle(bot, str(update["update_id"]), timeout=20)
        await asyncio.sleep(1.0)  # a second copy would have gone out by now
    finally:
        fault.stop()
        await bot.stop()
    assert len(fake_tg.messages_to(owner.id)) == 1
    noisy = [
        r
        for r in caplog.records
        if r.name in ("bot.outbox", "scheduler.service", "scheduler.sweeper", "apscheduler")
        and r.levelno >= logging.ERROR
    ]
    assert len(noisy) <= 2 and not any(r.exc_info for r in noisy), [r.getMessage() for r in noisy]


async def _until_leased(db: Database, chat_id: str) -> None:
    """Wait until a sender holds the chat's reply (it is being sent)."""
    for _ in range(200):
        with db.unit_of_work() as uow:
            leased = uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.chat_id == chat_id, OutboxMessage.lease_until.is_not(None))
            )
        if leased:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the reply was never taken by a sender")
