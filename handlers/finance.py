"""Finance (R10, R27): the arrears list, marking bills paid (in part or in full), receipts."""

from __future__ import annotations

from handlers.i18n import Translate
from handlers.labels import N_, money
from handlers.messages import Button
from handlers.notify import notify_person
from handlers.turn import Turn, parse_id
from store.finance import (
    METHODS,
    PaymentRefused,
    arrears,
    bill_of,
    receipt_sent,
    record_payment,
)
from store.models import Bill
from store.people import roles_of
from store.price_list import PriceError, price_to_fen

VIEWERS = frozenset({"finance", "agent", "manager"})
RECORDERS = frozenset({"finance", "manager"})
METHOD_LABELS = {
    "cash": N_("cash"),
    "wechat": N_("WeChat Pay"),
    "alipay": N_("Alipay"),
    "bank": N_("bank transfer"),
}


def _has(turn: Turn, roles: frozenset[str]) -> bool:
    return turn.person is not None and bool(roles_of(turn.session, turn.person.id) & roles)


def show_arrears(turn: Turn) -> None:
    """Unpaid bills, oldest first, with totals and a Mark paid button on each."""
    _ = turn._
    if not _has(turn, VIEWERS):
        turn.say(_("Sorry, the arrears list is for finance and customer-service staff."))
        return
    items, count, total = arrears(turn.session)
    if not items:
        turn.say(_("No unpaid bills. 🎉"))
        return
    lines = [
        _("Unpaid bills: {count}, outstanding {total} in all (oldest first):").format(
            count=count, total=money(total)
        )
    ]
    rows: list[list[Button]] = []
    for item in items:
        since = turn.desk.local(item.since).strftime("%m-%d")
        mark = "📞" if item.follow_up else "•"  # reminders ran out: call the owner
        lines.append(
            f"{mark} {item.number} · {item.room} · {money(item.outstanding_fen)} · {since}"
        )
        if _has(turn, RECORDERS):
            rows.append(
                [
                    turn.global_button(
                        _("💰 Mark paid: {number}").format(number=item.number),
                        "paybill",
                        str(item.bill_id),
                    )
                ]
            )
    turn.say("\n".join(lines), rows)


def ask_method(turn: Turn, bill_arg: str) -> None:
    """How was the outstanding amount paid?"""
    _ = turn._
    bill = _payable(turn, bill_arg)
    if bill is None:
        return
    rows = [
        [turn.global_button(_(METHOD_LABELS[m]), "paymethod", f"{bill.id}:{m}")] for m in METHODS
    ]
    turn.say(
        _("{number}: {amount} outstanding. How was it paid?").format(
            number=bill.order.number, amount=money(bill.amount_fen - bill.paid_fen)
        ),
        rows,
    )


def pay_in_full(turn: Turn, arg: str) -> None:
    """Record the whole outstanding amount with the chosen method."""
    bill_arg, _sep, method = arg.partition(":")
    bill = _payable(turn, bill_arg)
    if bill is not None:
        _record(turn, bill, bill.amount_fen - bill.paid_fen, method)


def pay_command(turn: Turn) -> None:
    """`/paid R-20261122-0007 30 wechat`: record a payment, in part or in full."""
    _ = turn._
    if not _has(turn, RECORDERS):
        turn.notice(_("Sorry, only finance staff can record payments."), alert=True)
        return
    parts = turn.inbound.command_arg.split()
    usage = _(
        "Please write it as: /paid ORDER-NUMBER AMOUNT METHOD, for example "
        "/paid R-20261122-0007 30 wechat (methods: cash, wechat, alipay, bank)."
    )
    if len(parts) != 3:
        turn.say(usage)
        return
    number, amount_text, method = parts
    bill = bill_of(turn.session, number[:20])
    if bill is None:
        turn.say(_("There is no bill for {number}.").format(number=number[:20]))
        return
    try:
        amount = price_to_fen(amount_text[:20])
    except PriceError:
        amount = None
    if amount is None or method.lower() not in METHODS:
        turn.say(usage)
        return
    _record(turn, bill, amount, method.lower())


def _payable(turn: Turn, bill_arg: str) -> Bill | None:
    _ = turn._
    if not _has(turn, RECORDERS):
        turn.notice(_("Sorry, only finance staff can record payments."), alert=True)
        return None
    bill_id = parse_id(bill_arg)
    bill = turn.session.get(Bill, bill_id) if bill_id is not None else None
    if bill is None or bill.status == "paid":  # a repeated press: answered on the button
        turn.notice(_("That bill is already paid, so nothing was changed."))
        return None
    return bill


def _record(turn: Turn, bill: Bill, amount_fen: int, method: str) -> None:
    _ = turn._
    assert turn.person is not None
    outstanding = bill.amount_fen - bill.paid_fen
    try:
        record_payment(turn.session, bill, amount_fen, method, turn.person.id, turn.desk.now())
    except PaymentRefused as refused:
        reason = str(refused)
        if reason == "already paid":
            turn.notice(_("That bill is already paid, so nothing was changed."))
        elif reason == "more than owed":
            turn.say(
                _("That is more than the {amount} outstanding; nothing was recorded.").format(
                    amount=money(outstanding)
                )
            )
        else:
            turn.say(
                _(
                    "Please give an amount above zero in yuan, e.g. 30 or 30.50; nothing "
                    "was recorded."
                )
            )
        return
    number, rest = bill.order.number, bill.amount_fen - bill.paid_fen
    turn.say(
        _("Recorded {amount} for {number} ({method}). Still outstanding: {rest}.").format(
            amount=money(amount_fen),
            number=number,
            method=_(METHOD_LABELS[method]),
            rest=money(rest),
        )
    )
    notify_person(turn, bill.order.owner, lambda t: _receipt(t, number, amount_fen, method, rest))
    receipt_sent(turn.session, bill, turn.desk.now(), turn.person.id)


def _receipt(
    _: Translate, number: str, amount: int, method: str, rest: int
) -> tuple[str, list[list[Button]]]:
    if rest > 0:
        text = _(
            "Payment received for {number}: {amount} ({method}). Thank you! Still to pay: {rest}."
        )
    else:
        text = _("Payment received for {number}: {amount} ({method}). Thank you, it is fully paid.")
    return text.format(
        number=number, amount=money(amount), method=_(METHOD_LABELS[method]), rest=money(rest)
    ), []
