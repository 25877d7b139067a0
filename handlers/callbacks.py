"""Callbacks (回访, R20–R24): the survey the bot sends after service, the call an agent makes
when the answer is poor, and the record of both."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.i18n import Translate
from handlers.labels import N_, category_label, phone_label
from handlers.menu import show_menu
from handlers.messages import Button
from handlers.notify import queue_for_people, queue_for_person
from handlers.owner_text import field_text, one_line
from handlers.signoff import RATING_LABELS, call_promise
from handlers.steps import IDLE, Step, register
from handlers.timed import Due, TimerEffect
from handlers.turn import Press, Turn
from store import callbacks as records
from store.models import Callback, Person
from store.people import roles_of
from store.staff import people_with_role

TAG = "c"  # callback buttons: "c<callback version>|<action>|<callback id>[-<result>]"
CALLERS = frozenset({"agent", "supervisor", "manager"})  # who may make a callback call
ACTIONS = frozenset({"cbans", "cbtake", "cbout"})
NOTE_LIMIT = 1000


def callback_button(label: str, callback: Callback, action: str, extra: str = "") -> Button:
    """A button about a callback, valid only at the callback's current version."""
    arg = f"{callback.id}-{extra}" if extra else str(callback.id)
    return Button(label, f"{TAG}{callback.version}|{action}|{arg}")


def _result_buttons(_: Translate, callback: Callback, action: str) -> list[list[Button]]:
    return [
        [callback_button(_(label), callback, action, key) for key, label in RATING_LABELS.items()]
    ]


def _summary(_: Translate, callback: Callback) -> str:
    order = callback.order
    room = order.unit.code if order.unit is not None else "-"
    return _("{number} · {category} · room {room}").format(
        number=order.number, category=category_label(_, order.category), room=room
    )


# --- timer effects ------------------------------------------------------------------------


def send_survey(due: Due) -> None:
    """Ask the owner how the service went (R20, R21, R23)."""
    callback = due.session.get(Callback, due.timer.subject_id)
    if callback is None or callback.status != "scheduled":
        return
    if records.has_call(due.session, callback.order_id):
        callback.status = "skipped"  # a person already calls back about this order (R22)
        return
    order = callback.order
    records.survey_asked(due.session, callback, due.now)

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _(
            "Hello from the property office! How satisfied are you with our service on {number}?"
        ).format(number=order.number)
        return text, _result_buttons(_, callback, "cbans")

    queue_for_person(due.session, order.owner, compose)


def _callers(due: Due) -> list[Person]:
    return people_with_role(due.session, "agent") or people_with_role(
        due.session, "supervisor", "manager"
    )


def announce_call(due: Due) -> None:
    """Agents get a callback to make, with Take (R22)."""
    callback = due.session.get(Callback, due.timer.subject_id)
    if callback is None or callback.status != "open":
        return

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _("📞 Callback needed: {summary}. The owner answered “{result}”.").format(
            summary=_summary(_, callback), result=_result_label(_, callback)
        )
        return text, [[callback_button(_("🙋 Take"), callback, "cbtake")]]

    queue_for_people(due.session, _callers(due), compose)


def call_untaken(due: Due) -> None:
    """Nobody took a callback call in time: the supervisors are told."""
    callback = due.session.get(Callback, due.timer.subject_id)
    if callback is None or callback.status != "open":
        return
    minutes = int((due.now - callback.created_at).total_seconds() // 60)
    people = people_with_role(due.session, "supervisor") or people_with_role(due.session, "manager")

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _("⏰ Nobody has taken the callback for {summary} for {minutes} minutes.").format(
            summary=_summary(_, callback), minutes=minutes
        )
        return text, [[callback_button(_("🙋 Take"), callback, "cbtake")]]

    queue_for_people(due.session, people, compose)


def _result_label(_: Translate, callback: Callback) -> str:
    """What the owner said that made this call necessary: the survey answer or the rating."""
    result = records.owner_answer(callback.order) or ""
    return _(RATING_LABELS[result]) if result in RATING_LABELS else "-"


# --- button presses -----------------------------------------------------------------------


def on_press(turn: Turn, press: Press) -> None:
    """A callback button: the owner's answer, or a caller's Take / outcome."""
    _ = turn._
    callback_id, _sep, extra = press.arg.partition("-")
    version = press.version.removeprefix(TAG)
    callback = (
        turn.session.get(Callback, int(callback_id), with_for_update=True)
        if callback_id.isdigit()
        else None
    )
    if callback is None or not version.isdigit() or press.action not in ACTIONS:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    if press.action == "cbans":
        _owner_answer(turn, callback, int(version), extra)
    elif not _may_call(turn):
        turn.notice(_("Sorry, callbacks are made by customer-service staff."), alert=True)
    elif press.action == "cbtake":
        _take(turn, callback, int(version))
    else:
        _outcome(turn, callback, int(version), extra)


def _may_call(turn: Turn) -> bool:
    return turn.person is not None and bool(roles_of(turn.session, turn.person.id) & CALLERS)


def _owner_answer(turn: Turn, callback: Callback, version: int, result: str) -> None:
    _ = turn._
    if turn.person is None or callback.order.owner_id != turn.person.id:
        turn.notice(_("Sorry, that button is not for you."))
        return
    if version != callback.version or callback.status != "asked" or result not in records.RESULTS:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    call = records.answer_survey(turn.session, callback, result, turn.desk.now())
    if call is not None:
        turn.say(call_promise(turn, callback.order))
    turn.goto(OWNER_NOTE.name, {"callback_id": callback.id})
    OWNER_NOTE.ask(turn)


def _take(turn: Turn, callback: Callback, version: int) -> None:
    _ = turn._
    assert turn.person is not None
    if not records.take_call(turn.session, callback.id, version, turn.person.id, turn.desk.now()):
        turn.session.refresh(callback)
        holder = callback.handled_by
        if callback.status == "taken" and holder is not None:
            turn.notice(
                _("This callback is already taken by {name}.").format(name=one_line(holder.name)),
                alert=True,
            )
        else:
            turn.notice(_("That button is out of date, so nothing was changed."))
        return
    turn.session.refresh(callback)
    order = callback.order
    lines = [
        _("You took the callback for {summary}.").format(summary=_summary(_, callback)),
        _("Owner: {name}").format(name=one_line(order.owner.name)),
        _("Contact phone: {phone}").format(phone=phone_label(order.contact_phone)),
        _("Problem: {text}").format(text=field_text(order.description, 300)),
        _("After the call, record how satisfied the owner is:"),
    ]
    turn.say("\n".join(lines), _result_buttons(_, callback, "cbout"))


def _outcome(turn: Turn, callback: Callback, version: int, result: str) -> None:
    _ = turn._
    assert turn.person is not None
    mine = callback.handled_by_id == turn.person.id
    if not mine or callback.status != "taken" or version != callback.version:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    if result not in records.RESULTS:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    records.finish_call(turn.session, callback, result, None, turn.desk.now())
    turn.goto(CALLER_NOTE.name, {"callback_id": callback.id})
    CALLER_NOTE.ask(turn)


# --- optional notes -----------------------------------------------------------------------


@dataclass(frozen=True)
class NoteStep:
    """An optional free-text note after an answer: the question, its skip button, the thanks."""

    name: str
    question: str
    skip: str
    thanks: str

    def ask(self, turn: Turn) -> None:
        """Ask for the note, with a button to skip it."""
        _ = turn._
        turn.say(_(self.question), [[turn.button(_(self.skip), "skip")]])

    def on_input(self, turn: Turn) -> None:
        """Keep a typed note (on the callback the person answered or made), then finish."""
        _ = turn._
        text = (turn.inbound.text or "").strip()
        if not text or len(text) > NOTE_LIMIT:
            turn.say(
                _(
                    "Please type your note as text (up to {limit} characters), or press the button."
                ).format(limit=NOTE_LIMIT)
            )
            self.ask(turn)
            return
        _save_note(turn, text)
        self.finish(turn)

    def on_press(self, turn: Turn, press: Press) -> None:
        """Skip finishes; any other button asks again."""
        if press.action == "skip":
            self.finish(turn)
        else:
            self.ask(turn)

    def finish(self, turn: Turn) -> None:
        """Thank the person and show the menu."""
        turn.goto(IDLE, {})
        turn.say(turn._(self.thanks))
        show_menu(turn)


def _save_note(turn: Turn, text: str) -> None:
    callback = turn.session.get(Callback, int(turn.draft.get("callback_id", 0)))
    if callback is not None and turn.person is not None:
        owner = callback.order.owner_id == turn.person.id
        if owner or callback.handled_by_id == turn.person.id:
            callback.comment = text


OWNER_NOTE = NoteStep(
    "cb_owner_note",
    N_("Thank you! Would you like to add a comment? Type it now, or press No comment."),
    N_("No comment"),
    N_("Thank you for your feedback!"),
)
CALLER_NOTE = NoteStep(
    "cb_caller_note",
    N_("Recorded. Type a short note on the call (what the owner said), or press No note."),
    N_("No note"),
    N_("Callback recorded. Thank you!"),
)
for _note in (OWNER_NOTE, CALLER_NOTE):
    register(Step(_note.name, _note.ask, _note.on_input, _note.on_press))

EFFECTS: dict[str, TimerEffect] = {
    records.SURVEY: TimerEffect(send_survey, owner_facing=True),
    records.CALL_OPENED: TimerEffect(announce_call),
    records.CALL_UNTAKEN: TimerEffect(call_untaken),
}
