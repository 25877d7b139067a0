"""Staff: roles, one-time invitations, and who may do what."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, select, update
from sqlalchemy.orm import Session

from store.models import Identity, Person, PersonRole, StaffInvite

ROLES = ("agent", "butler", "engineer", "cleaner", "gardener", "supervisor", "finance", "manager")
DEPARTMENTS = ("engineering", "cleaning", "greening")
INVITE_LIFETIME = timedelta(hours=72)


def create_invite(
    session: Session, role: str, department: str | None, now: datetime, name: str | None = None
) -> StaffInvite:
    """A single-use invitation code for a role, valid for 72 hours."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if department is not None and department not in DEPARTMENTS:
        known = ", ".join(DEPARTMENTS)
        raise ValueError(f"unknown department {department!r}; choose one of {known}")
    invite = StaffInvite(
        code=secrets.token_urlsafe(18),
        role=role,
        department=department,
        name=name,
        created_at=now,
        expires_at=now + INVITE_LIFETIME,
    )
    session.add(invite)
    session.flush()
    return invite


def redeem_invite(session: Session, code: str, person: Person, now: datetime) -> StaffInvite | None:
    """Bind the person to the invite's role; None if the code is unknown, used or expired.

    The single use is enforced by the database: of two people racing, one update wins."""
    won = _rowcount(
        session.execute(
            update(StaffInvite)
            .where(
                StaffInvite.code == code,
                StaffInvite.used_at.is_(None),
                StaffInvite.expires_at > now,
            )
            .values(used_at=now, used_by_id=person.id)
        )
    )
    if won != 1:
        return None
    invite = session.scalars(select(StaffInvite).where(StaffInvite.code == code)).one()
    held = session.scalar(
        select(PersonRole).where(PersonRole.person_id == person.id, PersonRole.role == invite.role)
    )
    if held is None:
        session.add(PersonRole(person_id=person.id, role=invite.role, department=invite.department))
    else:
        held.department = invite.department or held.department
    session.flush()
    return invite


@dataclass(frozen=True)
class StaffMember:
    """One line of the staff list."""

    person_id: int
    name: str
    roles: tuple[str, ...]


def staff_list(session: Session) -> list[StaffMember]:
    """Everyone holding a staff role, with their roles (department in brackets)."""
    rows = session.execute(
        select(Person.id, Person.name, PersonRole.role, PersonRole.department)
        .join(PersonRole, PersonRole.person_id == Person.id)
        .order_by(Person.id, PersonRole.role)
    ).all()
    members: dict[int, StaffMember] = {}
    for person_id, name, role, department in rows:
        label = f"{role} ({department})" if department else role
        old = members.get(person_id)
        members[person_id] = StaffMember(person_id, name, (*(old.roles if old else ()), label))
    return list(members.values())


def revoke(session: Session, person_id: int, role: str | None = None) -> int:
    """Take one role (or every role) away from a person; the number of roles removed."""
    query = delete(PersonRole).where(PersonRole.person_id == person_id)
    if role is not None:
        query = query.where(PersonRole.role == role)
    return _rowcount(session.execute(query))


def _rowcount(result: Result[Any]) -> int:
    """Rows touched by an UPDATE or DELETE."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def people_with_role(session: Session, *roles: str) -> list[Person]:
    """Everyone holding any of the roles."""
    return list(
        session.scalars(
            select(Person).join(PersonRole).where(PersonRole.role.in_(roles)).distinct()
        )
    )


def private_chats(session: Session, person_id: int) -> list[tuple[str, str]]:
    """(channel, chat id) of each private chat where the person can be reached."""
    return [
        (channel, external_id)
        for channel, external_id in session.execute(
            select(Identity.channel, Identity.external_id).where(Identity.person_id == person_id)
        )
    ]
