"""The staff half of a complaint (R32–R34): the card with Take, classification with its note,
the butler, the liaison form, progress, the R34 flag, resolution, and the staff list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from handlers.complaints.common import (
    CLASS_LABELS,
    SHORT_LIMIT,
    TEXT_LIMIT,
    clean,
    complaint_button,
    hours_of,
    staff_view,
    status_label,
    subject_label,
)
from handlers.i18n import Translate, translator
from handlers.labels import N_
from handlers.messages import Button, Outbound
from handlers.notify import queue_for_people, queue_for_person
from handlers.steps import IDLE, Step, choose_buttons_hint, register
from handlers.turn import Press, Turn, parse_id
from store.complaints import records
from store.complaints.models import Complaint
from store.models import OutboxMessage, Person
from store.people import roles_of
from store.promises import policy_of
from store.staff import people_with_role

# --- cards and the people who hear of a complaint -------------------------------------------


def post_card(turn: Turn, complaint: Complaint) -> None:
    """Put the card in the staff group (agents privately when there is none): Take for a
    complaint; a suggestion is shown for the record."""
    session, desk = turn.session, turn.desk
    group = desk.complaint_group()
    if group is None:
        queue_for_people(session, agents(session), lambda _: _card(_, turn, complaint))
        return
    text, buttons = _card(translator(desk.default_language), turn, complaint)
    row = OutboxMessage(
        channel=desk.staff_channel,
        chat_id=group,
        payload=Outbound(group, text, buttons).to_payload(),
    )
    session.add(row)
    session.flush()
    complaint.card_outbox_id = row.id


def _card(_: Translate, turn: Turn, complaint: Complaint) -> tuple[str, list[list[Button]]]:
    text = staff_view(_, turn.desk, complaint)
    if complaint.kind == "suggestion":
        return text, []
    return text, [[complaint_button(_("🙋 Take"), complaint, "take")]]


def edit_card(turn: Turn, complaint: Complaint, line: str) -> None:
    """Show on the group card (buttons gone) where the complaint stands."""
    card = (
        turn.session.get(OutboxMessage, complaint.card_outbox_id)
        if complaint.card_outbox_id
        else None
    )
    if card is None:
        return
    _ = translator(turn.desk.default_language)
    text = f"{staff_view(_, turn.desk, complaint)}\n{line}"
    edit = card.external_id if card.status == "sent" else None
    # on the card's own channel, whichever channel the presser used
    message = Outbound(card.chat_id, text, [], edit_message_id=edit)
    turn.session.add(
        OutboxMessage(channel=card.channel, chat_id=card.chat_id, payload=message.to_payload())
    )


def agents(session: Session) -> list[Person]:
    """The front desk: agents, else supervisors and managers."""
    return people_with_role(session, "agent") or people_with_role(session, "supervisor", "manager")


def bosses(session: Session) -> list[Person]:
    """Supervisors and managers (R25, R34)."""
    return people_with_role(session, "supervisor", "manager")


def handler_buttons(_: Translate, complaint: Complaint) -> list[list[Button]]:
    """What the person handling an open complaint can do next."""
    rows = [
        [
            complaint_button(_("📝 Progress"), complaint, "progress"),
            complaint_button(_("✅ Resolved"), complaint, "resolve"),
        ],
        [complaint_button(_("✉ Message the complainant"), complaint, "relay")],
        [complaint_button(_("⏫ Escalate with a deadline"), complaint, "escalate")],
    ]
    if records.state_allows(complaint, "liaison"):
        rows.append([complaint_button(_("📨 Developer replied"), complaint, "liaison")])
    if not complaint.flagged:
        rows.append(
            [complaint_button(_("🚩 Reached company / media / government"), complaint, "flag")]
        )
    return rows


def class_buttons(_: Translate, complaint: Complaint) -> list[list[Button]]:
    """The four classes (R32), for the agent who took it."""
    return [
        [complaint_button(_(label), complaint, "classify", key)]
        for key, label in CLASS_LABELS.items()
    ] + [[complaint_button(_("✉ Message the complainant"), complaint, "relay")]]


def tell_owner(
    turn: Turn, complaint: Complaint, compose: Callable[[Translate], str], *, reply: bool = True
) -> None:
    """A message to the complainant (in their chats and language), with Reply while open."""

    def build(_: Translate) -> tuple[str, list[list[Button]]]:
        buttons = [[complaint_button(_("↩ Reply"), complaint, "write")]] if reply else []
        return compose(_), buttons

    queue_for_person(turn.session, complaint.owner, build)


# --- presses --------------------------------------------------------------------------------


def take(turn: Turn, complaint: Complaint, version: int) -> None:
    """首问负责制: the first press owns it; the taker gets the details and the classes."""
    _ = turn._
    assert turn.person is not None
    if not records.take(turn.session, complaint.id, version, turn.person.id, turn.desk.now()):
        turn.session.refresh(complaint)
        if complaint.agent is not None and complaint.status != "new":
            turn.notice(
                _("{number} is already taken by {name}.").format(
                    number=complaint.number, name=complaint.agent.name
                ),
                alert=complaint.agent_id != (turn.person.id if turn.person else None),
            )
        else:
            turn.notice(_("That button is out of date, so nothing was changed."))
        return
    turn.session.refresh(complaint)
    person = turn.person
    stamp = turn.desk.local(complaint.taken_at or turn.desk.now()).strftime("%H:%M")
    line = translator(turn.desk.default_language)(N_("✅ Taken by {name} at {time}"))
    edit_card(turn, complaint, line.format(name=person.name, time=stamp))

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        head = _("You took {number}. Classify it (a note is required):").format(
            number=complaint.number
        )
        return f"{head}\n{staff_view(_, turn.desk, complaint, reveal=True)}", class_buttons(
            _, complaint
        )

    photos = [p.file_ref for p in complaint.photos]
    queue_for_person(turn.session, person, compose, photos, complaint.channel)
    tell_owner(
        turn,
        complaint,
        lambda _: _("{name} of customer service has taken your complaint {number}.").format(
            name=person.name, number=complaint.number
        ),
    )


def ask_note(turn: Turn, complaint: Complaint, klass: str) -> None:
    """Start classification: the required note first."""
    if klass not in CLASS_LABELS:
        choose_buttons_hint(turn)
        return
    turn.goto("cmp_note", {"cid": complaint.id, "klass": klass})
    NOTE.prompt(turn)


def _draft_complaint(turn: Turn, action: str) -> Complaint | None:
    """The complaint a staff dialog is about, locked, if this person may still act on it."""
    _ = turn._
    cid = turn.draft.get("cid")
    complaint = records.for_update(turn.session, cid) if isinstance(cid, int) else None
    roles = roles_of(turn.session, turn.person.id) if turn.person is not None else set()
    ok = (
        complaint is not None
        and turn.person is not None
        and records.permitted(roles, turn.person.id, complaint, action)
        and records.state_allows(complaint, action)
    )
    if not ok or complaint is None:
        turn.goto(IDLE, {})
        turn.say(_("That complaint has moved on, so nothing was changed."))
        return None
    return complaint


def _typed(turn: Turn, limit: int) -> str | None:
    """The typed text of a staff step, or None after telling the person what is wrong."""
    _ = turn._
    text = clean(turn.inbound.text)
    if not text:
        turn.say(_("Please type it in words (or /cancel)."))
        return None
    if len(text) > limit:
        turn.say(
            _("That is {count} characters; please keep it to {limit} or fewer.").format(
                count=len(text), limit=limit
            )
        )
        return None
    return text


def _only_text_press(turn: Turn, press: Press) -> None:
    _ = turn._
    if press.action == "cancel":
        from handlers.complaints.intake import cancel_dialog

        cancel_dialog(turn)
        return
    turn.say(_("Please type it in words (or /cancel)."))


def _cancel_row(turn: Turn) -> list[list[Button]]:
    return [[turn.button(turn._("✖ Cancel"), "cancel")]]


# --- the classification note and what each class needs --------------------------------------


def _ask_note(turn: Turn) -> None:
    _ = turn._
    klass = str(turn.draft.get("klass"))
    if klass == "invalid":
        question = _("Type the explanation for the complainant (it is sent to them as written).")
    else:
        question = _("Type a short note on why it is {label}.").format(
            label=_(CLASS_LABELS.get(klass, "-"))
        )
    turn.say(question, _cancel_row(turn))


def _on_note(turn: Turn) -> None:
    text = _typed(turn, TEXT_LIMIT)
    if text is None:
        return
    data = turn.draft
    data["note"] = text
    klass = data.get("klass")
    if klass == "1":
        turn.goto("cmp_butler", data)
        BUTLER.prompt(turn)
    elif klass == "2":
        turn.goto("cmp_lto", data)
        LIAISON_TO.prompt(turn)
    elif klass == "3":
        turn.goto("cmp_ref", data)
        REFERRED.prompt(turn)
    else:
        _classify(turn, data)


def _ask_butler(turn: Turn) -> None:
    _ = turn._
    butlers = people_with_role(turn.session, "butler")
    if not butlers:
        turn.say(
            _("There is no butler on the staff yet; ask a manager to invite one, then try again."),
            _cancel_row(turn),
        )
        return
    rows = [[turn.button(p.name, "pick", str(p.id))] for p in butlers]
    turn.say(_("Which butler handles it?"), rows + _cancel_row(turn))


def _on_butler_press(turn: Turn, press: Press) -> None:
    if press.action == "cancel":
        _only_text_press(turn, press)
        return
    wanted = parse_id(press.arg) if press.action == "pick" else None
    butler = turn.session.get(Person, wanted) if wanted is not None else None
    if butler is None or "butler" not in roles_of(turn.session, butler.id):
        choose_buttons_hint(turn)
        return
    data = turn.draft
    data["butler"] = butler.id
    _classify(turn, data)


def _ask_liaison_to(turn: Turn) -> None:
    _ = turn._
    turn.say(_("Liaison form (工作联络单): who is it addressed to?"), _cancel_row(turn))


def _on_liaison_to(turn: Turn) -> None:
    text = _typed(turn, SHORT_LIMIT)
    if text is not None:
        data = turn.draft
        data["to"] = text
        turn.goto("cmp_lask", data)
        LIAISON_ASK.prompt(turn)


def _ask_liaison_ask(turn: Turn) -> None:
    _ = turn._
    turn.say(_("What is asked of them?"), _cancel_row(turn))


def _on_liaison_ask(turn: Turn) -> None:
    text = _typed(turn, TEXT_LIMIT)
    if text is not None:
        data = turn.draft
        data["ask"] = text
        turn.goto("cmp_ldue", data)
        LIAISON_DUE.prompt(turn)


def _ask_liaison_due(turn: Turn) -> None:
    _ = turn._
    turn.say(_("By which date should they reply? Type it as YYYY-MM-DD."), _cancel_row(turn))


def _typed_date(turn: Turn) -> date | None:
    """A typed date after today and within a year, or None after saying what is wrong."""
    _ = turn._
    try:
        day = date.fromisoformat(clean(turn.inbound.text))
    except ValueError:
        turn.say(_("Please type the date as YYYY-MM-DD, e.g. 2026-12-01."))
        return None
    today = turn.desk.local(turn.desk.now()).date()
    if not today < day <= today + timedelta(days=365):
        turn.say(_("Please give a date after today and within a year."))
        return None
    return day


def _on_liaison_due(turn: Turn) -> None:
    day = _typed_date(turn)
    if day is None:
        return
    data = turn.draft
    data["due"] = day.isoformat()
    _classify(turn, data)


def _ask_referred(turn: Turn) -> None:
    _ = turn._
    turn.say(_("Who was it referred to (the body responsible)?"), _cancel_row(turn))


def _on_referred(turn: Turn) -> None:
    text = _typed(turn, SHORT_LIMIT)
    if text is not None:
        data = turn.draft
        data["ref"] = text
        _classify(turn, data)


def _due_moment(turn: Turn, day: str) -> datetime:
    """9:00 local on the reply date: when the desk checks for the developer's answer."""
    return datetime.combine(date.fromisoformat(day), time(9, 0), tzinfo=turn.desk.timezone)


def _classify(turn: Turn, data: dict[str, object]) -> None:
    """Store the class and everything it needs at once, then tell everyone concerned."""
    _ = turn._
    complaint = _draft_complaint(turn, "classify")
    if complaint is None:
        return
    assert turn.person is not None
    klass, note = str(data.get("klass")), str(data.get("note"))
    now = turn.desk.now()
    butler = (
        turn.session.get(Person, data["butler"]) if isinstance(data.get("butler"), int) else None
    )
    liaison = None
    if klass == "2":
        liaison = records.Liaison(
            str(data["to"]), str(data["ask"]), _due_moment(turn, str(data["due"]))
        )
    records.classify(
        turn.session,
        complaint,
        klass,
        note,
        turn.person.id,
        now,
        butler_id=butler.id if butler is not None else None,
        liaison=liaison,
        referred_to=str(data.get("ref")) if klass == "3" else None,
        hours=hours_of(turn.desk),
    )
    turn.goto(IDLE, {})
    label = _(CLASS_LABELS[klass])
    turn.say(_("{number} recorded as {label}.").format(number=complaint.number, label=label))
    line = translator(turn.desk.default_language)(N_("Classified by {name}")).format(
        name=turn.person.name
    )
    edit_card(turn, complaint, line)
    if klass == "1" and butler is not None:
        _to_butler(turn, complaint, butler)
        tell_owner(
            turn,
            complaint,
            lambda _: _(
                "Your complaint {number} is being handled by our butler {name}, who will keep "
                "you updated here."
            ).format(number=complaint.number, name=butler.name),
        )
    elif klass == "2":
        turn.say(_("Keep this complaint moving:"), handler_buttons(_, complaint))
        tell_owner(
            turn,
            complaint,
            lambda _: _(
                "Your complaint {number} concerns the developer or the building's quality. We "
                "have sent them a liaison form and will follow up and report back to you here."
            ).format(number=complaint.number),
        )
    elif klass == "3":
        ref = complaint.referred_to or "-"
        tell_owner(
            turn,
            complaint,
            lambda _: _(
                "Your complaint {number} concerns something outside the property's "
                "responsibility. We have logged it and referred it to: {body}."
            ).format(number=complaint.number, body=ref),
            reply=False,
        )
    else:
        tell_owner(
            turn,
            complaint,
            lambda _: _(
                "About your complaint {number}: we looked into it carefully. {explanation}\n"
                "Thank you for telling us; if anything is unclear, please start a new request."
            ).format(number=complaint.number, explanation=note),
            reply=False,
        )


def _to_butler(turn: Turn, complaint: Complaint, butler: Person) -> None:
    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        head = _(
            "You handle {number}. Report progress here at least every 4 hours until it is solved."
        ).format(number=complaint.number)
        body = staff_view(_, turn.desk, complaint, reveal=True)
        return f"{head}\n{body}", handler_buttons(_, complaint)

    photos = [p.file_ref for p in complaint.photos]
    queue_for_person(turn.session, butler, compose, photos, complaint.channel)


# --- progress, resolution, liaison reply ----------------------------------------------------


def ask_text(turn: Turn, complaint: Complaint, step: str) -> None:
    """Ask the handler for the text of a progress update, resolution or liaison reply."""
    turn.goto(step, {"cid": complaint.id})
    TEXT_STEPS[step].prompt(turn)


def _ask_progress(turn: Turn) -> None:
    _ = turn._
    turn.say(_("Type the progress update (the complainant gets it as written)."), _cancel_row(turn))


def _on_progress(turn: Turn) -> None:
    _ = turn._
    text = _typed(turn, TEXT_LIMIT)
    if text is None:
        return
    complaint = _draft_complaint(turn, "progress")
    if complaint is None:
        return
    assert turn.person is not None
    now = turn.desk.now()
    records.report_progress(turn.session, complaint, turn.person.id, text, now, hours_of(turn.desk))
    turn.goto(IDLE, {})
    due = hours_of(turn.desk).add(now, policy_of(turn.session).complaint_progress)
    turn.say(
        _("Progress recorded. The next update is due by {time}.").format(
            time=turn.desk.local(due).strftime("%H:%M")
        ),
        handler_buttons(_, complaint),
    )
    tell_owner(
        turn,
        complaint,
        lambda _: _("📝 Update on your complaint {number}: {text}").format(
            number=complaint.number, text=text
        ),
    )


def _ask_resolution(turn: Turn) -> None:
    _ = turn._
    turn.say(
        _("What was done to solve it? The complainant will be asked to confirm."), _cancel_row(turn)
    )


def _on_resolution(turn: Turn) -> None:
    _ = turn._
    text = _typed(turn, TEXT_LIMIT)
    if text is None:
        return
    complaint = _draft_complaint(turn, "resolve")
    if complaint is None:
        return
    assert turn.person is not None
    records.resolve(turn.session, complaint, turn.person.id, text, turn.desk.now())
    turn.goto(IDLE, {})
    turn.say(
        _("{number} marked resolved; the complainant has been asked to confirm.").format(
            number=complaint.number
        )
    )

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        body = _(
            "✅ We believe your complaint {number} is resolved. What we did: {text}\n"
            "Is it resolved for you?"
        ).format(number=complaint.number, text=text)
        return body, [
            [
                complaint_button(_("👍 Yes, resolved"), complaint, "answer", "yes"),
                complaint_button(_("👎 Not resolved"), complaint, "answer", "no"),
            ]
        ]

    queue_for_person(turn.session, complaint.owner, compose)


def _ask_liaison_reply(turn: Turn) -> None:
    _ = turn._
    turn.say(
        _("What did the developer reply? The complainant gets it as written."), _cancel_row(turn)
    )


def _on_liaison_reply(turn: Turn) -> None:
    _ = turn._
    text = _typed(turn, TEXT_LIMIT)
    if text is None:
        return
    complaint = _draft_complaint(turn, "liaison")
    if complaint is None:
        return
    assert turn.person is not None
    now = turn.desk.now()
    records.liaison_replied(turn.session, complaint, turn.person.id, text, now)
    records.report_progress(turn.session, complaint, turn.person.id, text, now, hours_of(turn.desk))
    turn.goto(IDLE, {})
    turn.say(_("The developer's reply is recorded."), handler_buttons(_, complaint))
    tell_owner(
        turn,
        complaint,
        lambda _: _("📝 Update on your complaint {number}: {text}").format(
            number=complaint.number, text=text
        ),
    )


def _ask_deadline(turn: Turn) -> None:
    _ = turn._
    turn.say(
        _("Escalate to the managers: by which date must it be solved? Type it as YYYY-MM-DD."),
        _cancel_row(turn),
    )


def _on_deadline(turn: Turn) -> None:
    _ = turn._
    day = _typed_date(turn)
    if day is None:
        return
    complaint = _draft_complaint(turn, "escalate")
    if complaint is None:
        return
    assert turn.person is not None
    deadline = datetime.combine(day, turn.desk.closes, tzinfo=turn.desk.timezone)
    records.escalate(turn.session, complaint, turn.person.id, deadline, turn.desk.now())
    turn.goto(IDLE, {})
    turn.say(
        _("{number} is escalated to the managers, to be solved by {day}.").format(
            number=complaint.number, day=day.isoformat()
        ),
        handler_buttons(_, complaint),
    )
    name = turn.person.name
    queue_for_people(
        turn.session,
        people_with_role(turn.session, "manager"),
        lambda _: (
            _("⏫ {name} escalated {number} ({subject}); it must be solved by {day} (R33).").format(
                name=name,
                number=complaint.number,
                subject=subject_label(_, complaint.subject),
                day=day.isoformat(),
            ),
            [[complaint_button(_("🔎 Open"), complaint, "view")]],
        ),
    )


def flag(turn: Turn, complaint: Complaint) -> None:
    """R34: tracked to the end and reported upward."""
    _ = turn._
    assert turn.person is not None
    records.flag(turn.session, complaint, turn.person.id, turn.desk.now())
    buttons = handler_buttons(_, complaint) if records.state_allows(complaint, "progress") else []
    turn.say(
        _("{number} is flagged; supervisors and managers are told.").format(
            number=complaint.number
        ),
        buttons,
    )
    queue_for_people(
        turn.session,
        bosses(turn.session),
        lambda _: (
            _(
                "🚩 {number} reached the company, media or government (R34). It is tracked "
                "until it is closed."
            ).format(number=complaint.number),
            [],
        ),
    )


# --- the staff list -------------------------------------------------------------------------


def show_list(turn: Turn) -> None:
    """Open complaints the person may see: all for the front desk and bosses, a butler only
    their own."""
    _ = turn._
    assert turn.person is not None
    roles = roles_of(turn.session, turn.person.id)
    if not roles:
        turn.say(_("Sorry, that is for property staff."))
        return
    rows = records.open_for_staff(turn.session, turn.person.id, roles)
    if not rows:
        turn.say(_("No open complaints for you."))
        return
    buttons = [
        [
            complaint_button(
                f"{c.number} · {subject_label(_, c.subject)} · {status_label(_, c)}", c, "view"
            )
        ]
        for c in rows
    ]
    turn.say(_("Open complaints (oldest first):"), buttons)


def show_one(turn: Turn, complaint: Complaint) -> None:
    """One complaint for a staff member who may see it, with what they may do now."""
    _ = turn._
    assert turn.person is not None
    roles = roles_of(turn.session, turn.person.id)
    mine = turn.person.id in (complaint.agent_id, complaint.butler_id)
    text = _("{view}\nStatus: {status}").format(
        view=staff_view(_, turn.desk, complaint, reveal=mine), status=status_label(_, complaint)
    )
    buttons: list[list[Button]] = []
    if records.permitted(roles, turn.person.id, complaint, "take") and complaint.status == "new":
        buttons = [[complaint_button(_("🙋 Take"), complaint, "take")]]
    elif (
        records.permitted(roles, turn.person.id, complaint, "classify")
        and complaint.status == "taken"
    ):
        buttons = class_buttons(_, complaint)
    elif (
        records.permitted(roles, turn.person.id, complaint, "progress")
        and complaint.status == "in_progress"
    ):
        buttons = handler_buttons(_, complaint)
    turn.say(text, buttons)


NOTE = Step("cmp_note", _ask_note, _on_note, _only_text_press)
BUTLER = Step("cmp_butler", _ask_butler, lambda turn: choose_buttons_hint(turn), _on_butler_press)
LIAISON_TO = Step("cmp_lto", _ask_liaison_to, _on_liaison_to, _only_text_press)
LIAISON_ASK = Step("cmp_lask", _ask_liaison_ask, _on_liaison_ask, _only_text_press)
LIAISON_DUE = Step("cmp_ldue", _ask_liaison_due, _on_liaison_due, _only_text_press)
REFERRED = Step("cmp_ref", _ask_referred, _on_referred, _only_text_press)
TEXT_STEPS = {
    "cmp_prog": Step("cmp_prog", _ask_progress, _on_progress, _only_text_press),
    "cmp_res": Step("cmp_res", _ask_resolution, _on_resolution, _only_text_press),
    "cmp_lrep": Step("cmp_lrep", _ask_liaison_reply, _on_liaison_reply, _only_text_press),
    "cmp_esc": Step("cmp_esc", _ask_deadline, _on_deadline, _only_text_press),
}
for _step in (NOTE, BUTLER, LIAISON_TO, LIAISON_ASK, LIAISON_DUE, REFERRED, *TEXT_STEPS.values()):
    register(_step)
