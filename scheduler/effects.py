"""Every timer effect of the desk: the handlers' promises plus the scheduled reports."""

from __future__ import annotations

from handlers.timed import TimerEffect
from handlers.timer_effects import EFFECTS as HANDLER_EFFECTS
from scheduler import report_jobs

EFFECTS: dict[str, TimerEffect] = {**HANDLER_EFFECTS, **report_jobs.EFFECTS}
