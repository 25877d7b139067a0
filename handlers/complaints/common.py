"""What the complaint handlers share: button data, labels, text checks, and the staff view of a
complaint that never names an anonymous complainant (R30)."""

from __future__ import annotations

import unicodedata

from handlers.desk import Desk
from handlers.i18n import Translate
from handlers.labels import N_
from handlers.messages import Button
from handlers.turn import Press
from store.complaints.models import Complaint
from store.hours import BusinessHours

TAG = "k"  # complaint buttons: "k<complaint version>|<action>|<complaint id>[-<extra>]"
TEXT_LIMIT = 2000
SHORT_LIMIT = 200

SUBJECT_LABELS = {
    "attitude": N_("Service attitude"),
    "cleaning": N_("Cleaning"),
    "security": N_("Security"),
    "greening": N_("Greening"),
    "facilities": N_("Facilities"),
    "noise": N_("Noise and neighbours"),
    "parking": N_("Parking"),
    "fees": N_("Fees"),
    "building": N_("Building quality"),
    "other": N_("Other"),
}
CLASS_LABELS = {
    "1": N_("Class 1: property service at fault"),
    "2": N_("Class 2: developer / building quality"),
    "3": N_("Class 3: outside our jurisdiction"),
    "invalid": N_("Invalid"),
}
STATUS_LABELS = {
    "new": N_("waiting to be taken"),
    "taken": N_("being classified"),
    "in_progress": N_("being handled"),
    "resolved": N_("resolved, waiting for your answer"),
    "closed": N_("closed"),
    "logged": N_("logged"),
}
OUTCOME_LABELS = {
    "resolved": N_("Resolved, confirmed by the owner"),
    "auto_resolved": N_("Resolved, no answer in 72 h"),
    "referred": N_("Referred (class 3)"),
    "invalid": N_("Invalid, explained"),
}
RESULT_LABELS = {
    "satisfied": N_("😊 Satisfied"),
    "average": N_("😐 Average"),
    "unsatisfied": N_("😞 Unsatisfied"),
}


def complaint_button(label: str, complaint: Complaint, action: str, extra: str = "") -> Button:
    """A button about a complaint, drawn for its current version."""
    arg = f"{complaint.id}-{extra}" if extra else str(complaint.id)
    return Button(label, f"{TAG}{complaint.version}|{action}|{arg}"[:64])


def hours_of(desk: Desk) -> BusinessHours:
    """The desk's business hours: complaint clocks (R33, classification) run only then."""
    return BusinessHours(desk.opens, desk.closes, desk.timezone)


def decode(press: Press) -> tuple[int, int, str] | None:
    """(complaint id, version, extra) of a complaint button, or None when forged."""
    raw_id, _sep, extra = press.arg.partition("-")
    version = press.version.removeprefix(TAG)
    if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 9):
        return None
    if not (version.isascii() and version.isdigit() and len(version) <= 9):
        return None
    return int(raw_id), int(version), extra


def clean(text: str | None) -> str:
    """Typed text without invisible characters (zero-width, bidi, controls) around or inside;
    what is left is what a person can see."""
    kept = "".join(
        c for c in (text or "") if c in "\n" or unicodedata.category(c) not in ("Cc", "Cf", "Co")
    )
    return kept.strip()


def subject_label(_: Translate, subject: str) -> str:
    """The subject's name in a language."""
    return _(SUBJECT_LABELS.get(subject, SUBJECT_LABELS["other"]))


def status_label(_: Translate, complaint: Complaint) -> str:
    """The complaint's status in words."""
    return _(STATUS_LABELS.get(complaint.status, complaint.status))


def title(_: Translate, complaint: Complaint) -> str:
    """ "📣 Complaint C-…" or "💡 Suggestion C-…"."""
    if complaint.kind == "suggestion":
        return _("💡 Suggestion {number}").format(number=complaint.number)
    return _("📣 Complaint {number}").format(number=complaint.number)


def where_label(_: Translate, complaint: Complaint, *, reveal: bool) -> str:
    """Where it happened; the room only when the complainant is not anonymous (R30)."""
    if complaint.location == "public":
        return _("a public area")
    if complaint.location == "elsewhere":
        return _("elsewhere: «{place}»").format(place=complaint.place or "-")
    owner = complaint.owner
    if reveal and not complaint.anonymous and owner.unit is not None:
        return _("the complainant's home ({room})").format(room=owner.unit.code)
    return _("the complainant's home")


def staff_view(_: Translate, desk: Desk, complaint: Complaint, *, reveal: bool = False) -> str:
    """What staff see of a complaint: never the name, room, phone or account of an anonymous
    complainant; `reveal` adds name and phone of a named one for the person who handles it."""
    lines = [
        title(_, complaint),
        _("Subject: {subject}").format(subject=subject_label(_, complaint.subject)),
        _("Where: {where}").format(where=where_label(_, complaint, reveal=reveal)),
        _("What happened: «{text}»").format(text=complaint.description[:1500]),
        _("Photos: {count}").format(count=len(complaint.photos)),
        _("Received: {time}").format(time=desk.local(complaint.created_at).strftime("%m-%d %H:%M")),
    ]
    if complaint.anonymous:
        lines.append(_("🕶 Anonymous: reach the complainant only through the desk (Reply)."))
    elif reveal:
        owner = complaint.owner
        lines.append(
            _("Complainant: {name}, phone {phone}").format(
                name=owner.name, phone=owner.phone or "-"
            )
        )
    if complaint.klass is not None:
        lines.append(_("Class: {label}").format(label=_(CLASS_LABELS[complaint.klass])))
    if complaint.flagged:
        lines.append(_("🚩 Reached the company, media or government (R34)"))
    if complaint.reopen_count:
        lines.append(_("Reopened: {count} times").format(count=complaint.reopen_count))
    return "\n".join(lines)
