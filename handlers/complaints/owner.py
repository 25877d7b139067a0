"""The complainant's side and the relay (R30, R31, R24, R25): their own complaints, messages both
ways through the desk, their verdict on the resolution, and the callback that follows."""

from __future__ import annotations

from sqlalchemy.orm import Session

from handlers.complaints.common import (
    RESULT_LABELS,
    TEXT_LIMIT,
    clean,
    complaint_button,
    hours_of,
    status_label,
    subject_label,
    title,
)
from handlers.complaints.staff import bosses, handler_buttons, tell_owner
from handlers.i18n import Translate, translator
from handlers.menu import show_menu
from handlers.messages import Button, Outbound
from handlers.notify import queue_for_people, queue_for_person
from handlers.steps import IDLE, Step, register
from handlers.turn import Press, Turn, parse_id
from store.complaints import records
from store.complaints.models import Complaint
from store.models import OutboxMessage, Person
from store.people import roles_of

EVENT_LABELS = {
    "submitted": "📨",
    "take": "🙋",
    "class_1": "🏷",
    "class_2": "🏷",
    "class_3": "🏷",
    "class_invalid": "🏷",
    "assign": "👤",
    "progress": "📝",
    "flag": "🚩",
    "liaison_reply": "📨",
    "resolve": "✅",
    "confirm": "👍",
    "reopen": "🔁",
    "close": "🔒",
    "callback": "📞",
    "cb_take": "📞",
    "relay": "✉",
}
OWNER_EVENTS = ("submitted", "take", "assign", "progress", "resolve", "confirm", "reopen", "close")


# --- the owner's own complaints -------------------------------------------------------------


def show_mine(turn: Turn, raw_id: str) -> None:
    """One of the owner's complaints with its history; other people's stay hidden."""
    _ = turn._
    assert turn.person is not None
    wanted = parse_id(raw_id)
    complaint = (
        records.complaint_of_owner(turn.session, turn.person.id, wanted)
        if wanted is not None
        else None
    )
    if complaint is None:
        turn.say(_("I could not find that request among yours."))
        show_menu(turn)
        return
    desk = turn.desk
    lines = [
        f"{title(_, complaint)} · {status_label(_, complaint)}",
        _("Subject: {subject}").format(subject=subject_label(_, complaint.subject)),
        _("What happened: «{text}»").format(text=complaint.description[:300]),
    ]
    if complaint.kind == "complaint":
        lines.append(_("Anonymous: yes") if complaint.anonymous else _("Anonymous: no"))
    lines += ["", _("History:")]
    for event in complaint.events:
        if event.action not in OWNER_EVENTS:
            continue
        stamp = desk.local(event.at).strftime("%m-%d %H:%M")
        note = (
            f" {event.note[:200]}" if event.action in ("progress", "resolve") and event.note else ""
        )
        lines.append(
            f"{stamp} {EVENT_LABELS.get(event.action, '•')} {_event_label(_, event.action)}{note}"
        )
    buttons: list[list[Button]] = []
    if records.state_allows(complaint, "write") and complaint.kind == "complaint":
        buttons.append(
            [complaint_button(_("✉ Write to the person handling it"), complaint, "write")]
        )
    buttons.append([turn.global_button(_("« My requests"), "requests")])
    turn.say("\n".join(lines), buttons)


def _event_label(_: Translate, action: str) -> str:
    labels = {
        "submitted": _("submitted"),
        "take": _("taken by customer service"),
        "assign": _("a butler is handling it"),
        "progress": _("progress:"),
        "resolve": _("resolved:"),
        "confirm": _("you confirmed it is resolved"),
        "reopen": _("reopened"),
        "close": _("closed"),
    }
    return labels.get(action, action)


# --- the relay ------------------------------------------------------------------------------


def ask_relay(turn: Turn, complaint: Complaint, side: str) -> None:
    """Start a message through the desk: the owner to the handler, or staff to the owner."""
    turn.goto("cmp_relay", {"cid": complaint.id, "side": side})
    RELAY.prompt(turn)


def _ask_relay(turn: Turn) -> None:
    _ = turn._
    turn.say(
        _("Type your message about this complaint, or send a photo. (/cancel to stop)"),
        [[turn.button(_("✖ Cancel"), "cancel")]],
    )


def _on_relay_press(turn: Turn, press: Press) -> None:
    from handlers.complaints.intake import cancel_dialog

    if press.action == "cancel":
        cancel_dialog(turn)
    else:
        _ask_relay(turn)


def _on_relay(turn: Turn) -> None:
    _ = turn._
    text = clean(turn.inbound.text)
    photo = turn.inbound.photo
    if not text and photo is None:
        turn.say(_("Please type your message in words, or send a photo."))
        return
    if len(text) > TEXT_LIMIT:
        turn.say(
            _("That is {count} characters; please keep it to {limit} or fewer.").format(
                count=len(text), limit=TEXT_LIMIT
            )
        )
        return
    data = turn.draft
    side = data.get("side")
    cid = data.get("cid")
    complaint = records.for_update(turn.session, cid) if isinstance(cid, int) else None
    action = "write" if side == "owner" else "relay"
    roles = roles_of(turn.session, turn.person.id) if turn.person is not None else set()
    if (
        complaint is None
        or turn.person is None
        or not records.permitted(roles, turn.person.id, complaint, action)
        or not records.state_allows(complaint, action)
    ):
        turn.goto(IDLE, {})
        turn.say(_("That complaint is closed, so the message was not sent."))
        return
    records.relayed(turn.session, complaint, turn.person.id, turn.desk.now(), text or "[photo]")
    photos = [photo] if photo is not None else []
    if action == "write":
        _owner_to_staff(turn, complaint, text, photos)
        turn.say(_("Sent. You will see the answer here."))
    else:
        _staff_to_owner(turn, complaint, text, photos)
        turn.say(_("Sent to the complainant through the desk."))
    turn.goto(IDLE, {})


def _owner_to_staff(turn: Turn, complaint: Complaint, text: str, photos: list[str]) -> None:
    """The complainant's words reach whoever holds the complaint; never who they are (R30)."""
    caller = complaint.callback_by_id if complaint.callback_status == "taken" else None
    holder = None if complaint.status == "closed" else records.handler_id(complaint)
    ids = {holder or (complaint.agent_id if complaint.status != "closed" else None), caller}
    ids.discard(None)
    people = [p for p in (turn.session.get(Person, i) for i in ids) if p is not None]

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        words = text or _("(a photo)")
        body = _("✉ From the complainant of {number}: «{text}»").format(
            number=complaint.number, text=words
        )
        return body, [[complaint_button(_("↩ Reply"), complaint, "relay")]]

    if not people:  # nobody holds it yet: the front desk's group sees it with the card
        group = turn.desk.complaint_group()
        if group is not None:
            body, _buttons = compose(_group_translate(turn))
            _queue_group(turn, group, body, photos)
        return
    for person in people:
        queue_for_person(turn.session, person, compose, photos, turn.inbound.channel)


def _group_translate(turn: Turn) -> Translate:
    return translator(turn.desk.default_language)


def _queue_group(turn: Turn, group: str, text: str, photos: list[str]) -> None:
    channel = turn.desk.staff_channel
    for message in [Outbound(group, text), *(Outbound(group, "", photo=p) for p in photos)]:
        if message.photo is not None and channel != turn.inbound.channel:
            continue
        turn.session.add(
            OutboxMessage(channel=channel, chat_id=group, payload=message.to_payload())
        )


def _staff_to_owner(turn: Turn, complaint: Complaint, text: str, photos: list[str]) -> None:
    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        words = text or _("(a photo)")
        body = _("💬 The desk about your complaint {number}: {text}").format(
            number=complaint.number, text=words
        )
        return body, [[complaint_button(_("↩ Reply"), complaint, "write")]]

    queue_for_person(turn.session, complaint.owner, compose, photos, turn.inbound.channel)


# --- the owner's verdict and the callback ---------------------------------------------------


def answer(turn: Turn, complaint: Complaint, verdict: str) -> None:
    """Resolved → closed and called back (R24, R25); not resolved → reopened and counted."""
    _ = turn._
    if verdict not in ("yes", "no"):
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    now = turn.desk.now()
    records.owner_answer(turn.session, complaint, verdict == "yes", now, hours_of(turn.desk))
    if verdict == "no":
        handler = turn.session.get(Person, records.handler_id(complaint) or 0)
        turn.say(
            _(
                "We are sorry it is not solved yet. {number} is reopened and the person "
                "handling it will follow up with you here."
            ).format(number=complaint.number)
        )
        if handler is not None:
            queue_for_person(
                turn.session,
                handler,
                lambda _: (
                    _(
                        "🔁 The complainant says {number} is not resolved; it is reopened "
                        "(reopened {count} times)."
                    ).format(number=complaint.number, count=complaint.reopen_count),
                    handler_buttons(_, complaint),
                ),
            )
        return
    turn.say(_("Thank you for confirming. {number} is closed.").format(number=complaint.number))
    start_callback(turn.session, complaint)


def start_callback(session: Session, complaint: Complaint) -> None:
    """R24/R25: ask supervisors and managers to call (flagged, class 2), else survey the owner."""
    if complaint.callback_method == "call":
        queue_for_people(
            session,
            bosses(session),
            lambda _: (
                _(
                    "📞 Callback needed for complaint {number} ({why}); a manager or supervisor "
                    "makes it (R25)."
                ).format(
                    number=complaint.number,
                    why=_("flagged") if complaint.flagged else _("class 2"),
                ),
                [[complaint_button(_("🙋 Take"), complaint, "cbtake")]],
            ),
        )
        queue_for_person(
            session,
            complaint.owner,
            lambda _: (
                _("A manager will contact you about {number} to hear how we did.").format(
                    number=complaint.number
                ),
                [],
            ),
        )
        return

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        body = _("How satisfied are you with how we handled {number}?").format(
            number=complaint.number
        )
        return body, [
            [complaint_button(_(label), complaint, "survey", key)]
            for key, label in RESULT_LABELS.items()
        ]

    queue_for_person(session, complaint.owner, compose)


def survey(turn: Turn, complaint: Complaint, result: str) -> None:
    """The owner's survey answer (R24)."""
    _ = turn._
    if result not in records.RESULTS:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    assert turn.person is not None
    records.record_callback(turn.session, complaint, result, turn.person.id, turn.desk.now())
    turn.say(_("Thank you for your feedback!"))


def take_callback(turn: Turn, complaint: Complaint, version: int) -> None:
    """The first manager or supervisor takes the call; they see how to reach the owner."""
    _ = turn._
    assert turn.person is not None
    if not records.take_callback(
        turn.session, complaint.id, version, turn.person.id, turn.desk.now()
    ):
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    turn.session.refresh(complaint)
    if complaint.anonymous:
        reach = _("The complainant is anonymous: message them through the desk with Reply.")
    else:
        reach = _("Complainant: {name}, phone {phone}").format(
            name=complaint.owner.name, phone=complaint.owner.phone or "-"
        )
    lines = [
        _("You took the callback for {number}.").format(number=complaint.number),
        reach,
        _("After the call, record how satisfied the complainant is:"),
    ]
    rows = [
        [complaint_button(_(label), complaint, "cbresult", key)]
        for key, label in RESULT_LABELS.items()
    ]
    rows.append([complaint_button(_("✉ Message the complainant"), complaint, "relay")])
    turn.say("\n".join(lines), rows)


def callback_result(turn: Turn, complaint: Complaint, result: str) -> None:
    """The caller records the outcome (R24)."""
    _ = turn._
    if result not in records.RESULTS:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    assert turn.person is not None
    records.record_callback(turn.session, complaint, result, turn.person.id, turn.desk.now())
    turn.say(_("Callback recorded. Thank you!"))


RELAY = Step("cmp_relay", _ask_relay, _on_relay, _on_relay_press)
register(RELAY)

__all__ = ["RELAY", "answer", "ask_relay", "show_mine", "tell_owner"]
