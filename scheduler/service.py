"""APScheduler wiring: one interval job sweeps due timers; two cron jobs plan the reports.
APScheduler's own job store holds only these three fixed jobs, never per-order state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from handlers.desk import Desk
from handlers.timed import TimerEffect
from scheduler.plan import ReportTimes, plan_reports
from scheduler.sweeper import SweepResult, TimerSweeper
from store.db import Database, RefusedWrites

log = logging.getLogger(__name__)


class DeskScheduler:
    """The time-based half of the desk inside a running bot process."""

    def __init__(
        self,
        db: Database,
        desk: Desk,
        effects: Mapping[str, TimerEffect],
        times: ReportTimes,
        sweep_seconds: float,
        on_work: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        self.desk = desk
        self.times = times
        self.sweep_seconds = sweep_seconds
        self.sweeper = TimerSweeper(db, desk, effects)
        self.on_work = on_work  # e.g. wake the outbox sender
        self._apscheduler: AsyncIOScheduler | None = None
        self._busy = asyncio.Lock()
        self._running: set[asyncio.Task[None]] = set()  # scheduled sweeps in flight
        self._refused = RefusedWrites(log, "timers")

    def start(self) -> None:
        """Start sweeping at once and then every `sweep_seconds`; plan reports on schedule."""
        scheduler = AsyncIOScheduler(timezone=self.times.timezone)
        scheduler.add_job(
            self._scheduled_sweep, "date", id="catch-up", misfire_grace_time=None
        )  # reports and timers that fell due while the bot was down
        # each sweep also plans the reports, so they follow the desk's clock: the cron jobs
        # below only wake the desk on the dot when that clock is the wall clock
        scheduler.add_job(
            self._scheduled_sweep,
            IntervalTrigger(seconds=self.sweep_seconds),
            id="sweep",
            max_instances=1,
            coalesce=True,
        )
        digest = self.times.digest_at
        scheduler.add_job(
            self._scheduled_sweep,
            CronTrigger(hour=digest.hour, minute=digest.minute, timezone=self.times.timezone),
            id="daily-digest",
            coalesce=True,
            max_instances=1,
        )
        monthly = self.times.monthly_at
        scheduler.add_job(
            self._scheduled_sweep,
            CronTrigger(
                day=self.times.monthly_day,
                hour=monthly.hour,
                minute=monthly.minute,
                timezone=self.times.timezone,
            ),
            id="monthly-report",
            coalesce=True,
            max_instances=1,
        )
        scheduler.start()
        self._apscheduler = scheduler

    async def sweep_now(self) -> SweepResult:
        """Run every due timer now (one sweep at a time in this process)."""
        async with self._busy:
            result = await asyncio.to_thread(self.sweeper.sweep)
        if result.counts:
            log.info("timers: %s", result.counts)
        if result.ran:
            self.on_work()
        return result

    async def _scheduled_sweep(self) -> None:
        """A sweep APScheduler runs; while the database refuses writes it tries again at the
        next one and says so once (APScheduler would log a traceback every second)."""
        # a stop waits for it (below) rather than leaving it to be cancelled half-way at exit,
        # which APScheduler logged as an ERROR with a CancelledError traceback
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await self.plan_and_sweep()
        except Exception as exc:
            if not self._refused.caught(exc):
                raise
            return
        finally:
            self._running.discard(task)
        self._refused.worked()

    async def plan_and_sweep(self) -> SweepResult:
        """Schedule the reports whose time has come, then sweep."""
        await asyncio.to_thread(self._plan)
        return await self.sweep_now()

    def _plan(self) -> None:
        with self.db.unit_of_work() as uow:
            added = plan_reports(uow.session, self.desk.now(), self.times)
            uow.commit()
        if added:
            log.info("reports planned: %s", ", ".join(added))

    async def stop(self) -> None:
        """Stop the jobs and wait for a sweep in flight to finish its transaction."""
        if self._apscheduler is not None:
            self._apscheduler.pause()  # no new runs; its shutdown would cancel the one in flight
            if self._running:
                await asyncio.wait(set(self._running))
            self._apscheduler.shutdown(wait=False)
            self._apscheduler = None
        async with self._busy:
            pass
