"""The owner's complaint or suggestion (R30, R31): type, subject, what happened, photos, where,
anonymous or not; then the apology, the thanks, the number and what happens next."""

from __future__ import annotations

from handlers import photo_step, typed
from handlers.complaints.common import (
    SHORT_LIMIT,
    SUBJECT_LABELS,
    TEXT_LIMIT,
    clean,
    hours_of,
)
from handlers.complaints.staff import post_card
from handlers.front_desk import FOR_OWNER, INTAKE, caller, is_agent
from handlers.i18n import Translate
from handlers.menu import show_menu
from handlers.messages import Button
from handlers.notify import notify_person
from handlers.steps import Step, choose_buttons_hint, enter, register
from handlers.turn import Press, Turn
from store.complaints.models import Complaint
from store.complaints.records import ANONYMOUS_LIMIT, NewComplaint, create, open_anonymous
from store.models import Person
from store.orders import next_order_number
from store.promises import policy_of


def start_intake(turn: Turn, typed_arg: str = "") -> None:
    """Begin a complaint or suggestion (with what was typed at the menu, when asked to), or
    resume the one in progress."""
    _ = turn._
    if turn.person is not None and turn.person.owner_status == "rejected":
        turn.say(
            _(
                "Your registration could not be confirmed, so I cannot take requests yet. "
                "Please call or visit the property office."
            )
        )
        return
    if turn.convo.step.startswith("cmp_") and turn.convo.step in INTAKE_STEPS:
        turn.say(_("Let us continue where you left off."))
        enter(turn, turn.convo.step, turn.draft)
        return
    text, photos = typed.taken(turn, typed_arg)  # issue 11.8: offered at the text step
    enter(turn, "cmp_type", {"photos": photos, typed.KEY: text} if text else {"photos": photos})


def cancel_dialog(turn: Turn) -> None:
    """Drop whatever complaint dialog is open; nothing is stored."""
    _ = turn._
    turn.goto("idle", {})
    turn.say(_("Cancelled. Nothing was saved."))
    if turn.person is not None:
        show_menu(turn)


def _nav(turn: Turn) -> list[Button]:
    _ = turn._
    return [turn.button(_("« Back"), "back"), turn.button(_("✖ Cancel"), "cancel")]


def _common(turn: Turn, press: Press, back_to: str | None) -> bool:
    if press.action == "cancel" or (press.action == "back" and back_to is None):
        cancel_dialog(turn)
        return True
    if press.action == "back" and back_to is not None:
        enter(turn, back_to, turn.draft)
        return True
    return False


# --- type ------------------------------------------------------------------------------------


def _ask_type(turn: Turn) -> None:
    _ = turn._
    turn.say(
        _("Is it a complaint or a suggestion?"),
        [
            [turn.button(_("📣 Complaint"), "type", "complaint")],
            [turn.button(_("💡 Suggestion"), "type", "suggestion")],
            [turn.button(_("✖ Cancel"), "cancel")],
        ],
    )


def _on_type(turn: Turn, press: Press) -> None:
    if _common(turn, press, None):
        return
    if press.action == "type" and press.arg in ("complaint", "suggestion"):
        data = turn.draft
        data["kind"] = press.arg
        enter(turn, "cmp_subject", data)
        return
    choose_buttons_hint(turn)


# --- subject ---------------------------------------------------------------------------------


def _ask_subject(turn: Turn) -> None:
    _ = turn._
    keys = list(SUBJECT_LABELS)
    rows = [
        [turn.button(_(SUBJECT_LABELS[k]), "subj", k) for k in keys[i : i + 2]]
        for i in range(0, len(keys), 2)
    ]
    rows.append(_nav(turn))
    turn.say(_("What is it about?"), rows)


def _on_subject(turn: Turn, press: Press) -> None:
    if _common(turn, press, "cmp_type"):
        return
    if press.action == "subj" and press.arg in SUBJECT_LABELS:
        data = turn.draft
        data["subject"] = press.arg
        enter(turn, "cmp_text", data)
        return
    choose_buttons_hint(turn)


# --- what happened ---------------------------------------------------------------------------


def _ask_text(turn: Turn) -> None:
    _ = turn._
    if turn.draft.get("kind") == "suggestion":
        question = _("Please write your suggestion.")
    else:
        question = _("Please tell us what happened.")
    use = typed.use_button(turn)
    turn.say(question + typed.quoted(turn), [use, _nav(turn)] if use else [_nav(turn)])


def _on_text(turn: Turn) -> None:
    _ = turn._
    text = clean(turn.inbound.text)
    if turn.inbound.photo is not None and not text:
        turn.say(_("Please type a few words first; you can send photos in the next step."))
        return
    if not text:
        turn.say(_("Please type what happened, in words."))
        return
    if len(text) > TEXT_LIMIT:
        turn.say(
            _("That is {count} characters; please keep it to {limit} or fewer.").format(
                count=len(text), limit=TEXT_LIMIT
            )
        )
        return
    data = turn.draft
    data["text"] = text
    data.pop(typed.KEY, None)
    photo_step.keep_captioned(turn, data)  # a photo with the words: keep the picture as well
    enter(turn, "cmp_photos", data)


def _on_text_press(turn: Turn, press: Press) -> None:
    data = turn.draft
    if press.action == typed.USE and data.get(typed.KEY):  # what was typed at the menu
        data["text"] = str(data.pop(typed.KEY))
        enter(turn, "cmp_photos", data)
        return
    if not _common(turn, press, "cmp_subject"):
        choose_buttons_hint(turn)


# --- photos ----------------------------------------------------------------------------------


def _ask_photos(turn: Turn) -> None:
    _ = turn._
    question = _("Send up to {limit} photos if they help, then tap the button.")
    photo_step.ask(turn, question.format(limit=photo_step.LIMIT), _nav(turn))


def _on_photos_press(turn: Turn, press: Press) -> None:
    if _common(turn, press, "cmp_text"):
        return
    if press.action == photo_step.DONE:
        enter(turn, "cmp_where", turn.draft)
        return
    choose_buttons_hint(turn)


# --- where -----------------------------------------------------------------------------------


def _ask_where(turn: Turn) -> None:
    _ = turn._
    turn.say(
        _("Where did it happen?"),
        [
            [
                turn.button(
                    _("🏠 The owner's home") if caller(turn) else _("🏠 My home"), "where", "home"
                )
            ],
            [turn.button(_("🏢 A public area"), "where", "public")],
            [turn.button(_("📍 Elsewhere (type where)"), "where", "elsewhere")],
            _nav(turn),
        ],
    )


def _on_where(turn: Turn, press: Press) -> None:
    if _common(turn, press, "cmp_photos"):
        return
    if press.action == "where" and press.arg in ("home", "public", "elsewhere"):
        data = turn.draft
        data["where"] = press.arg
        data.pop("place", None)
        if press.arg == "elsewhere":
            enter(turn, "cmp_place", data)
        else:
            _after_where(turn, data)
        return
    choose_buttons_hint(turn)


def _after_where(turn: Turn, data: dict[str, object]) -> None:
    # a caller who told the front desk is known to it: nothing to keep anonymous (R1)
    if data.get("kind") == "complaint" and data.get(FOR_OWNER) is None:
        enter(turn, "cmp_anon", dict(data))
    else:
        turn.keep(dict(data))
        _submit(turn, anonymous=False)


def _ask_place(turn: Turn) -> None:
    _ = turn._
    turn.say(_("Where was it? Type the place in a few words."), [_nav(turn)])


def _on_place(turn: Turn) -> None:
    _ = turn._
    text = clean(turn.inbound.text)
    if not text:
        turn.say(_("Please type the place in words."))
        return
    if len(text) > SHORT_LIMIT:
        turn.say(
            _("That is {count} characters; please keep it to {limit} or fewer.").format(
                count=len(text), limit=SHORT_LIMIT
            )
        )
        return
    data = turn.draft
    data["place"] = text
    _after_where(turn, data)


def _on_place_press(turn: Turn, press: Press) -> None:
    if not _common(turn, press, "cmp_where"):
        choose_buttons_hint(turn)


# --- anonymous? ------------------------------------------------------------------------------


def _ask_anon(turn: Turn) -> None:
    _ = turn._
    turn.say(
        _(
            "Would you like to stay anonymous? If so, staff will not see your name, room or "
            "phone; they can still write to you through me, and you can answer them here."
        ),
        [
            [turn.button(_("👤 Leave my name and room"), "anon", "no")],
            [turn.button(_("🕶 Stay anonymous"), "anon", "yes")],
            _nav(turn),
        ],
    )


def _on_anon(turn: Turn, press: Press) -> None:
    _ = turn._
    if _common(turn, press, "cmp_where"):
        return
    if press.action != "anon" or press.arg not in ("yes", "no"):
        choose_buttons_hint(turn)
        return
    anonymous = press.arg == "yes"
    assert turn.person is not None
    if anonymous and open_anonymous(turn.session, turn.person.id) >= ANONYMOUS_LIMIT:
        turn.say(
            _(
                "You already have {limit} anonymous complaints open, the most I can relay at "
                "once. You can file this one with your name, or wait until one is closed."
            ).format(limit=ANONYMOUS_LIMIT)
        )
        _ask_anon(turn)
        return
    _submit(turn, anonymous=anonymous)


def _on_text_in_button_step(turn: Turn) -> None:
    choose_buttons_hint(turn)


# --- submit ----------------------------------------------------------------------------------


def _submit(turn: Turn, *, anonymous: bool) -> None:
    _ = turn._
    data = turn.draft
    assert turn.person is not None
    filed_for = caller(turn)
    if data.get(FOR_OWNER) is not None and (filed_for is None or not is_agent(turn)):
        turn.goto("idle", {})  # the role is checked again at submit: it may be withdrawn
        turn.say(_("Sorry, only front-desk agents can enter requests for owners."))
        show_menu(turn)
        return
    intake = str(data.get(INTAKE, "phone")) if filed_for is not None else None
    now = turn.desk.now()
    new = NewComplaint(
        kind=str(data.get("kind")),
        subject=str(data.get("subject")),
        description=str(data.get("text")),
        location=str(data.get("where")),
        place=data.get("place") if isinstance(data.get("place"), str) else None,
        anonymous=anonymous,
        photos=tuple(str(p) for p in data.get("photos", [])),
        channel=turn.inbound.channel,
    )
    if new.kind not in ("complaint", "suggestion") or new.subject not in SUBJECT_LABELS:
        enter(turn, "cmp_type", {"photos": []})  # a draft from nowhere: start over
        return
    number = next_order_number(turn.session, "C", turn.desk.local(now).strftime("%Y%m%d"))
    due = hours_of(turn.desk).add(now, policy_of(turn.session).complaint_classify)
    owner, agent = (filed_for, turn.person) if filed_for is not None else (turn.person, None)
    complaint = create(turn.session, owner, new, number, now, due, entered_by=agent, intake=intake)
    post_card(turn, complaint)
    turn.goto("idle", {})
    if filed_for is not None:
        _tell_caller(turn, filed_for, complaint, intake)
        turn.say(
            _(
                "{number} is registered for {name} ({room}); they are told on their own channel."
            ).format(number=number, name=filed_for.name, room=data.get("room", ""))
        )
        show_menu(turn)
        return
    if complaint.kind == "suggestion":
        turn.say(
            _(
                "Thank you for your suggestion! It is logged as {number} and will be read by "
                "the management."
            ).format(number=number)
        )
    else:
        lines = [
            _("We are sorry for the trouble, and thank you for telling us."),
            _("Your complaint number is {number}.").format(number=number),
            _(
                "What happens next: a customer-service agent takes it and classifies it within "
                "30 minutes in business hours, then the person handling it keeps you updated "
                "here at least every 4 hours until it is solved."
            ),
        ]
        if complaint.anonymous:
            lines.append(
                _(
                    "You stay anonymous: staff write to you only through me, and you can "
                    "answer with the Reply button."
                )
            )
        turn.say("\n".join(lines))
    show_menu(turn)


def _tell_caller(turn: Turn, caller: Person, complaint: Complaint, intake: str | None) -> None:
    """The caller hears, in their own chat and language, what the desk filed for them (R1)."""
    number, suggestion = complaint.number, complaint.kind == "suggestion"

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        via = _("by phone") if intake == "phone" else _("at the counter")
        if suggestion:
            text = _(
                "The property desk logged your suggestion {number} ({via}); the management "
                "will read it."
            )
        else:
            text = _(
                "The property desk registered your complaint {number} ({via}). The person "
                "handling it keeps you updated here at least every 4 hours until it is solved."
            )
        return text.format(number=number, via=via), []

    notify_person(turn, caller, compose)


INTAKE_STEPS = {
    "cmp_type": Step("cmp_type", _ask_type, _on_text_in_button_step, _on_type),
    "cmp_subject": Step("cmp_subject", _ask_subject, _on_text_in_button_step, _on_subject),
    "cmp_text": Step("cmp_text", _ask_text, _on_text, _on_text_press),
    "cmp_photos": Step("cmp_photos", _ask_photos, photo_step.take, _on_photos_press),
    "cmp_where": Step("cmp_where", _ask_where, _on_text_in_button_step, _on_where),
    "cmp_place": Step("cmp_place", _ask_place, _on_place, _on_place_press),
    "cmp_anon": Step("cmp_anon", _ask_anon, _on_text_in_button_step, _on_anon),
}
for _step in INTAKE_STEPS.values():
    register(_step)
