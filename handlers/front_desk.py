"""The front desk files for callers (R1): an agent picks the room and owner, says how the request
came in ("phone" / "counter"), then runs the owner's own repair (or complaint) intake on their
behalf."""

from __future__ import annotations

from typing import Any

from handlers.menu import FRONT_DESK, show_menu
from handlers.steps import Step, choose_buttons_hint, enter, register
from handlers.turn import Press, Turn, parse_id
from store.models import Person, Unit
from store.people import owners_of_unit, roles_of
from store.units import find_unit, similar_units

INTAKE_CHANNELS = ("phone", "counter")
FOR_OWNER = "for_owner_id"  # draft keys the repair steps respect
INTAKE = "intake_channel"
KIND = "fd_kind"  # "complaint" when the caller brings a complaint or suggestion (R30)


def is_agent(turn: Turn) -> bool:
    """Whether the person writing holds a front-desk role (checked on every step: buttons are
    untrusted)."""
    return turn.person is not None and bool(roles_of(turn.session, turn.person.id) & FRONT_DESK)


def caller(turn: Turn) -> Person | None:
    """The owner a front-desk agent is filing for (R1), or None in the owner's own intake."""
    owner_id = turn.draft.get(FOR_OWNER)
    return turn.session.get(Person, owner_id) if isinstance(owner_id, int) else None


def refuse(turn: Turn) -> None:
    """Tell a non-agent this is not theirs; nothing changes."""
    _ = turn._
    turn.say(_("Sorry, only front-desk agents can enter requests for owners."))
    if turn.person is not None:
        show_menu(turn)


def start_for_owner(turn: Turn, *, complaint: bool = False) -> None:
    """Begin "New request (or complaint) for an owner": ask for the room."""
    if not is_agent(turn):
        refuse(turn)
        return
    enter(turn, "fd_room", {KIND: "complaint"} if complaint else {})


def _kind(turn: Turn) -> dict[str, Any]:
    """The draft key saying what the agent is filing, carried from step to step."""
    return {KIND: "complaint"} if turn.draft.get(KIND) == "complaint" else {}


def _cancel_button(turn: Turn) -> list[list[Any]]:
    _ = turn._
    return [[turn.button(_("✖ Cancel"), "cancel")]]


def cancel_for_owner(turn: Turn) -> None:
    """Drop the front-desk draft; nothing is stored."""
    _ = turn._
    turn.goto("idle", {})
    turn.say(_("Cancelled. Nothing was saved."))
    show_menu(turn)


def _ask_room(turn: Turn) -> None:
    _ = turn._
    if turn.draft.get(KIND) == "complaint":
        text = _("New complaint for an owner. Which room? Type it, for example 3-2-1201.")
    else:
        text = _("New request for an owner. Which room? Type it, for example 3-2-1201.")
    turn.say(text, _cancel_button(turn))


def _on_room(turn: Turn) -> None:
    _ = turn._
    if not is_agent(turn):
        refuse(turn)
        return
    text = (turn.inbound.text or "").strip()[:200]
    unit = find_unit(turn.session, text) if text else None
    if unit is not None:
        _unit_chosen(turn, unit)
        return
    near = similar_units(turn.session, text) if text else []
    rows = [[turn.button(u.code, "fdunit", str(u.id))] for u in near]
    rows += _cancel_button(turn)
    if near:
        turn.say(_("I could not find that room. Did you mean one of these?"), rows)
    else:
        turn.say(
            _("I could not find that room in the registry. Please type it like 3-2-1201."), rows
        )


def _refused_or_cancelled(turn: Turn, press: Press) -> bool:
    """Every front-desk press: a non-agent is refused (buttons are untrusted), Cancel ends."""
    if not is_agent(turn):
        refuse(turn)
        return True
    if press.action == "cancel":
        cancel_for_owner(turn)
        return True
    return False


def _on_room_press(turn: Turn, press: Press) -> None:
    if _refused_or_cancelled(turn, press):
        return
    unit_id = parse_id(press.arg) if press.action == "fdunit" else None
    unit = turn.session.get(Unit, unit_id) if unit_id is not None else None
    if unit is None:
        choose_buttons_hint(turn)
        return
    _unit_chosen(turn, unit)


def _unit_chosen(turn: Turn, unit: Unit) -> None:
    _ = turn._
    owners = owners_of_unit(turn.session, unit.id)
    if not owners:
        turn.say(
            _(
                "No owner of {room} is registered with the desk yet, so I cannot file for them "
                "here. Please ask them to register, or record the request by hand."
            ).format(room=unit.code),
            _cancel_button(turn),
        )
        return
    if len(owners) == 1:
        enter(turn, "fd_channel", {FOR_OWNER: owners[0].id, "room": unit.code, **_kind(turn)})
        return
    enter(turn, "fd_owner", {"unit_id": unit.id, "room": unit.code, **_kind(turn)})


def _ask_owner(turn: Turn) -> None:
    _ = turn._
    unit_id = turn.draft.get("unit_id")
    owners = owners_of_unit(turn.session, unit_id) if isinstance(unit_id, int) else []
    rows = [[turn.button(p.name, "fdowner", str(p.id))] for p in owners]
    rows += _cancel_button(turn)
    turn.say(_("Which owner of {room} is calling?").format(room=turn.draft.get("room", "")), rows)


def _on_owner_press(turn: Turn, press: Press) -> None:
    if _refused_or_cancelled(turn, press):
        return
    owner_id = parse_id(press.arg) if press.action == "fdowner" else None
    owner = turn.session.get(Person, owner_id) if owner_id is not None else None
    if owner is None or owner.unit_id != turn.draft.get("unit_id"):
        choose_buttons_hint(turn)
        return
    data = {FOR_OWNER: owner.id, "room": turn.draft.get("room", ""), **_kind(turn)}
    enter(turn, "fd_channel", data)


def _ask_channel(turn: Turn) -> None:
    _ = turn._
    owner = turn.session.get(Person, int(turn.draft[FOR_OWNER]))
    turn.say(
        _("For {name} ({room}). How did the request come in?").format(
            name=owner.name if owner is not None else "?", room=turn.draft.get("room", "")
        ),
        [
            [
                turn.button(_("📞 By phone"), "fdvia", "phone"),
                turn.button(_("🏢 At the counter"), "fdvia", "counter"),
            ],
            *_cancel_button(turn),
        ],
    )


def _on_channel_press(turn: Turn, press: Press) -> None:
    if _refused_or_cancelled(turn, press):
        return
    if press.action == "fdvia" and press.arg in INTAKE_CHANNELS:
        data = turn.draft
        data.update({INTAKE: press.arg, "photos": [], "albums": []})
        # the owner's own intake, run by the agent
        enter(turn, "cmp_type" if data.get(KIND) == "complaint" else "rep_where", data)
        return
    choose_buttons_hint(turn)


register(Step("fd_room", _ask_room, _on_room, _on_room_press))
register(Step("fd_owner", _ask_owner, choose_buttons_hint, _on_owner_press))
register(Step("fd_channel", _ask_channel, choose_buttons_hint, _on_channel_press))
