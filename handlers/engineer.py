"""The assignee's work from the private chat: on the way, arrived, not home, release, done."""

from __future__ import annotations

from handlers.i18n import Translate
from handlers.jobs import ENGINEER_ACTIONS, order_button, post_job_card, pressed_order
from handlers.jobs import _job_details as job_details
from handlers.labels import money, status_label
from handlers.messages import Button
from handlers.notify import notify_person
from handlers.owner_text import one_line
from handlers.quotes import work_buttons
from handlers.signoff import done_buttons, rebook_button
from handlers.turn import Press, Turn
from store.jobs import act, fee_total, settle_fee
from store.models import Order, Person
from store.order_states import OrderAction, OrderStatus, allowed_actions

FEE_CHOICES = {"cash": "fee_cash", "later": "fee_unpaid"}  # Done on a priced order (R10)


def on_engineer_press(turn: Turn, press: Press) -> None:
    """One of the assignee's action buttons: checked for who, version and state, then applied."""
    checked = _checked(turn, press)
    if checked is None:
        return
    order, action, engineer = checked
    if action is OrderAction.COMPLETE and press.action not in FEE_CHOICES and _charged(order):
        _ask_fee(turn, order)
        return
    now = turn.desk.now()
    act(turn.session, order, action, engineer.id, now, order.version)
    if press.action in FEE_CHOICES and _charged(order):
        settle_fee(turn.session, order, FEE_CHOICES[press.action], engineer.id, now)
    _tell_engineer(turn, order, action)
    _tell_owner(turn, order, action, engineer)
    if action is OrderAction.RELEASE:
        post_job_card(turn, order)


def _checked(turn: Turn, press: Press) -> tuple[Order, OrderAction, Person] | None:
    """The order, action and assignee of a press that may go ahead; otherwise say why not."""
    _ = turn._
    found = pressed_order(turn, press)
    name = "complete" if press.action in FEE_CHOICES else press.action
    action = next((a for a in ENGINEER_ACTIONS if a.value == name), None)
    if found is None or action is None:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return None
    order, version, _extra = found
    engineer = turn.person
    if engineer is None or order.assignee_id != engineer.id:
        turn.notice(
            _("Sorry, only the engineer who took {number} can do that.").format(
                number=order.number
            ),
            alert=True,
        )
        return None
    if version != order.version:  # a repeated or old press: the press's own notice (11.5)
        turn.notice(_("That button is out of date, so nothing was changed."))
        return None
    if action not in allowed_actions(OrderStatus(order.status)):
        turn.notice(
            _("That cannot be done now: {number} is at “{status}”.").format(
                number=order.number, status=status_label(_, order.status)
            )
        )
        return None
    return order, action, engineer


def _charged(order: Order) -> bool:
    return order.quote_kind in ("list", "on_site") and order.quoted_fen is not None


def _ask_fee(turn: Turn, order: Order) -> None:
    _ = turn._
    turn.say(
        _("How was the fee of {amount} for {number} settled?").format(
            amount=money(fee_total(order)), number=order.number
        ),
        [
            [order_button(_("💵 Cash collected"), order, "cash")],
            [order_button(_("🧾 Owner pays later (unpaid)"), order, "later")],
        ],
    )


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
    you = {  # the engineer reads about himself in the second person (issue 11.10)
        OrderAction.DEPART: _("{number}: you are on your way. What next?"),
        OrderAction.ARRIVE: _("{number}: you are on site. What next?"),
        OrderAction.NOT_HOME: _("{number}: the owner was told nobody was home. What next?"),
    }.get(action)
    text = (you or _("{number}: {status}. What next?")).format(
        number=order.number, status=status_label(_, order.status)
    )
    # this message replaces the one whose button was pressed (issue 11.6), often the job's
    # details: it carries them on, so the address and phone stay in front of the engineer
    turn.say(job_details(_, turn, order, turn.language, text), work_buttons(_, order))


def _tell_owner(turn: Turn, order: Order, action: OrderAction, engineer: Person) -> None:
    stamp = turn.desk.local(turn.desk.now()).strftime("%H:%M")

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        values = {"name": one_line(engineer.name), "number": order.number, "time": stamp}
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
            return text.format(**values) + _fee_line(_, order), done_buttons(_, order)
        text = _("{number} has gone back to the team; another engineer will take it soon.")
        return text.format(**values), []

    notify_person(turn, order.owner, compose)


def _fee_line(_: Translate, order: Order) -> str:
    """How the fee was settled at completion, for the owner's done message."""
    last = order.events[-1] if order.events else None
    if last is None or last.action not in FEE_CHOICES.values() or last.amount_fen is None:
        return ""
    amount = money(last.amount_fen)
    if last.action == "fee_cash":
        return "\n" + _("Fee {amount}: paid in cash. Thank you!").format(amount=amount)
    return "\n" + _(
        "Fee {amount}: to be paid later (unpaid). You can pay at the property management "
        "office (cash, WeChat Pay or Alipay) or by bank transfer; please mention {number}. "
        "You will get a receipt here."
    ).format(amount=amount, number=order.number)
