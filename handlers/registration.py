"""Owner registration: name, home (checked against the registry), phone (R1)."""

from __future__ import annotations

from handlers.approvals import ask_agents
from handlers.labels import masked_phone
from handlers.menu import show_menu
from handlers.steps import Step, choose_buttons_hint, enter, register
from handlers.turn import Press, Turn, parse_id
from store.models import Unit
from store.people import add_home, has_home, register_owner
from store.phones import parse_phone, phone_matches
from store.units import find_unit, parse_unit_code, similar_units

NAME_LIMIT = 50


def start_registration(turn: Turn, source: str | None = None) -> None:
    """Greet a newcomer and ask for their name; `source` (a /start payload that is not an
    invitation, e.g. a QR code's) is kept with the registration."""
    _ = turn._
    turn.say(
        _(
            "Welcome to the property service desk! I can take repair requests and keep you "
            "posted on them. First, a few details so we know who you are."
        )
    )
    enter(turn, "reg_name", {"source": source[:64]} if source else {})


def _source(turn: Turn) -> dict[str, str]:
    """The registration's source, carried from step to step (also when going back)."""
    source = turn.draft.get("source")
    return {"source": str(source)} if source else {}


def start_home_registration(turn: Turn) -> None:
    """A person known only as staff registers the home they own (they keep their roles)."""
    _ = turn._
    if turn.person is None or has_home(turn.person):
        show_menu(turn)
        return
    turn.say(_("Let us register your home, so that you can report repairs for it."))
    enter(turn, "reg_room", {"name": turn.person.name})


def _ask_name(turn: Turn) -> None:
    _ = turn._
    turn.say(_("What is your name?"))


def _on_name(turn: Turn) -> None:
    _ = turn._
    name = " ".join((turn.inbound.text or "").split())  # a name is one line (owner text is data)
    if not name:
        turn.say(_("Please type your name."))
        return
    if len(name) > NAME_LIMIT:
        turn.say(_("That is a bit long. Please keep your name under 50 characters."))
        return
    problem = not_a_name(turn, name)
    if problem is not None:
        turn.say(problem)
        return
    enter(turn, "reg_room", {**_source(turn), "name": name})


def not_a_name(turn: Turn, name: str) -> str | None:
    """Why typed text is not a person's name (a phone, a room, one character, no letters), as
    the polite question to ask again; None when it can be a name."""
    _ = turn._
    if parse_phone(name[:40]) is not None:
        return _(
            "That looks like a phone number; I will ask for it in a moment. First, please "
            "type your name, for example Li Na or 张伟."
        )
    if parse_unit_code(name) is not None:
        return _(
            "That looks like a room number; I will ask for your home next. First, please "
            "type your name, for example Li Na or 张伟."
        )
    letters = [c for c in name if c.isalpha()]
    if len(letters) < 2 or sum(c.isdigit() for c in name) > len(letters):
        return _(
            "That does not look like a name. Please type your name (at least two letters), "
            "for example Li Na or 张伟."
        )
    return None


def _on_name_press(turn: Turn, press: Press) -> None:
    _ask_name(turn)


def _ask_room(turn: Turn) -> None:
    _ = turn._
    turn.say(
        _("Which home do you live in? Type building-entrance-room, for example 3-2-1201."),
        [[turn.button(_("« Back"), "back")]],
    )


def _on_room(turn: Turn) -> None:
    _ = turn._
    text = (turn.inbound.text or "").strip()
    if not text:
        turn.say(_("Please type your room, for example 3-2-1201."))
        return
    unit = find_unit(turn.session, text[:100])
    if unit is not None:
        _room_chosen(turn, unit.id, unit.code)
        return
    near = similar_units(turn.session, text[:100])
    if near:
        rows = [[turn.button(u.code, "room", str(u.id))] for u in near]
        rows.append([turn.button(_("« Back"), "back")])
        turn.say(
            _("I could not find {room} in our register. Did you mean:").format(room=text[:40]), rows
        )
        return
    turn.say(
        _(
            "I could not find {room} in our register. Please check the number and type it "
            "again, for example 3-2-1201."
        ).format(room=text[:40])
    )


def _on_room_press(turn: Turn, press: Press) -> None:
    if press.action == "back":
        enter(turn, "reg_name", _source(turn))
        return
    unit_id = parse_id(press.arg) if press.action == "room" else None
    if unit_id is not None:
        unit = turn.session.get(Unit, unit_id)
        if unit is not None:
            _room_chosen(turn, unit.id, unit.code)
            return
    choose_buttons_hint(turn)


def _room_chosen(turn: Turn, unit_id: int, code: str) -> None:
    data = turn.draft
    data.update(unit_id=unit_id, unit_code=code)
    enter(turn, "reg_phone", data)


def _ask_phone(turn: Turn) -> None:
    _ = turn._
    # Telegram allows one keyboard per message: the share button and "Back" go separately
    turn.say(
        _(
            "Room {room}. What is your mobile number? Tap the button below to share it, or type it."
        ).format(room=turn.draft.get("unit_code", "")),
        ask_contact=_("📱 Share my phone number"),
    )
    turn.say(_("Wrong room?"), [[turn.button(_("« Back"), "back")]])


def _on_phone(turn: Turn) -> None:
    _ = turn._
    inbound = turn.inbound
    raw = inbound.contact_phone or (inbound.text or "").strip()
    phone = parse_phone(raw[:40]) if raw else None
    if phone is None:
        turn.say(
            _(
                "That does not look like a valid phone number. Please type an 11-digit "
                "mobile number, for example 138 1234 5678, or tap the share button."
            )
        )
        return
    # Telegram vouches for a shared contact only when it is the sender's own; a typed number
    # could be anybody's, so it never verifies the owner by itself
    proven = inbound.contact_phone is not None and inbound.contact_user_id == inbound.user_id
    _finish(turn, phone, proven)


def _on_phone_press(turn: Turn, press: Press) -> None:
    if press.action == "back":
        data = turn.draft
        enter(turn, "reg_room", {**_source(turn), "name": data.get("name", "")})
        return
    choose_buttons_hint(turn)


def _finish(turn: Turn, phone: str, proven: bool) -> None:
    _ = turn._
    data = turn.draft
    unit = turn.session.get(Unit, int(data["unit_id"]))
    if unit is None:  # the registry changed under us: ask again
        enter(turn, "reg_room", {**_source(turn), "name": data.get("name", "")})
        return
    matches = phone_matches(unit, phone)
    verified = matches and proven
    if turn.person is not None:  # staff registering their own home
        add_home(
            turn.session,
            turn.person,
            name=str(data["name"]),
            unit=unit,
            phone=phone,
            verified=verified,
        )
    else:
        turn.person = register_owner(
            turn.session,
            channel=turn.inbound.channel,
            external_id=turn.inbound.user_id,
            name=str(data["name"]),
            unit=unit,
            phone=phone,
            verified=verified,
            language=turn.language,
            source=str(data["source"]) if data.get("source") else None,
        )
    turn.goto("idle", {})
    if verified:
        turn.say(
            _("Thank you, {name}! You are registered for {room} with {phone}.").format(
                name=data["name"], room=unit.code, phone=masked_phone(phone)
            ),
            remove_keyboard=True,
        )
    elif matches:
        turn.say(
            _(
                "Thank you, {name}! A typed number is checked by our staff before your "
                "registration for {room} is confirmed. You will get a message when it is "
                "done; you can already report repairs."
            ).format(name=data["name"], room=unit.code),
            remove_keyboard=True,
        )
    else:
        turn.say(
            _(
                "Thank you, {name}! {phone} is not the number we have on file for {room}, "
                "so our staff will check and confirm your registration. You will get a "
                "message when it is done; you can already report repairs."
            ).format(name=data["name"], room=unit.code, phone=masked_phone(phone)),
            remove_keyboard=True,
        )
    if not verified:
        ask_agents(turn, turn.person)
    show_menu(turn)


register(Step("reg_name", _ask_name, _on_name, _on_name_press))
register(Step("reg_room", _ask_room, _on_room, _on_room_press))
register(Step("reg_phone", _ask_phone, _on_phone, _on_phone_press))
