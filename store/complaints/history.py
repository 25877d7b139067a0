"""One complaint and its append-only history as text (`propdesk complaint show`): an anonymous
complainant stays unnamed (R30) unless a manager reveals them, which is itself recorded."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.complaints.models import Complaint, ComplaintEvent
from store.models import Person, PersonRole

REVEALERS = ("manager",)


class RevealRefused(PermissionError):
    """Only a manager may reveal an anonymous complainant."""


def may_reveal(session: Session, person_id: int) -> bool:
    """Whether this person holds a role that may reveal an anonymous complainant."""
    role = session.scalar(
        select(PersonRole.role).where(
            PersonRole.person_id == person_id, PersonRole.role.in_(REVEALERS)
        )
    )
    return role is not None


def complaint_history(
    session: Session,
    number: str,
    zone: ZoneInfo,
    at: datetime,
    reveal_by: int | None = None,
) -> list[str] | None:
    """Every fact of a complaint and each event (when, who, what); None if unknown. With
    `reveal_by` (a manager's person id) an anonymous complainant is named and the reveal is
    appended to the history; anyone else is refused."""
    complaint = session.scalar(select(Complaint).where(Complaint.number == number))
    if complaint is None:
        return None
    if reveal_by is not None:
        if not may_reveal(session, reveal_by):
            raise RevealRefused(f"person {reveal_by} is not a manager")
        if complaint.anonymous:
            complaint.events.append(
                ComplaintEvent(at=at, actor_id=reveal_by, action="reveal", note="cli")
            )
            session.flush()
    hidden = complaint.anonymous and reveal_by is None

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "-"

    actors = {e.actor_id for e in complaint.events if e.actor_id}
    names = {p.id: p.name for p in session.scalars(select(Person).where(Person.id.in_(actors)))}
    owner = complaint.owner
    if hidden:
        who = "anonymous (complainant not shown; --reveal --by MANAGER_ID)"
    else:
        room = owner.unit.code if owner.unit is not None else "-"
        who = f"{owner.name}  {owner.phone or '-'}  room {room}"
    lines = [
        f"{complaint.number}  {complaint.kind}  {complaint.status}"
        + (f"  ({complaint.outcome})" if complaint.outcome else ""),
        f"complainant: {who}",
        f"subject:     {complaint.subject}",
        f"where:       {complaint.location}" + (f" {complaint.place}" if complaint.place else ""),
        f"what:        {complaint.description}",
        f"class:       {complaint.klass or '-'}  {complaint.class_note or ''}".rstrip(),
        f"agent:       {complaint.agent.name if complaint.agent else '-'}",
        f"butler:      {complaint.butler.name if complaint.butler else '-'}",
        f"flagged:     {'yes' if complaint.flagged else 'no'}   reopened: {complaint.reopen_count}",
        f"callback:    {complaint.callback_method or '-'} {complaint.callback_result or ''}",
        f"photos:      {len(complaint.photos)}",
    ]
    for form in complaint.liaisons:
        lines.append(
            f"liaison:     to {form.addressed_to}, due {local(form.reply_due)}, {form.status}"
        )
    lines.append("history:")
    for event in complaint.events:
        if event.actor_id == complaint.owner_id:
            actor = "complainant" if hidden else names.get(event.actor_id, "?")
        else:
            actor = names.get(event.actor_id or -1, "system")
        lines.append(f"  {local(event.at)}  {actor:<12} {event.action} {event.note or ''}".rstrip())
    return lines
