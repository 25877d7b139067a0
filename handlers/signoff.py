"""The owner's side of a visit: re-book when not home (R7), accept or not fixed (R9, R12), rate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from handlers.i18n import Translate
from handlers.jobs import engineer_buttons, order_button, post_job_card, pressed_order
from handlers.labels import N_, day_label, phone_label, status_label, window_label
from handlers.menu import show_menu
from handlers.messages import Button
from handlers.notify import notify_person
from handlers.repair import bookable_days, visit_windows
from handlers.steps import IDLE, Step, register
from handlers.turn import Press, Turn
from store.callbacks import POOR
from store.jobs import RATINGS, act, create_rework, note, rate, rebook
from store.models import Order
from store.order_states import IllegalTransition, OrderAction, OrderStatus
from store.orders import next_order_number

OWNER_ACTIONS = frozenset({"rebook", "rbday", "rbslot", "accept", "reject", "rate"})
RATING_LABELS = {
    "satisfied": N_("😊 Satisfied"),
    "average": N_("😐 Average"),
    "unsatisfied": N_("😞 Unsatisfied"),
}
COMMENT_STEP = "rate_comment"
COMMENT_LIMIT = 1000


def rebook_button(_: Translate, order: Order) -> Button:
    """The owner's button to choose a new visit time after nobody was home."""
    return order_button(_("📅 Re-book"), order, "rebook")


def done_buttons(_: Translate, order: Order) -> list[list[Button]]:
    """The owner's sign-off buttons on finished work."""
    return [
        [
            order_button(_("✅ Accept"), order, "accept"),
            order_button(_("❌ Not fixed"), order, "reject"),
        ]
    ]


def on_owner_press(turn: Turn, press: Press) -> None:
    """An owner's button on their order: checked for who, version and state, then handled."""
    _ = turn._
    found = pressed_order(turn, press)
    if found is None:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    order, version, extra = found
    if turn.person is None or order.owner_id != turn.person.id:
        turn.notice(_("Sorry, only the owner of {number} can do that.").format(number=order.number))
        return
    if version != order.version:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    try:
        _OWNER_PRESSES[press.action](turn, order, extra)
    except IllegalTransition:
        _cannot_now(turn, order)


def _cannot_now(turn: Turn, order: Order) -> None:
    _ = turn._
    turn.notice(
        _("That cannot be done now: {number} is at “{status}”.").format(
            number=order.number, status=status_label(_, order.status)
        )
    )


# --- re-book after nobody was home (R7) ---------------------------------------------------


def _may_rebook(turn: Turn, order: Order) -> bool:
    if order.status == OrderStatus.CLAIMED and order.assignee_id is not None:
        return True
    _cannot_now(turn, order)
    return False


def _ask_day(turn: Turn, order: Order, _extra: str = "") -> None:
    if not _may_rebook(turn, order):
        return
    _ = turn._
    opens = turn.desk.opens
    buttons = [
        order_button(
            day_label(turn.language, datetime.combine(d, opens)), order, "rbday", f"{d:%Y%m%d}"
        )
        for d in bookable_days(turn)
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    turn.say(_("Which day should we come back for {number}?").format(number=order.number), rows)


def _ask_window(turn: Turn, order: Order, day_arg: str) -> None:
    if not _may_rebook(turn, order):
        return
    _ = turn._
    slots = _windows_of(turn, day_arg)
    if not slots:
        turn.say(_("That day has no free visit times left. Please choose another day."))
        _ask_day(turn, order)
        return
    buttons = [
        order_button(f"{s:%H:%M}–{e:%H:%M}", order, "rbslot", f"{s:%Y%m%d%H%M}") for s, e in slots
    ]
    turn.say(
        _("What time on {day}?").format(day=day_label(turn.language, slots[0][0])),
        [buttons[i : i + 2] for i in range(0, len(buttons), 2)],
    )


def _windows_of(turn: Turn, day_arg: str) -> list[tuple[datetime, datetime]]:
    try:
        day = datetime.strptime(day_arg[:8], "%Y%m%d").replace(tzinfo=turn.desk.timezone).date()
    except ValueError:
        return []
    return visit_windows(turn, day)


def _rebook(turn: Turn, order: Order, slot_arg: str) -> None:
    if not _may_rebook(turn, order):
        return
    _ = turn._
    chosen = [(s, e) for s, e in _windows_of(turn, slot_arg) if f"{s:%Y%m%d%H%M}" == slot_arg]
    if not chosen or turn.person is None:
        turn.say(_("That time is no longer free. Please choose another."))
        _ask_day(turn, order)
        return
    start, end = chosen[0]
    rebook(turn.session, order, start, end, turn.person.id, turn.desk.now())
    when = window_label(turn.language, start, end)
    turn.say(
        _("Booked: we will come back for {number} {when}.").format(number=order.number, when=when)
    )
    assignee = order.assignee
    if assignee is not None:
        their_when = window_label(assignee.language, start, end)
        notify_person(
            turn,
            assignee,
            lambda _: (
                _("The owner of {number} re-booked the visit: {when}.").format(
                    number=order.number, when=their_when
                ),
                engineer_buttons(_, order),
            ),
        )


# --- sign-off: accept or not fixed (R9, R12) ----------------------------------------------


def _accept(turn: Turn, order: Order, _extra: str) -> None:
    _ = turn._
    assert turn.person is not None
    act(turn.session, order, OrderAction.ACCEPT, turn.person.id, turn.desk.now(), order.version)
    buttons = [order_button(_(label), order, "rate", key) for key, label in RATING_LABELS.items()]
    turn.say(
        _("Thank you for confirming {number}! How satisfied are you with the work?").format(
            number=order.number
        ),
        [buttons],
    )


def _not_fixed(turn: Turn, order: Order, _extra: str) -> None:
    _ = turn._
    assert turn.person is not None
    now = turn.desk.now()
    act(
        turn.session,
        order,
        OrderAction.REJECT,
        turn.person.id,
        now,
        order.version,
        note="not fixed",
    )
    number = next_order_number(turn.session, "W", turn.desk.local(now).strftime("%Y%m%d"))
    rework = create_rework(turn.session, order, number, now)
    post_job_card(turn, rework)
    turn.say(
        _(
            "Sorry that {number} is not fixed. We opened rework order {rework}; an engineer "
            "will come back and you will get a message when someone takes it."
        ).format(number=order.number, rework=rework.number)
    )


# --- rating with an optional comment (R9) -------------------------------------------------


def _rate(turn: Turn, order: Order, rating: str) -> None:
    if order.status != OrderStatus.ACCEPTED or order.rating is not None or rating not in RATINGS:
        _cannot_now(turn, order)
        return
    assert turn.person is not None
    rate(turn.session, order, rating, turn.person.id, turn.desk.now())
    if rating in POOR:  # R22: say who calls and by when, not just "thank you"
        turn.say(call_promise(turn, order))
    turn.goto(COMMENT_STEP, {"order_id": order.id})
    _ask_comment(turn)


def call_promise(turn: Turn, order: Order) -> str:
    """What happens after a poor rating (R22): a person calls the owner back, and by when —
    the hour the call goes to supervisors if no agent has taken it, counted from the next
    callback hours when it is late in the day."""
    _ = turn._
    policy = turn.desk.timers
    now = turn.desk.now()
    by = turn.desk.local(policy.daytime(now) + policy.callback_untaken)
    when = (
        by.strftime("%H:%M")
        if by.date() == turn.desk.local(now).date()
        else f"{day_label(turn.language, by)} {by:%H:%M}"
    )
    return _(
        "We are sorry it was not better. Someone from customer service will call you on "
        "{phone} by {when} to hear what went wrong and put it right."
    ).format(phone=phone_label(order.contact_phone), when=when)


def _ask_comment(turn: Turn) -> None:
    _ = turn._
    turn.say(
        _("Thank you! Would you like to add a comment? Type it now, or press No comment."),
        [[turn.button(_("No comment"), "skip")]],
    )


def _on_comment(turn: Turn) -> None:
    _ = turn._
    text = (turn.inbound.text or "").strip()
    if not text or len(text) > COMMENT_LIMIT:
        turn.say(
            _(
                "Please type your comment as text (up to {limit} characters), or press No comment."
            ).format(limit=COMMENT_LIMIT)
        )
        return
    order = turn.session.get(Order, int(turn.draft.get("order_id", 0)))
    if order is not None and turn.person is not None and order.owner_id == turn.person.id:
        order.rating_comment = text
        note(turn.session, order, "rate_comment", turn.person.id, turn.desk.now(), note=text)
    _finish_rating(turn)


def _on_comment_press(turn: Turn, press: Press) -> None:
    if press.action == "skip":
        _finish_rating(turn)
    else:
        _ask_comment(turn)


def _finish_rating(turn: Turn) -> None:
    _ = turn._
    turn.goto(IDLE, {})
    turn.say(_("Thank you for your feedback!"))
    show_menu(turn)


_OWNER_PRESSES: dict[str, Callable[[Turn, Order, str], None]] = {
    "rebook": _ask_day,
    "rbday": _ask_window,
    "rbslot": _rebook,
    "accept": _accept,
    "reject": _not_fixed,
    "rate": _rate,
}

register(Step(COMMENT_STEP, _ask_comment, _on_comment, _on_comment_press))
