"""The entry point of complaints (R30–R35) for the router: intake, the lists, and every
complaint button. Buttons are untrusted, so the complaint is locked and the presser's role,
their tie to the complaint, its state and the button's version are all checked before anything
changes."""

from __future__ import annotations

from handlers.complaints import owner, staff
from handlers.complaints.common import TAG, decode
from handlers.complaints.effects import EFFECTS
from handlers.complaints.intake import cancel_dialog, start_intake
from handlers.turn import Press, Turn
from store.complaints import records
from store.complaints.models import Complaint
from store.people import roles_of

# actions whose buttons stay valid while the complaint is open (messages, the list)
UNVERSIONED = frozenset({"write", "relay", "view"})

__all__ = ["EFFECTS", "TAG", "cancel_dialog", "on_press", "show_list", "show_mine", "start_intake"]

show_list = staff.show_list
show_mine = owner.show_mine


def on_press(turn: Turn, press: Press) -> None:
    """A complaint button from anyone, anywhere: refuse what is not theirs, then act."""
    _ = turn._
    decoded = decode(press)
    action = press.action
    known = action in records.STAFF_ACTIONS or action in records.OWNER_ACTIONS or action == "view"
    complaint = records.for_update(turn.session, decoded[0]) if decoded is not None else None
    if decoded is None or complaint is None or not known:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    _id, version, extra = decoded
    roles = roles_of(turn.session, turn.person.id) if turn.person is not None else set()
    if turn.person is None or not records.permitted(roles, turn.person.id, complaint, action):
        turn.notice(_("Sorry, that button is not for you."), alert=True)
        return
    stale = action not in UNVERSIONED and version != complaint.version
    if stale or not records.state_allows(complaint, action):
        if action == "write" or action == "relay":
            turn.notice(_("That complaint is closed, so the message was not sent."))
        else:
            turn.notice(_("That button is out of date, so nothing was changed."))
        return
    if turn.inbound.chat_kind == "group" and action != "take":
        turn.notice(_("Please use that button in your private chat with me."))
        return
    _act(turn, complaint, action, version, extra)


def _act(turn: Turn, complaint: Complaint, action: str, version: int, extra: str) -> None:
    if action == "take":
        staff.take(turn, complaint, version)
    elif action == "classify":
        staff.ask_note(turn, complaint, extra)
    elif action == "progress":
        staff.ask_text(turn, complaint, "cmp_prog")
    elif action == "resolve":
        staff.ask_text(turn, complaint, "cmp_res")
    elif action == "liaison":
        staff.ask_text(turn, complaint, "cmp_lrep")
    elif action == "escalate":
        staff.ask_text(turn, complaint, "cmp_esc")
    elif action == "flag":
        staff.flag(turn, complaint)
    elif action == "relay":
        owner.ask_relay(turn, complaint, "staff")
    elif action == "write":
        owner.ask_relay(turn, complaint, "owner")
    elif action == "answer":
        owner.answer(turn, complaint, extra)
    elif action == "survey":
        owner.survey(turn, complaint, extra)
    elif action == "cbtake":
        owner.take_callback(turn, complaint, version)
    elif action == "cbresult":
        owner.callback_result(turn, complaint, extra)
    elif action == "view":
        staff.show_one(turn, complaint)
