"""Owner registrations that did not match the registry wait for an agent's Approve / Reject."""

from __future__ import annotations

from handlers.i18n import Translate
from handlers.labels import masked_phone
from handlers.messages import Button
from handlers.notify import notify_person
from handlers.owner_text import one_line
from handlers.turn import GLOBAL, Turn, parse_id
from store.models import Person
from store.people import roles_of
from store.staff import people_with_role

APPROVERS = frozenset({"agent", "supervisor", "manager"})


def ask_agents(turn: Turn, owner: Person) -> None:
    """Send a pending registration to every agent, with Approve / Reject buttons."""
    room = owner.unit.code if owner.unit is not None else "-"
    phone = masked_phone(owner.phone or "")

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        text = _(
            "New owner registration to check: {name}, room {room}, phone {phone}. The phone "
            "is not confirmed by the registry."
        ).format(name=one_line(owner.name), room=room, phone=phone)
        return text, [
            [
                Button(_("✅ Approve"), f"{GLOBAL}|approve|{owner.id}"),
                Button(_("❌ Reject"), f"{GLOBAL}|reject|{owner.id}"),
            ]
        ]

    for agent in people_with_role(turn.session, "agent"):
        notify_person(turn, agent, compose)


def decide(turn: Turn, owner_arg: str, approve: bool) -> None:
    """An agent's decision; anyone else, or a second decision, changes nothing."""
    _ = turn._
    if turn.person is None or not roles_of(turn.session, turn.person.id) & APPROVERS:
        turn.notice(_("Sorry, only customer-service staff can do that."), alert=True)
        return
    owner_id = parse_id(owner_arg)
    owner = turn.session.get(Person, owner_id) if owner_id is not None else None
    if owner is None or owner.owner_status != "pending":
        turn.notice(_("That registration was already handled, so nothing was changed."))
        return
    owner.owner_status = "verified" if approve else "rejected"
    room = owner.unit.code if owner.unit is not None else "-"
    if approve:
        turn.say(_("Approved: {name}, room {room}.").format(name=one_line(owner.name), room=room))
    else:
        turn.say(_("Rejected: {name}, room {room}.").format(name=one_line(owner.name), room=room))

    def tell_owner(_: Translate) -> tuple[str, list[list[Button]]]:
        if approve:
            return _("Good news: your registration for {room} is confirmed.").format(room=room), []
        return (
            _(
                "Sorry, we could not confirm your registration for {room}. Please call or visit "
                "the property office and we will sort it out."
            ).format(room=room),
            [],
        )

    notify_person(turn, owner, tell_owner)
