"""The assignee's work from the private chat: on the way, arrived, not home, release, done."""

from __future__ import annotations

from handlers.i18n import Translate
from handlers.jobs import ENGINEER_ACTIONS, engineer_buttons, post_job_card, pressed_order
from handlers.labels import status_label
from handlers.messages import Button
from handlers.notify import notify_person
from handlers.signoff import done_buttons, rebook_button
from handlers.turn import Press, Turn
from store.jobs import StaleButton, act
from store.models import Order, Person
from store.order_states import IllegalTransition, OrderAction


def on_engineer_press(turn: Turn, press: Press) -> None:
    """One of the assignee's action buttons: checked for who, version and state, then applied."""
    _ = turn._
    found = pressed_order(turn, press)
    action = next((a for a in ENGINEER_ACTIONS if a.value == press.action), None)
    if found is None or action is None:
        turn.say(_("That button is out of date, so nothing was changed."))
        return
    order, version, _extra = found
    engineer = turn.person
    if engineer is None or order.assignee_id != engineer.id:
        turn.say(
            _("Sorry, only the engineer who took {number} can do that.").format(number=order.number)
        )
        return
    try:
        act(turn.session, order, action, engineer.id, turn.desk.now(), version)
    except StaleButton:
        turn.say(_("That button is out of date, so nothing was changed."))
        return
    except IllegalTransition:
        turn.say(
            _("That cannot be done now: {number} is at “{status}”.").format(
                number=order.number, status=status_label(_, order.status)
            )
        )
        return
    _tell_engineer(turn, order, action)
    _tell_owner(turn, order, action, engineer)
    if action is OrderAction.RELEASE:
        post_job_card(turn, order)


def _tell_engineer(turn: Turn, order: Order, action: OrderAction) -> None:
    _ = turn._
    if action is OrderAction.RELEASE:
        turn.say(
            _("You released {number}; it is back in the staff group.").format(number=order.number)
        )
        return
    if action is OrderAction.COMPLETE:
        turn.say(
            _("{number} is done. The owner has been asked to check the work.").format(
                number=order.number
            )
        )
        return
    turn.say(
        _("{number}: {status}. What next?").format(
            number=order.number, status=status_label(_, order.status)
        ),
        engineer_buttons(_, order),
    )


def _tell_owner(turn: Turn, order: Order, action: OrderAction, engineer: Person) -> None:
    stamp = turn.desk.local(turn.desk.now()).strftime("%H:%M")

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        values = {"name": engineer.name, "number": order.number, "time": stamp}
        if action is OrderAction.DEPART:
            return _("{name} is on the way to you for {number}.").format(**values), []
        if action is OrderAction.ARRIVE:
            return _("{name} has arrived for {number}.").format(**values), []
        if action is OrderAction.NOT_HOME:
            text = _(
                "{name} came at {time} for {number} and nobody was home. "
                "Please choose a new visit time."
            )
            return text.format(**values), [[rebook_button(_, order)]]
        if action is OrderAction.COMPLETE:
            text = _("{name} has finished {number}. Please check the work: is it fixed?")
            return text.format(**values), done_buttons(_, order)
        text = _("{number} has gone back to the team; another engineer will take it soon.")
        return text.format(**values), []

    notify_person(turn, order.owner, compose)
