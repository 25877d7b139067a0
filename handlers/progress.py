"""The progress alarm (R33): staff are told when an open case has gone quiet too long."""

from __future__ import annotations

from handlers.i18n import Translate
from handlers.messages import Button
from handlers.notify import queue_for_people
from handlers.timed import Due, TimerEffect
from store import progress
from store.staff import people_with_role


def progress_overdue(due: Due) -> None:
    """Alert this escalation step's roles and schedule the next step."""
    timer = due.timer
    roles = progress.escalate(due.session, timer.kind, timer.subject_id, timer.data, due.now)
    if not roles:
        return
    hours = float(timer.data.get("every_s", 0)) / 3600
    step = int(timer.data.get("step", 0)) + 1
    title = str(timer.data.get("title", ""))

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _(
            "⏰ No progress reported on {title} for {hours:g} hours (escalation step {step})."
        ).format(title=title, hours=hours * step, step=step)
        return text, []

    queue_for_people(due.session, people_with_role(due.session, *roles), compose)


EFFECTS: dict[str, TimerEffect] = {progress.FAMILY: TimerEffect(progress_overdue)}
