"""The timer engine: each due timer runs once, at the right time, after restarts and crashes,
with any number of workers sweeping the same table."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from handlers.desk import Desk
from handlers.timed import Due, TimerEffect
from scheduler.sweeper import TimerSweeper
from store import timers
from store.db import Database
from store.migrate import upgrade
from store.models import OutboxMessage, Timer

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


class Clock:
    """A clock that moves only when told."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _record(due: Due) -> None:
    """The test effect: one outbox row per run, so duplicates would show."""
    due.session.add(
        OutboxMessage(
            channel="test", chat_id=str(due.timer.subject_id), payload={"kind": due.timer.kind}
        )
    )


def _explode(due: Due) -> None:
    raise RuntimeError("boom")


def _write_then_explode(due: Due) -> None:
    """Writes its outbox row, then fails: the row must not stay."""
    _record(due)
    due.session.flush()
    raise RuntimeError("half done")


EFFECTS = {
    "ping": TimerEffect(_record),
    "owner_ping": TimerEffect(_record, owner_facing=True),
    "boom": TimerEffect(_explode),
    "half": TimerEffect(_write_then_explode),
}


def _setup(db_url: str, now: datetime = T0) -> tuple[Database, Clock, TimerSweeper]:
    upgrade(db_url)
    clock = Clock(now)
    db = Database(db_url, clock)
    return db, clock, TimerSweeper(db, Desk(clock=clock), EFFECTS, batch=10)


def _runs(db: Database) -> list[str]:
    with db.unit_of_work() as uow:
        return [m.chat_id for m in uow.session.scalars(select(OutboxMessage).order_by("id"))]


def _add(db: Database, kind: str, subject: int, due: datetime) -> int:
    with db.unit_of_work() as uow:
        timer = timers.schedule(uow.session, kind, subject, due)
        uow.commit()
        return timer.id


def test_fires_once_at_its_time(db_url: str) -> None:
    """Nothing early, exactly once when due, never again."""
    db, clock, sweeper = _setup(db_url)
    _add(db, "ping", 1, T0 + timedelta(minutes=10))
    assert sweeper.sweep().ran == 0
    clock.now = T0 + timedelta(minutes=9, seconds=59)
    assert sweeper.sweep().ran == 0
    clock.now = T0 + timedelta(minutes=10)
    assert sweeper.sweep().ran == 1
    clock.now += timedelta(hours=1)
    assert sweeper.sweep().ran == 0
    assert _runs(db) == ["1"]
    db.dispose()


def test_cancelled_in_the_same_transaction_never_fires(db_url: str) -> None:
    """Cancelling with the change that makes a timer pointless; a rollback cancels nothing."""
    db, clock, sweeper = _setup(db_url)
    _add(db, "ping", 1, T0 + timedelta(minutes=5))
    _add(db, "ping", 2, T0 + timedelta(minutes=5))
    with db.unit_of_work() as uow:
        assert timers.cancel(uow.session, 2, ["ping"], T0) == 1
        uow.rollback()  # the causing change failed: the timer stays
    with db.unit_of_work() as uow:
        assert timers.cancel(uow.session, 1, ["ping"], T0) == 1
        uow.commit()
    clock.now = T0 + timedelta(minutes=6)
    assert sweeper.sweep().ran == 1
    assert _runs(db) == ["2"]
    db.dispose()


def test_timers_due_while_down_run_after_restart(db_url: str) -> None:
    """A new process (new Database, new sweeper) runs what fell due meanwhile, once each."""
    db, _clock, _sweeper = _setup(db_url)
    for subject in range(1, 26):
        _add(db, "ping", subject, T0 + timedelta(minutes=subject))
    db.dispose()
    db2, clock2, sweeper2 = _setup(db_url, T0 + timedelta(days=1))
    result = sweeper2.sweep()  # 25 due, batch of 10: three batches in one sweep
    assert result.ran == 25
    assert sorted(_runs(db2), key=int) == [str(i) for i in range(1, 26)]
    assert sweeper2.sweep().ran == 0
    clock2.now += timedelta(days=1)
    assert sweeper2.sweep().ran == 0
    db2.dispose()


def test_a_crashed_workers_lease_expires_and_the_timer_runs_once(db_url: str) -> None:
    """Claimed by a worker that died before running it: another runs it after the lease."""
    db, clock, sweeper = _setup(db_url)
    _add(db, "ping", 7, T0)
    with db.unit_of_work() as uow:  # the dead worker's claim
        assert len(timers.claim_due(uow.session, T0, 10)) == 1
        uow.commit()
    assert sweeper.sweep().ran == 0  # leased: skipped meanwhile
    clock.now = T0 + timers.LEASE + timedelta(seconds=1)
    assert sweeper.sweep().ran == 1
    assert _runs(db) == ["7"]
    db.dispose()


def test_a_failing_effect_rolls_back_and_retries_with_backoff(db_url: str) -> None:
    """An effect that raises leaves no trace, is retried later and finally marked failed."""
    db, clock, sweeper = _setup(db_url)
    timer_id = _add(db, "boom", 1, T0)
    assert sweeper.sweep().counts == {"failed": 1}
    assert sweeper.sweep().counts == {}  # backing off
    for _ in range(timers.MAX_ATTEMPTS):
        clock.now += timedelta(hours=3)
        sweeper.sweep()
    with db.unit_of_work() as uow:
        timer = uow.session.get(Timer, timer_id)
        assert timer is not None
        assert timer.status == "failed" and "boom" in (timer.last_error or "")
    assert _runs(db) == []
    db.dispose()


def test_one_bad_timer_in_a_batch_fails_alone(db_url: str) -> None:
    """A batch runs in one transaction with a SAVEPOINT per timer: a failing effect's own
    writes are taken back and it is retried with backoff, while its neighbours in the same
    batch run exactly once and stay done."""
    db, clock, sweeper = _setup(db_url)
    good = [_add(db, "ping", subject, T0) for subject in (1, 2)]
    half = _add(db, "half", 3, T0)
    good.append(_add(db, "ping", 4, T0))
    boom = _add(db, "boom", 5, T0)
    assert sweeper.sweep().counts == {"ran": 3, "failed": 2}
    assert _runs(db) == ["1", "2", "4"]  # nothing of the half-done effect
    with db.unit_of_work() as uow:
        for timer_id in good:
            timer = uow.session.get(Timer, timer_id)
            assert timer is not None and timer.status == "done" and timer.attempts == 1
        for timer_id, error in ((half, "half done"), (boom, "boom")):
            timer = uow.session.get(Timer, timer_id)
            assert timer is not None and timer.status == "pending"
            assert timer.attempts == 1 and error in (timer.last_error or "")
            assert timer.lease_until is None
            assert timer.due_at == T0 + timedelta(seconds=30)  # the first backoff
    assert sweeper.sweep().counts == {}  # backing off; the good ones never run again
    clock.now += timedelta(minutes=1)
    assert sweeper.sweep().counts == {"failed": 2}
    assert _runs(db) == ["1", "2", "4"]
    db.dispose()


def test_owner_facing_timer_waits_out_the_quiet_hours(db_url: str) -> None:
    """Due at 22:30 local: it runs at 08:00 the next morning, not at night."""
    night = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    db, clock, sweeper = _setup(db_url, night)
    _add(db, "owner_ping", 1, night)
    _add(db, "ping", 2, night)  # staff-facing: runs now
    assert sweeper.sweep().counts == {"deferred": 1, "ran": 1}
    clock.now = datetime(2026, 11, 23, 23, 59, tzinfo=UTC)  # 07:59
    assert sweeper.sweep().ran == 0
    clock.now = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00
    assert sweeper.sweep().ran == 1
    assert _runs(db) == ["2", "1"]
    db.dispose()


def test_once_key_makes_one_timer_however_often_asked(db_url: str) -> None:
    """Two workers planning the same report: one timer."""
    db, _clock, _sweeper = _setup(db_url)
    with db.unit_of_work() as uow:
        assert timers.schedule_once(uow.session, "ping", 1, T0, "digest:2026-11-22")
        assert not timers.schedule_once(uow.session, "ping", 1, T0, "digest:2026-11-22")
        uow.commit()
    with db.unit_of_work() as uow:
        assert not timers.schedule_once(uow.session, "ping", 1, T0, "digest:2026-11-22")
        assert uow.session.scalar(select(func.count()).select_from(Timer)) == 1
    db.dispose()


def test_unknown_kind_is_marked_failed_not_retried_forever(db_url: str) -> None:
    """A timer from a newer release (unknown kind) is set aside with a reason."""
    db, _clock, sweeper = _setup(db_url)
    timer_id = _add(db, "from_the_future", 1, T0)
    assert sweeper.sweep().counts == {"unknown": 1}
    with db.unit_of_work() as uow:
        timer = uow.session.get(Timer, timer_id)
        assert timer is not None and timer.status == "failed"
    db.dispose()


def test_many_workers_never_run_a_timer_twice(db_url: str) -> None:
    """Four sweepers on their own connections race over 300 due timers: each runs once."""
    db, _clock, _sweeper = _setup(db_url)
    with db.unit_of_work() as uow:
        for subject in range(300):
            timers.schedule(uow.session, "ping", subject, T0)
        uow.commit()
    counts: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work() -> None:
        worker_db = Database(db_url, lambda: T0)
        try:
            sweeper = TimerSweeper(worker_db, Desk(clock=lambda: T0), EFFECTS, batch=20)
            start.wait()
            counts.append(sweeper.sweep().ran)
        except BaseException as exc:
            errors.append(exc)
        finally:
            worker_db.dispose()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(counts) == 300
    runs = _runs(db)
    assert len(runs) == 300 and len(set(runs)) == 300
    db.dispose()


def test_timers_command_shows_pending_and_failed(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`propdesk timers`: counts by kind with the next due time, and what was given up on."""
    db, _clock, sweeper = _setup(db_url)
    _add(db, "ping", 1, T0 + timedelta(hours=1))
    _add(db, "ping", 2, T0 + timedelta(hours=2))
    _add(db, "from_the_future", 3, T0)
    sweeper.sweep()
    db.dispose()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROPDESK_DATABASE_URL", db_url)
    assert main(["timers"]) == 0
    out = capsys.readouterr().out
    assert "pending  ping" in out and "2  next 2026-11-23 11:00" in out
    assert "failed #3 from_the_future subject 3: no effect for kind" in out
