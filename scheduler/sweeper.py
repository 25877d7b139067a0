"""The timer sweeper: claim due timers with a lease and run each in its own transaction."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from handlers.desk import Desk
from handlers.timed import TimerEffect, kind_family, run_timer
from store.db import Database
from store.models import Timer
from store.outbox import PRIORITY_KEY, REMINDER
from store.timers import claim_due, record_failure

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    """What one sweep did, by outcome ("ran", "deferred", "skipped", "failed", ...)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        """Count one timer's outcome."""
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    @property
    def ran(self) -> int:
        """Timers whose effect ran."""
        return self.counts.get("ran", 0)


class TimerSweeper:
    """Runs every due timer exactly once, however many workers sweep the same table."""

    def __init__(
        self,
        db: Database,
        desk: Desk,
        effects: Mapping[str, TimerEffect],
        batch: int = 100,
        max_batches: int = 50,
    ) -> None:
        self.db = db
        self.desk = desk
        self.effects = effects
        self.batch = batch
        self.max_batches = max_batches

    def sweep(self) -> SweepResult:
        """Run what is due, a batch at a time, until nothing due is left (or the cap)."""
        result = SweepResult()
        for _ in range(self.max_batches):
            now = self.desk.now()
            with self.db.unit_of_work() as uow:
                ids = claim_due(uow.session, now, self.batch)
                uow.commit()
            for timer_id, kind in ids:
                result.add(self._run_one(timer_id, kind))
            if not ids:  # effects may add timers due at once (a notice after an auto-accept)
                break
        return result

    def _prepare(self, timer_id: int, kind: str) -> object:
        """Slow reads of an effect (reports), done on a snapshot without the write lock."""
        effect = self.effects.get(kind_family(kind))
        if effect is None or effect.prepare is None:
            return None
        with self.db.read_only() as session:
            timer = session.get(Timer, timer_id)
            if timer is None or timer.status != "pending":
                return None
            return effect.prepare(session, self.desk, timer, self.desk.now())

    def _run_one(self, timer_id: int, kind: str) -> str:
        try:
            prepared = self._prepare(timer_id, kind)
            with self.db.unit_of_work() as uow:
                uow.session.info[PRIORITY_KEY] = REMINDER  # owners' replies go out first
                now = self.desk.now()
                outcome = run_timer(uow.session, self.desk, self.effects, timer_id, now, prepared)
                uow.commit()
                return outcome
        except Exception as exc:  # one bad timer must not stop the others; it is retried
            log.exception("timer %s failed", timer_id)
            with self.db.unit_of_work() as uow:
                record_failure(uow.session, timer_id, self.desk.now(), repr(exc))
                uow.commit()
            return "failed"
