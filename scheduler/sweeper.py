"""The timer sweeper: claim due timers with a lease and run a batch of them in one transaction,
each in a SAVEPOINT of its own, so one bad effect is rolled back and retried alone."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from handlers.desk import Desk
from handlers.timed import TimerEffect, kind_family, run_begun, run_timer
from store.db import Database, cannot_write
from store.models import Timer
from store.outbox import PRIORITY_KEY, REMINDER
from store.timers import begin_runs, claim_due, fail_run, record_failure

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
            for outcome in self._run_batch(ids):
                result.add(outcome)
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

    def _run_batch(self, ids: list[tuple[int, str]]) -> list[str]:
        """Run claimed timers in one transaction (one commit, not one per timer: a sweep of
        1,000 due timers took 5-7 s with a transaction each). A timer whose effect reads
        slowly first (a report) still runs alone, its reads outside the write lock."""
        alone = [(i, k) for i, k in ids if self._prepares(k)]
        together = [(i, k) for i, k in ids if not self._prepares(k)]
        outcomes = [self._run_one(timer_id, kind) for timer_id, kind in alone]
        if not together:
            return outcomes
        try:  # the usual case, nothing fails: no SAVEPOINTs, the batch's writes in one flush
            return outcomes + self._run_together(together, isolated=False)
        except Exception as exc:  # nothing of the batch stands: again, each in a SAVEPOINT
            if cannot_write(exc):  # no timer is at fault: the next sweep runs them all
                raise
            log.warning("a timer of a batch of %d failed; isolating each", len(together))
        try:
            return outcomes + self._run_together(together, isolated=True)
        except Exception as exc:  # the batch did not commit (nothing of it stands): one by one
            if cannot_write(exc):
                raise
            log.exception("a batch of %d timers failed; running them one by one", len(together))
            return outcomes + [self._run_one(timer_id, kind) for timer_id, kind in together]

    def _prepares(self, kind: str) -> bool:
        effect = self.effects.get(kind_family(kind))
        return effect is not None and effect.prepare is not None

    def _run_together(self, ids: list[tuple[int, str]], *, isolated: bool) -> list[str]:
        """One transaction for the batch; `isolated`: each effect in a SAVEPOINT, a failing one
        retried later alone; otherwise any failure raises and nothing of the batch stands."""
        failures: list[tuple[int, str]] = []
        with self.db.unit_of_work() as uow:
            session = uow.session
            session.info[PRIORITY_KEY] = REMINDER  # owners' replies go out first
            now = self.desk.now()
            # one statement marks the batch done (those another worker ran are left out)
            begun = begin_runs(session, [timer_id for timer_id, _kind in ids], now)
            outcomes = ["skipped"] * (len(ids) - len(begun))
            for timer in begun:
                timer_id = timer.id
                if not isolated:
                    outcomes.append(
                        run_begun(session, self.desk, self.effects, timer, now, flush=False)
                    )
                    continue
                try:
                    # a SAVEPOINT per timer: a failing effect takes back only its own writes,
                    # never its neighbours'
                    with session.begin_nested():
                        outcome = run_begun(session, self.desk, self.effects, timer, now)
                except Exception as exc:  # one bad timer must not stop the others; retried
                    if cannot_write(exc):
                        raise
                    log.exception("timer %s failed", timer_id)
                    failures.append((timer_id, repr(exc)))
                    outcome = "failed"
                outcomes.append(outcome)
            for timer_id, error in failures:  # backoff, in the same commit as the others
                fail_run(session, timer_id, now, error)
            uow.commit()
        return outcomes

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
            if cannot_write(exc):  # not this timer's fault, and its failure cannot be written
                raise
            log.exception("timer %s failed", timer_id)
            with self.db.unit_of_work() as uow:
                record_failure(uow.session, timer_id, self.desk.now(), repr(exc))
                uow.commit()
            return "failed"
