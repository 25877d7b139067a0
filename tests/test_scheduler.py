"""The scheduler inside the running bot: APScheduler sweeps on its own, timers due while the bot
was down fire once after a restart, two bot processes never send a timer's message twice, the
reports are planned once per period, and the progress watch (R33) escalates step by step."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from scheduler.plan import ReportTimes, plan_reports
from store import progress, timers
from store.db import Database
from store.migrate import upgrade
from store.models import Order, Timer
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import (
    MONDAY_MORNING,
    Bot,
    FakeClock,
    Owner,
    seed_examples,
    staff_member,
    start_bot,
    sweep,
)
from tests.test_jobs import submit_urgent_public_repair
from tests.test_promises import said_to

FAST = {"scheduler_enabled": True, "sweep_seconds": 0.2}


async def wait_for(check: object, timeout: float = 20.0) -> None:
    """Wait until `check()` is true (APScheduler runs on real time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_apscheduler_sweeps_by_itself_and_restart_fires_each_once(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """Stop with timers due, start a new process: each fires once, without anyone sweeping."""
    first = await start_bot(fake_tg, db_url, clock)
    seed_examples(first.services)
    try:
        alice = Owner(fake_tg, first, TgUser(5002, "Li Na", "en"))
        sup = await staff_member(
            fake_tg, first, TgUser(5401, "Sup Zhao", "en"), "supervisor", "engineering"
        )
        numbers = [await submit_urgent_public_repair(alice)]
    finally:
        await first.stop()
    clock.advance(timedelta(minutes=45))  # down while re-announce, alert and R3 fell due
    second = await start_bot(fake_tg, db_url, clock, **FAST)
    try:
        await wait_for(lambda: all(said_to(fake_tg, sup.chat_id, "Urgent", n) for n in numbers))
        await asyncio.sleep(1.0)  # a few more sweeps: nothing more may come
    finally:
        await second.stop()
    for number in numbers:
        assert len(said_to(fake_tg, sup.chat_id, "Nobody has taken", number)) == 1
        assert len(said_to(fake_tg, sup.chat_id, "Urgent", number)) == 1
    third = await start_bot(fake_tg, db_url, clock, **FAST)
    try:
        await asyncio.sleep(1.0)
    finally:
        await third.stop()
    assert len(said_to(fake_tg, sup.chat_id, "Urgent")) == 1


async def test_two_bot_processes_never_send_a_timer_twice(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """Two processes with their own schedulers sweep one table: 60 alerts, each sent once."""
    setup = await start_bot(fake_tg, db_url, clock)
    seed_examples(setup.services)
    try:
        sup = await staff_member(
            fake_tg, setup, TgUser(5402, "Sup Zhao", "en"), "supervisor", "engineering"
        )
        alice = Owner(fake_tg, setup, TgUser(5002, "Li Na", "en"))
        number = await submit_urgent_public_repair(alice)
        with setup.services.db.unit_of_work() as uow:
            order_id = uow.session.scalar(select(Order.id).where(Order.number == number))
            assert order_id is not None
            for _ in range(60):  # many R3 timers for one open urgent order, all due
                timers.schedule(uow.session, "urgent_arrival", order_id, clock())
            uow.commit()
    finally:
        await setup.stop()
    clock.advance(timedelta(minutes=1))
    bots = [await start_bot(fake_tg, db_url, clock, **FAST) for _ in range(2)]
    try:
        await wait_for(lambda: len(said_to(fake_tg, sup.chat_id, "Urgent", number)) >= 60)
        await asyncio.sleep(1.0)
    finally:
        for bot in bots:
            await bot.stop()
    assert len(said_to(fake_tg, sup.chat_id, "Urgent", number)) == 60
    with Database(db_url, clock).unit_of_work() as uow:
        done = uow.session.scalars(select(Timer).where(Timer.kind == "urgent_arrival")).all()
        ran = [t for t in done if t.status == "done"]
        assert len(ran) == 60 and all(t.attempts == 1 for t in ran)
        assert [t.status for t in done if t not in ran] == ["pending"]  # the order's own R3


def test_reports_are_planned_once_per_period(db_url: str) -> None:
    """The 08:30 digest for yesterday and the monthly report on the 1st, however often asked."""
    upgrade(db_url)
    db = Database(db_url, FakeClock(MONDAY_MORNING))
    times = ReportTimes(ZoneInfo("Asia/Shanghai"))
    early = datetime(2026, 12, 1, 0, 29, tzinfo=UTC)  # 08:29 on 1 Dec in Shanghai
    with db.unit_of_work() as uow:
        assert plan_reports(uow.session, early, times) == []
        uow.commit()
    at = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00
    for _ in range(3):  # cron, a restart's catch-up, a second worker
        with db.unit_of_work() as uow:
            added = plan_reports(uow.session, at, times)
            uow.commit()
        assert added in (["daily_digest:2026-11-30", "monthly_report:2026-11"], [])
    with db.unit_of_work() as uow:
        keys = sorted(k for k in uow.session.scalars(select(Timer.once_key)) if k)
        assert keys == ["daily_digest:2026-11-30", "monthly_report:2026-11"]
        subjects = sorted(uow.session.scalars(select(Timer.subject_id)))
        assert subjects == [202611, 20261130]
    db.dispose()


async def test_progress_watch_escalates_step_by_step(
    fake_tg: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    """R33: every 4 h without progress goes one step up; a report starts the clock again."""
    sup = await staff_member(fake_tg, bot, TgUser(5403, "Sup Zhao", "en"), "supervisor")
    mgr = await staff_member(fake_tg, bot, TgUser(5404, "Manager Qian", "en"), "manager")
    db = bot.services.db
    with db.unit_of_work() as uow:
        progress.watch(
            uow.session,
            "complaint",
            42,
            "complaint C-0042",
            clock(),
            timedelta(hours=4),
            [["supervisor"], ["manager"]],
        )
        uow.commit()
    clock.advance(timedelta(hours=3, minutes=59))
    assert await sweep(bot) == {}
    clock.advance(timedelta(minutes=1))
    await sweep(bot)
    assert len(said_to(fake_tg, sup.chat_id, "No progress", "C-0042")) == 1
    assert not said_to(fake_tg, mgr.chat_id, "C-0042")
    with db.unit_of_work() as uow:
        assert progress.reported(uow.session, "complaint", 42, clock())
        uow.commit()
    clock.advance(timedelta(hours=4))
    await sweep(bot)
    assert len(said_to(fake_tg, sup.chat_id, "No progress", "C-0042")) == 2  # back at step 1
    assert not said_to(fake_tg, mgr.chat_id, "C-0042")
    clock.advance(timedelta(hours=4))
    await sweep(bot)
    assert len(said_to(fake_tg, mgr.chat_id, "No progress", "C-0042", "8 hours")) == 1
    with db.unit_of_work() as uow:
        assert progress.stop(uow.session, "complaint", 42, clock()) == 1
        uow.commit()
    clock.advance(timedelta(days=2))
    assert await sweep(bot) == {}


async def test_reports_follow_the_desk_clock_not_the_wall_clock(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """The running scheduler plans the digest when the desk's clock passes 08:30, whatever the
    machine's clock says (issue 9): a day later by the desk, Monday's digest reaches the manager
    once, with nobody planning by hand (R52)."""
    bot = await start_bot(fake_tg, db_url, clock, **FAST)
    seed_examples(bot.services)
    try:
        mgr = await staff_member(fake_tg, bot, TgUser(5405, "Manager Qian", "en"), "manager")
        await asyncio.sleep(0.5)  # a few sweeps: Sunday's digest went out before she joined
        assert not said_to(fake_tg, mgr.chat_id, "2026-11-23")
        clock.advance(timedelta(days=1))  # Tuesday 09:30 by the desk
        await wait_for(lambda: said_to(fake_tg, mgr.chat_id, "2026-11-23"))
        await asyncio.sleep(1.0)  # several more sweeps
    finally:
        await bot.stop()
    assert len(said_to(fake_tg, mgr.chat_id, "📊 Daily digest for 2026-11-23")) == 1


async def test_stop_waits_for_the_catch_up_sweep_in_flight(
    fake_tg: FakeTelegram,
    db_url: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A SIGTERM just after start-up, while the catch-up sweep plans the reports: the stop
    waits for it to finish its transaction and sweep, instead of leaving it to be cancelled
    half-way at exit (APScheduler logged that as an ERROR with a CancelledError traceback)."""
    from scheduler import service

    steps: list[str] = []

    def slow_plan(*args: Any, **kwargs: Any) -> list[str]:
        steps.append("planning")
        time.sleep(0.5)  # the sweep's thread is busy when the stop comes
        added = plan_reports(*args, **kwargs)
        steps.append("planned")
        return added

    monkeypatch.setattr(service, "plan_reports", slow_plan)
    bot = await start_bot(fake_tg, db_url, clock, **FAST)
    try:
        await wait_for(lambda: steps)
    finally:
        await bot.stop()
    assert steps[:2] == ["planning", "planned"]
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
