"""Quote on site (R5): engineer quotes, supervisor approves off-list amounts, owner decides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.i18n import Translate
from handlers.jobs import engineer_buttons, order_button, pressed_order
from handlers.labels import money, status_label
from handlers.messages import Button
from handlers.notify import notify_person
from handlers.owner_text import field_text, one_line
from handlers.steps import IDLE, Step, choose_buttons_hint, enter, register
from handlers.turn import Press, Turn
from store.jobs import order_for_update
from store.models import Order, PriceItem
from store.order_states import OrderStatus
from store.price_list import PriceError, price_to_fen
from store.quotes import (
    agree,
    category_items,
    decline,
    is_supervisor_of,
    last_event,
    pending_proposal,
    propose,
    quote,
    quoted_amount,
    reject_proposal,
    supervisors_of,
)

ENGINEER_ACTIONS = frozenset({"quote", "qitem", "qfree"})
SUPERVISOR_ACTIONS = frozenset({"qok", "qno"})
OWNER_ACTIONS = frozenset({"qagree", "qdecline"})
AMOUNT_STEP, TEXT_STEP = "quote_amount", "quote_text"
TEXT_LIMIT = 200


def work_buttons(_: Translate, order: Order) -> list[list[Button]]:
    """The assignee's buttons, with Quote on site (R5) and Materials (R8) when they apply."""
    rows = engineer_buttons(_, order)
    if order.status == OrderStatus.ARRIVED and order.quote_kind == "on_site":
        rows.append([order_button(_("💬 Quote on site"), order, "quote")])
    if order.status in (OrderStatus.ARRIVED, OrderStatus.IN_PROGRESS):
        rows.append([order_button(_("🧰 Materials"), order, "mat")])
    return rows


def on_quote_press(turn: Turn, press: Press) -> None:
    """A quote button: the engineer's, a supervisor's or the owner's."""
    _ = turn._
    found = pressed_order(turn, press)
    if found is None:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    order, version, extra = found
    if press.action in ENGINEER_ACTIONS:
        allowed = is_assignee(turn, order)
    elif press.action in SUPERVISOR_ACTIONS:
        allowed = _is_supervisor(turn, order)
    else:
        allowed = _is_owner(turn, order)
    if not allowed:
        return
    if version != order.version:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    PRESSES[press.action](turn, order, extra)


def is_assignee(turn: Turn, order: Order) -> bool:
    if turn.person is not None and order.assignee_id == turn.person.id:
        return True
    _ = turn._
    turn.notice(
        _("Sorry, only the engineer who took {number} can do that.").format(number=order.number),
        alert=True,
    )
    return False


def _is_supervisor(turn: Turn, order: Order) -> bool:
    if turn.person is not None and is_supervisor_of(turn.session, turn.person.id, order.department):
        return True
    _ = turn._
    turn.notice(_("Sorry, only a supervisor of this department can approve quotes."), alert=True)
    return False


def _is_owner(turn: Turn, order: Order) -> bool:
    if turn.person is not None and order.owner_id == turn.person.id:
        return True
    _ = turn._
    turn.notice(_("Sorry, only the owner of {number} can do that.").format(number=order.number))
    return False


def _at(turn: Turn, order: Order, status: OrderStatus) -> bool:
    """Whether the order is at `status` (and still quoted on site); otherwise say why not."""
    if order.status == status and order.quote_kind == "on_site":
        return True
    _ = turn._
    turn.notice(
        _("That cannot be done now: {number} is at “{status}”.").format(
            number=order.number, status=status_label(_, order.status)
        )
    )
    return False


# --- the engineer: a price-list item or an amount not on the list ---------------------------


def _show_items(turn: Turn, order: Order, _extra: str = "") -> None:
    if not _at(turn, order, OrderStatus.ARRIVED):
        return
    _ = turn._
    rows = [
        [
            order_button(
                f"{_item_name(turn.language, i)} · {money(i.price_fen or 0)}",
                order,
                "qitem",
                str(i.id),
            )
        ]
        for i in category_items(turn.session, order.category)
    ]
    rows.append([order_button(_("✏️ Amount not on the list"), order, "qfree")])
    turn.say(
        _("Quote for {number}: choose the price-list item, or an amount not on the list.").format(
            number=order.number
        ),
        rows,
    )


def _item_name(language: str, item: PriceItem) -> str:
    return item.name_zh if language == "zh" else item.name_en


def _quote_item(turn: Turn, order: Order, extra: str) -> None:
    if not _at(turn, order, OrderStatus.ARRIVED):
        return
    _ = turn._
    item = turn.session.get(PriceItem, int(extra)) if extra.isdigit() else None
    if item is None or item.category != order.category or item.price_fen is None:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    assert turn.person is not None
    text = f"{item.code} {item.name_zh}"
    quote(turn.session, order, item.price_fen, text, turn.person.id, turn.desk.now(), item.id)
    turn.say(
        _("Your quote of {amount} for {number} was sent to the owner.").format(
            amount=money(item.price_fen), number=order.number
        )
    )
    _ask_owner(turn, order, item)


def _ask_amount_step(turn: Turn, order: Order, _extra: str) -> None:
    if _at(turn, order, OrderStatus.ARRIVED):
        enter(turn, AMOUNT_STEP, {"order_id": order.id, "version": order.version})


def nav(turn: Turn) -> list[Button]:
    _ = turn._
    return [turn.button(_("« Back"), "back"), turn.button(_("✖ Cancel"), "cancel")]


def _ask_amount(turn: Turn) -> None:
    _ = turn._
    turn.say(_("Type the amount in yuan, e.g. 120 or 85.50."), [nav(turn)])


def read_amount(turn: Turn) -> int | None:
    """The typed yuan as fen, or None after saying what is accepted (0 < amount <= 100000)."""
    _ = turn._
    try:
        fen = price_to_fen(turn.inbound.text or "")
    except PriceError:
        fen = None
    if not fen:
        turn.say(
            _(
                "Please type an amount in yuan above 0 and at most 100000, with at most "
                "2 decimals, e.g. 120 or 85.50. Nothing was changed."
            )
        )
        return None
    return fen


def _on_amount(turn: Turn) -> None:
    fen = read_amount(turn)
    if fen is None:
        return
    enter(turn, TEXT_STEP, {**turn.draft, "amount_fen": fen})


def _on_amount_press(turn: Turn, press: Press) -> None:
    if press.action == "cancel":
        cancel_quote(turn)
    elif press.action == "back":
        order = _draft_order(turn, turn.draft)
        turn.goto(IDLE, {})
        if order is not None:
            _show_items(turn, order)
    else:
        choose_buttons_hint(turn)


def _ask_text(turn: Turn) -> None:
    _ = turn._
    turn.say(_("Briefly describe the work this amount is for."), [nav(turn)])


def read_short_text(turn: Turn) -> str | None:
    """The typed description, or None after telling the person how long it may be."""
    _ = turn._
    text = (turn.inbound.text or "").strip()
    if not text or len(text) > TEXT_LIMIT:
        turn.say(
            _("Please type a short description (up to {limit} characters).").format(
                limit=TEXT_LIMIT
            )
        )
        return None
    return text


def _on_text(turn: Turn) -> None:
    _ = turn._
    text = read_short_text(turn)
    if text is None:
        return
    data = turn.draft
    turn.goto(IDLE, {})
    order = _draft_order(turn, data)
    if order is None or order.version != data.get("version"):
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    if not (is_assignee(turn, order) and _at(turn, order, OrderStatus.ARRIVED)):
        return
    _send_for_approval(turn, order, int(data["amount_fen"]), text)


def _on_text_press(turn: Turn, press: Press) -> None:
    if press.action == "cancel":
        cancel_quote(turn)
    elif press.action == "back":
        enter(turn, AMOUNT_STEP, turn.draft)
    else:
        choose_buttons_hint(turn)


def cancel_quote(turn: Turn) -> None:
    """Leave the quote dialog; nothing is recorded."""
    _ = turn._
    order = _draft_order(turn, turn.draft)
    turn.goto(IDLE, {})
    turn.say(_("Quote cancelled; nothing was changed."))
    if order is not None and turn.person is not None and order.assignee_id == turn.person.id:
        turn.say(order.number, work_buttons(_, order))


def _draft_order(turn: Turn, data: dict[str, Any]) -> Order | None:
    order_id = data.get("order_id")
    return order_for_update(turn.session, int(order_id)) if order_id else None


# --- the supervisor approves an amount not on the list --------------------------------------


def _send_for_approval(turn: Turn, order: Order, amount_fen: int, text: str) -> None:
    _ = turn._
    assert turn.person is not None
    propose(turn.session, order, amount_fen, text, turn.person.id, turn.desk.now())
    values = {
        "number": order.number,
        "amount": money(amount_fen),
        "name": one_line(turn.person.name),
    }

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        message = _(
            "{name} quotes {amount} for {number}, not on the price list:\n{text}\nApprove?"
        ).format(text=field_text(text), **values)
        buttons = [
            order_button(_("✅ Approve"), order, "qok"),
            order_button(_("❌ Reject"), order, "qno"),
        ]
        return message, [buttons]

    for supervisor in supervisors_of(turn.session, order.department):
        notify_person(turn, supervisor, compose)
    turn.say(
        _("Your quote of {amount} for {number} was sent to the supervisor for approval.").format(
            **values
        )
    )


def _approve(turn: Turn, order: Order, _extra: str) -> None:
    proposal = pending_proposal(order)
    if proposal is None or not _at(turn, order, OrderStatus.ARRIVED):
        return
    _ = turn._
    assert turn.person is not None
    amount = proposal.amount_fen or 0
    quote(turn.session, order, amount, proposal.note or "", turn.person.id, turn.desk.now())
    turn.say(
        _("Approved: the quote of {amount} for {number} was sent to the owner.").format(
            amount=money(amount), number=order.number
        )
    )
    _tell_assignee(
        turn,
        order,
        lambda _: (
            _("The supervisor approved {amount} for {number}; the owner has been asked.").format(
                amount=money(amount), number=order.number
            ),
            [],
        ),
    )
    _ask_owner(turn, order, None)


def _reject(turn: Turn, order: Order, _extra: str) -> None:
    proposal = pending_proposal(order)
    if proposal is None or not _at(turn, order, OrderStatus.ARRIVED):
        return
    _ = turn._
    assert turn.person is not None
    reject_proposal(turn.session, order, turn.person.id, turn.desk.now())
    amount = money(proposal.amount_fen or 0)
    turn.say(_("Rejected; the engineer has been told."))
    _tell_assignee(
        turn,
        order,
        lambda _: (
            _(
                "The supervisor rejected your quote of {amount} for {number}. Please quote again."
            ).format(amount=amount, number=order.number),
            work_buttons(_, order),
        ),
    )


def _tell_assignee(
    turn: Turn, order: Order, compose: Callable[[Translate], tuple[str, list[list[Button]]]]
) -> None:
    if order.assignee is not None:
        notify_person(turn, order.assignee, compose)


# --- the owner agrees or declines -----------------------------------------------------------


def _ask_owner(turn: Turn, order: Order, item: PriceItem | None) -> None:
    amount = money(quoted_amount(order))

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        what = _item_name(order.owner.language, item) if item is not None else _proposal_text(order)
        text = _(
            "Quote for {number}: {what}\nAmount: {amount}; materials, if needed, are charged "
            "at cost.\nDo you agree? No work starts before you agree."
        ).format(number=order.number, what=what, amount=amount)
        buttons = [
            order_button(_("✅ Agree"), order, "qagree"),
            order_button(_("❌ Decline"), order, "qdecline"),
        ]
        return text, [buttons]

    notify_person(turn, order.owner, compose)


def _proposal_text(order: Order) -> str:
    last = last_event(order, "quote")
    return field_text(last.note) if last is not None else "-"


def _agree(turn: Turn, order: Order, _extra: str) -> None:
    if not _at(turn, order, OrderStatus.QUOTED):
        return
    _ = turn._
    assert turn.person is not None
    agree(turn.session, order, turn.person.id, turn.desk.now())
    amount = money(order.quoted_fen or 0)
    turn.say(
        _("Thank you: you agreed to {amount} for {number}. The work can start now.").format(
            amount=amount, number=order.number
        )
    )
    _tell_assignee(
        turn,
        order,
        lambda _: (
            _("The owner agreed to {amount} for {number}. You can start the work.").format(
                amount=amount, number=order.number
            ),
            work_buttons(_, order),
        ),
    )


def _decline(turn: Turn, order: Order, _extra: str) -> None:
    if not _at(turn, order, OrderStatus.QUOTED):
        return
    _ = turn._
    assert turn.person is not None
    fee = turn.desk.callout_fee_fen
    decline(turn.session, order, turn.person.id, turn.desk.now(), fee)
    text = _("Understood: {number} is closed and the work will not be done.").format(
        number=order.number
    )
    if fee > 0:
        text += "\n" + _("A call-out fee of {amount} applies; you will get a bill.").format(
            amount=money(fee)
        )
    turn.say(text)
    _tell_assignee(
        turn,
        order,
        lambda _: (
            _("The owner declined the quote for {number}; the order is closed.").format(
                number=order.number
            ),
            [],
        ),
    )


PRESSES: dict[str, Callable[[Turn, Order, str], None]] = {
    "quote": _show_items,
    "qitem": _quote_item,
    "qfree": _ask_amount_step,
    "qok": _approve,
    "qno": _reject,
    "qagree": _agree,
    "qdecline": _decline,
}

register(Step(AMOUNT_STEP, _ask_amount, _on_amount, _on_amount_press))
register(Step(TEXT_STEP, _ask_text, _on_text, _on_text_press))
