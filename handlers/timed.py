"""Running one due timer: the effect of its kind, in the transaction that marks it done."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from handlers.desk import Desk
from store.models import Timer
from store.timers import begin_run, defer


@dataclass(frozen=True)
class Due:
    """A timer that fell due, with what its effect needs."""

    session: Session
    desk: Desk
    timer: Timer
    now: datetime
    prepared: Any = None  # what `TimerEffect.prepare` made before the write transaction


Prepare = Callable[[Session, Desk, Timer, datetime], Any]


@dataclass(frozen=True)
class TimerEffect:
    """What a kind of timer does; owner-facing ones wait out the quiet hours. Slow work
    (a report) goes in `prepare`, which reads a snapshot outside the write transaction."""

    run: Callable[[Due], None]
    owner_facing: bool = False
    prepare: Prepare | None = None


def kind_family(kind: str) -> str:
    """Timers like "progress:complaint" share the effect of their family ("progress")."""
    return kind.split(":", 1)[0]


def run_timer(
    session: Session,
    desk: Desk,
    effects: Mapping[str, TimerEffect],
    timer_id: int,
    now: datetime,
    prepared: Any = None,
) -> str:
    """Run a due timer once: "ran", "deferred" (quiet hours), "skipped" (already run or
    cancelled) or "unknown" (no effect for its kind; marked failed)."""
    timer = begin_run(session, timer_id, now)
    if timer is None:
        return "skipped"
    return run_begun(session, desk, effects, timer, now, prepared)


def run_begun(
    session: Session,
    desk: Desk,
    effects: Mapping[str, TimerEffect],
    timer: Timer,
    now: datetime,
    prepared: Any = None,
    *,
    flush: bool = True,
) -> str:
    """The effect of a timer already marked done in this transaction (`begin_run(s)`): "ran",
    "deferred" or "unknown", as `run_timer`. Without `flush`, its writes go with the next
    flush (a batch's: one multi-row insert instead of one per timer)."""
    effect = effects.get(kind_family(timer.kind))
    if effect is None:
        timer.status, timer.last_error = "failed", f"no effect for kind {timer.kind!r}"
        return "unknown"
    if effect.owner_facing and desk.timers.is_quiet(now):
        defer(session, timer, desk.timers.owner_time(now))
        return "deferred"
    effect.run(Due(session, desk, timer, now, prepared))
    if flush:
        session.flush()
    return "ran"
