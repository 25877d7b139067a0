"""Payment reminders (催缴, R26–R27): polite, periodic, with the amount and how to pay, until the
bill is paid; after the last one customer service asks why."""

from __future__ import annotations

from handlers.i18n import Translate
from handlers.labels import category_label, money, phone_label
from handlers.messages import Button
from handlers.notify import queue_for_people, queue_for_person
from handlers.owner_text import one_line
from handlers.timed import Due, TimerEffect
from handlers.turn import GLOBAL, encode_button
from store import promises
from store.models import Bill
from store.staff import people_with_role


def _unpaid(due: Due) -> Bill | None:
    bill = due.session.get(Bill, due.timer.subject_id, with_for_update=True)
    return bill if bill is not None and bill.status == "unpaid" else None


def remind_to_pay(due: Due) -> None:
    """Send reminder n of an unpaid bill and plan the next step."""
    bill = _unpaid(due)
    if bill is None:
        return
    sent = int(due.timer.data.get("n", 1))
    bill.reminders_sent = sent
    order = bill.order
    outstanding = bill.amount_fen - bill.paid_fen

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _(
            "A friendly reminder from the property office: {amount} for {number} ({category}) "
            "is still unpaid. You can pay at the office (cash, WeChat Pay or Alipay) or by bank "
            "transfer. If you have paid already, thank you, and please ignore this message."
        ).format(
            amount=money(outstanding),
            number=order.number,
            category=category_label(_, order.category),
        )
        return text, []

    queue_for_person(due.session, order.owner, compose)
    promises.next_payment_reminder(due.session, bill, sent, due.now)


def follow_up(due: Due) -> None:
    """Reminders did not help: the bill goes on the agents' follow-up list (R26)."""
    bill = _unpaid(due)
    if bill is None:
        return
    bill.follow_up_since = due.now
    order = bill.order
    owner = order.owner
    outstanding = bill.amount_fen - bill.paid_fen

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _(
            "📞 Please call the owner of {number} and ask why {amount} is still unpaid after "
            "{count} reminders. Owner: {name}, phone {phone}."
        ).format(
            number=order.number,
            amount=money(outstanding),
            count=bill.reminders_sent,
            name=one_line(owner.name),
            phone=phone_label(order.contact_phone),
        )
        return text, [[Button(_("📋 Arrears list"), encode_button(GLOBAL, "arrears"))]]

    queue_for_people(due.session, people_with_role(due.session, "agent"), compose)


EFFECTS: dict[str, TimerEffect] = {
    promises.PAYMENT_REMINDER: TimerEffect(remind_to_pay, owner_facing=True),
    promises.PAYMENT_FOLLOW_UP: TimerEffect(follow_up),
}
