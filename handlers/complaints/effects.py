"""What the complaint timers do (R32, R33, R25): unclassified complaints reach supervisors,
the handler is reminded before a progress update is due, a liaison form's reply date passes,
and an unanswered resolution is taken as accepted after 72 hours."""

from __future__ import annotations

from handlers.complaints.common import complaint_button, status_label, subject_label
from handlers.complaints.owner import start_callback
from handlers.complaints.staff import bosses, handler_buttons
from handlers.i18n import Translate
from handlers.messages import Button
from handlers.notify import queue_for_people, queue_for_person
from handlers.timed import Due, TimerEffect
from store.complaints import records
from store.complaints.models import Complaint
from store.models import Person
from store.staff import people_with_role


def _complaint(due: Due) -> Complaint | None:
    return records.for_update(due.session, due.timer.subject_id)


def unclassified(due: Due) -> None:
    """Still not classified after 30 business minutes: supervisors are told."""
    complaint = _complaint(due)
    if complaint is None or complaint.status not in ("new", "taken"):
        return
    minutes = int((due.now - complaint.created_at).total_seconds() // 60)
    holder = complaint.agent

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        who = holder.name if holder is not None else _("nobody has taken it")
        text = _(
            "⏰ Complaint {number} ({subject}) is not classified {minutes} minutes after it "
            "came in. Holder: {who}."
        ).format(
            number=complaint.number,
            subject=subject_label(_, complaint.subject),
            minutes=minutes,
            who=who,
        )
        buttons = (
            [] if holder is not None else [[complaint_button(_("🙋 Take"), complaint, "take")]]
        )
        return text, buttons

    people = people_with_role(due.session, "supervisor") or people_with_role(due.session, "manager")
    queue_for_people(due.session, people, compose)


def progress_reminder(due: Due) -> None:
    """R33: the handler is reminded half an hour before the next update is due."""
    complaint = _complaint(due)
    if complaint is None or complaint.status != "in_progress":
        return
    handler = due.session.get(Person, records.handler_id(complaint) or 0)
    if handler is None:
        return

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _("⏰ A progress update on {number} is due within 30 minutes.").format(
            number=complaint.number
        )
        return text, handler_buttons(_, complaint)

    queue_for_person(due.session, handler, compose)


def liaison_due(due: Due) -> None:
    """The developer's reply date passed without a reply: the agent and supervisors hear."""
    complaint = _complaint(due)
    if complaint is None or complaint.status == "closed":
        return
    form = next((f for f in complaint.liaisons if f.id == due.timer.data.get("form")), None)
    if form is None or form.status != "awaiting":
        return
    day = due.desk.local(form.reply_due).strftime("%Y-%m-%d")

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _(
            "📨 The liaison form for {number} to {to} was to be answered by {day}; no reply is "
            "recorded yet."
        ).format(number=complaint.number, to=form.addressed_to, day=day)
        return text, []

    people = {p.id: p for p in people_with_role(due.session, "supervisor")}
    if complaint.agent is not None:
        people[complaint.agent.id] = complaint.agent
    queue_for_people(due.session, people.values(), compose)


def deadline_passed(due: Due) -> None:
    """R33: an escalated complaint still open at its deadline: managers and handler hear."""
    complaint = _complaint(due)
    if complaint is None or complaint.status == "closed":
        return
    day = str(due.timer.data.get("deadline", ""))[:10]
    people = {p.id: p for p in people_with_role(due.session, "manager")}
    handler = due.session.get(Person, records.handler_id(complaint) or 0)
    if handler is not None:
        people[handler.id] = handler

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _("⏰ {number} passed its deadline {day} and is still open ({status}).").format(
            number=complaint.number, day=day, status=status_label(_, complaint)
        )
        return text, [[complaint_button(_("🔎 Open"), complaint, "view")]]

    queue_for_people(due.session, people.values(), compose)


def auto_close(due: Due) -> None:
    """No answer within 72 hours: taken as resolved, the owner told, the callback planned."""
    complaint = _complaint(due)
    if complaint is None or not records.auto_close(due.session, complaint, due.now):
        return
    queue_for_person(
        due.session,
        complaint.owner,
        lambda _: (
            _(
                "We did not hear from you, so {number} is now recorded as resolved. If "
                "something is still wrong, just start a new complaint."
            ).format(number=complaint.number),
            [],
        ),
    )
    start_callback(due.session, complaint)


__all__ = ["EFFECTS", "bosses"]

EFFECTS: dict[str, TimerEffect] = {
    records.UNCLASSIFIED: TimerEffect(unclassified),
    records.PROGRESS_REMINDER: TimerEffect(progress_reminder),
    records.LIAISON_DUE: TimerEffect(liaison_due),
    records.AUTO_CLOSE: TimerEffect(auto_close, owner_facing=True),
    records.DEADLINE: TimerEffect(deadline_passed),
}
