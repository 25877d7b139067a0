"""What the order timers do when they fall due (R3, R6, R9): re-announce waiting jobs, alert
supervisors, remind engineers and owners of visits, chase and finally record the sign-off."""

from __future__ import annotations

from datetime import datetime

from handlers.i18n import Translate
from handlers.jobs import engineer_buttons, order_button, queue_job_card
from handlers.labels import category_label, window_label
from handlers.messages import Button
from handlers.notify import queue_for_people, queue_for_person
from handlers.owner_text import one_line
from handlers.signoff import done_buttons
from handlers.timed import Due, TimerEffect
from store import promises
from store.board import NOT_ON_SITE
from store.jobs import act
from store.models import Order, Person
from store.order_states import OrderAction, OrderStatus
from store.quotes import supervisors_of
from store.staff import people_with_role
from store.timers import schedule

ACCEPTED_NOTICE = "done_accepted_notice"


def _order(due: Due) -> Order | None:
    return due.session.get(Order, due.timer.subject_id)


def _minutes(since: datetime, now: datetime) -> int:
    return max(0, int((now - since).total_seconds() // 60))


def _room(order: Order) -> str:
    return order.unit.code if order.unit is not None else "-"


def _bosses(due: Due, order: Order, *, managers: bool) -> list[Person]:
    """The department's supervisors (and managers when asked, or when there is no supervisor)."""
    people = {p.id: p for p in supervisors_of(due.session, order.department)}
    if managers or not people:
        people.update({p.id: p for p in people_with_role(due.session, "manager")})
    return list(people.values())


def reannounce(due: Due) -> None:
    """A job still unclaimed a while after its card reached the group is posted again there."""
    order = _order(due)
    if order is not None and order.status == OrderStatus.SUBMITTED:
        later = promises.reannounce_at(due.session, order, due.now)
        if later is not None:  # its card reached the group late, or not yet: count from then
            schedule(due.session, promises.REANNOUNCE, order.id, later)
            return
        queue_job_card(due.session, due.desk, order, again=True)


def unclaimed_alert(due: Due) -> None:
    """Nobody took a job for too long: the supervisor is told and can assign it (R6)."""
    order = _order(due)
    if order is None or order.status != OrderStatus.SUBMITTED:
        return
    waited = _minutes(order.created_at, due.now)

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _(
            "⏰ Nobody has taken {number} ({category}, room {room}) for {minutes} minutes."
        ).format(
            number=order.number,
            category=category_label(_, order.category),
            room=_room(order),
            minutes=waited,
        )
        return text, [[order_button(_("👤 Assign"), order, "assign")]]

    queue_for_people(due.session, _bosses(due, order, managers=False), compose)


def urgent_not_on_site(due: Due) -> None:
    """An urgent repair is not on site 30 minutes after it was reported (R3)."""
    order = _order(due)
    if order is None or not order.urgent or order.status not in NOT_ON_SITE:
        return
    holder = order.assignee

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        who = one_line(holder.name) if holder is not None else _("nobody has taken it")
        text = _(
            "🚨 Urgent {number} (room {room}) is not on site {minutes} minutes after it was "
            "reported. Holder: {who}."
        ).format(
            number=order.number,
            room=_room(order),
            minutes=_minutes(order.created_at, due.now),
            who=who,
        )
        buttons = [] if holder is not None else [[order_button(_("👤 Assign"), order, "assign")]]
        return text, buttons

    queue_for_people(due.session, _bosses(due, order, managers=True), compose)


def remind_engineer(due: Due) -> None:
    """The holder of a booked visit is reminded shortly before it starts."""
    order = _order(due)
    engineer = order.assignee if order is not None else None
    if order is None or engineer is None or order.status not in NOT_ON_SITE:
        return
    if order.visit_start is None or order.visit_end is None:
        return
    start, end = due.desk.local(order.visit_start), due.desk.local(order.visit_end)
    when = window_label(engineer.language, start, end)

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _("⏰ Reminder: your visit for {number} (room {room}) is {when}.").format(
            number=order.number, room=_room(order), when=when
        )
        return text, engineer_buttons(_, order)

    queue_for_person(due.session, engineer, compose)


def remind_owner(due: Due) -> None:
    """The owner is reminded the evening before a booked visit."""
    order = _order(due)
    if order is None or order.status not in NOT_ON_SITE or order.visit_start is None:
        return
    if order.visit_end is None:
        return
    start, end = due.desk.local(order.visit_start), due.desk.local(order.visit_end)
    when = window_label(order.owner.language, start, end)

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _(
            "Reminder: we come for {number} {when}. If that no longer suits you, please reply here."
        ).format(number=order.number, when=when)
        return text, []

    queue_for_person(due.session, order.owner, compose)


def remind_sign_off(due: Due) -> None:
    """Finished work still waiting for the owner's check (R9)."""
    order = _order(due)
    if order is None or order.status != OrderStatus.DONE:
        return

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _(
            "Could you check the work on {number}? Please press Accept if it is fixed, or "
            "Not fixed and we will come back."
        ).format(number=order.number)
        return text, done_buttons(_, order)

    queue_for_person(due.session, order.owner, compose)


def auto_accept(due: Due) -> None:
    """No answer after the last reminder: the work counts as accepted, recorded as such."""
    order = _order(due)
    if order is None or order.status != OrderStatus.DONE:
        return
    act(
        due.session,
        order,
        OrderAction.ACCEPT,
        None,
        due.now,
        order.version,
        note="auto-accepted: no answer from the owner",
    )
    schedule(due.session, ACCEPTED_NOTICE, order.id, due.now)


def tell_auto_accepted(due: Due) -> None:
    """Tell the owner the work was recorded as accepted (waits for the morning)."""
    order = _order(due)
    if order is None:
        return

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _(
            "We did not hear from you, so {number} is now recorded as accepted. If something "
            "is still wrong, just start a new request."
        ).format(number=order.number)
        return text, []

    queue_for_person(due.session, order.owner, compose)


EFFECTS: dict[str, TimerEffect] = {
    promises.REANNOUNCE: TimerEffect(reannounce),
    promises.UNCLAIMED: TimerEffect(unclaimed_alert),
    promises.URGENT_ARRIVAL: TimerEffect(urgent_not_on_site),
    promises.VISIT_ENGINEER: TimerEffect(remind_engineer),
    promises.VISIT_OWNER: TimerEffect(remind_owner, owner_facing=True),
    promises.DONE_REMINDER: TimerEffect(remind_sign_off, owner_facing=True),
    promises.DONE_AUTO_ACCEPT: TimerEffect(auto_accept),
    ACCEPTED_NOTICE: TimerEffect(tell_auto_accepted, owner_facing=True),
}
