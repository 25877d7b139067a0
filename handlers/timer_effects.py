"""Every kind of timer the desk knows and what it does."""

from __future__ import annotations

from handlers import callbacks, escalation, progress, reminders
from handlers.complaints import effects as complaints
from handlers.timed import TimerEffect

EFFECTS: dict[str, TimerEffect] = {
    **escalation.EFFECTS,
    **callbacks.EFFECTS,
    **reminders.EFFECTS,
    **progress.EFFECTS,
    **complaints.EFFECTS,
}
