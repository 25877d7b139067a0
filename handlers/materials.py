"""Materials (R8): supplied by the owner (noted, no charge) or taken from stock (charged)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.jobs import order_button, pressed_order
from handlers.labels import money, status_label
from handlers.quotes import is_assignee, nav, read_amount, read_short_text, work_buttons
from handlers.steps import IDLE, Step, choose_buttons_hint, enter, register
from handlers.turn import Press, Turn
from store.jobs import order_for_update
from store.models import Order
from store.order_states import OrderStatus
from store.quotes import add_material

TEXT_STEP, AMOUNT_STEP = "mat_text", "mat_amount"
KINDS = {"matown": "materials_owner", "matstock": "materials_stock"}
OPEN_FOR_MATERIALS = (OrderStatus.ARRIVED, OrderStatus.IN_PROGRESS)


def on_materials_press(turn: Turn, press: Press) -> None:
    """The assignee's Materials buttons: checked for who, version and state."""
    _ = turn._
    found = pressed_order(turn, press)
    if found is None:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    order, version, _extra = found
    if not is_assignee(turn, order):
        return
    if version != order.version:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    if not _open(turn, order):
        return
    PRESSES[press.action](turn, order)


def is_assignee_quiet(turn: Turn, order: Order) -> bool:
    """Whether the presser is the order's assignee, without a reply."""
    return turn.person is not None and order.assignee_id == turn.person.id


def _open(turn: Turn, order: Order) -> bool:
    if order.status in OPEN_FOR_MATERIALS:
        return True
    _ = turn._
    turn.notice(
        _("That cannot be done now: {number} is at “{status}”.").format(
            number=order.number, status=status_label(_, order.status)
        )
    )
    return False


def _choose(turn: Turn, order: Order) -> None:
    _ = turn._
    turn.say(
        _("Materials for {number}: who supplies them?").format(number=order.number),
        [
            [order_button(_("🏠 Owner-supplied material"), order, "matown")],
            [order_button(_("📦 Material from stock"), order, "matstock")],
        ],
    )


def _start(kind: str) -> Callable[[Turn, Order], None]:
    def start(turn: Turn, order: Order) -> None:
        data = {"order_id": order.id, "version": order.version, "kind": KINDS[kind]}
        enter(turn, TEXT_STEP, data)

    return start


def _ask_text(turn: Turn) -> None:
    _ = turn._
    if turn.draft.get("kind") == "materials_owner":
        turn.say(_("What did the owner supply? It is noted on the order, no charge."), [nav(turn)])
    else:
        turn.say(_("Which material from stock? Type a short description."), [nav(turn)])


def _on_text(turn: Turn) -> None:
    text = read_short_text(turn)
    if text is None:
        return
    data = {**turn.draft, "text": text}
    if data.get("kind") == "materials_stock":
        enter(turn, AMOUNT_STEP, data)
        return
    _record(turn, data, None)


def _ask_amount(turn: Turn) -> None:
    _ = turn._
    turn.say(_("What does it cost? Type the amount in yuan, e.g. 35 or 12.50."), [nav(turn)])


def _on_amount(turn: Turn) -> None:
    fen = read_amount(turn)
    if fen is None:
        return
    _record(turn, turn.draft, fen)


def _record(turn: Turn, data: dict[str, Any], amount_fen: int | None) -> None:
    _ = turn._
    turn.goto(IDLE, {})
    order = order_for_update(turn.session, int(data.get("order_id", 0)))
    if order is None or order.version != data.get("version"):
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    if not (is_assignee(turn, order) and _open(turn, order)):
        return
    assert turn.person is not None
    text = str(data["text"])
    kind = str(data["kind"])
    add_material(turn.session, order, kind, text, turn.person.id, turn.desk.now(), amount_fen)
    if amount_fen is None:
        said = _("Noted on {number}: owner-supplied {text}.")
    else:
        said = _("Added to {number}: {text}, {amount} from stock.")
    turn.say(
        said.format(number=order.number, text=text, amount=money(amount_fen or 0)),
        work_buttons(_, order),
    )


def _on_press(turn: Turn, press: Press) -> None:
    if press.action == "cancel":
        cancel_materials(turn)
    elif press.action == "back" and turn.convo.step == AMOUNT_STEP:
        enter(turn, TEXT_STEP, turn.draft)
    elif press.action == "back":
        cancel_materials(turn)
    else:
        choose_buttons_hint(turn)


def cancel_materials(turn: Turn) -> None:
    """Leave the materials dialog; nothing is recorded."""
    _ = turn._
    order_id = int(turn.draft.get("order_id", 0))
    turn.goto(IDLE, {})
    turn.say(_("Materials cancelled; nothing was changed."))
    order = order_for_update(turn.session, order_id)
    if order is not None and is_assignee_quiet(turn, order) and order.status in OPEN_FOR_MATERIALS:
        turn.say(order.number, work_buttons(_, order))


PRESSES: dict[str, Callable[[Turn, Order], None]] = {
    "mat": _choose,
    "matown": _start("matown"),
    "matstock": _start("matstock"),
}

register(Step(TEXT_STEP, _ask_text, _on_text, _on_press))
register(Step(AMOUNT_STEP, _ask_amount, _on_amount, _on_press))
