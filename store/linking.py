"""One person, several channels: a short single-use code joins another account to a person.

How accounts are joined (`redeem`): the code was asked for by person P in one channel and is
typed in another channel by account A.
- A is not registered yet → A becomes another identity of P.
- A already belongs to P → nothing to do.
- A belongs to another person Q → Q is merged into P (Q's identities move to P, Q is removed;
  if only Q was registered as an owner, P takes Q's home, phone and status) — unless
  * P and Q are both registered owners of different homes ("different_homes"), or
  * Q already has records of its own — orders, roles, bills, events, anything that points at
    the person — which are never re-attributed ("has_records"): the office joins those.
- P already has an account in A's channel → refused ("channel_taken"), so a leaked code
  cannot add a stranger's second account.
A code is six digits, valid 10 minutes, used once (a conditional update decides)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from store.models import Base, Identity, LinkCode, Person, WebSignIn

CODE_TTL = timedelta(minutes=10)
Outcome = Literal[
    "linked", "merged", "already", "invalid", "same_channel", "channel_taken",
    "different_homes", "has_records",
]  # fmt: skip
_OWN_TABLES = frozenset({"identities", "link_codes", "web_sign_ins"})


@dataclass(frozen=True)
class LinkResult:
    """What redeeming a code did, and the person the account now belongs to."""

    outcome: Outcome
    person: Person | None = None


def new_code(session: Session, person_id: int, channel: str, now: datetime) -> str:
    """A fresh six-digit code for the person (their earlier live codes stop working)."""
    session.execute(
        update(LinkCode)
        .where(LinkCode.person_id == person_id, LinkCode.used_at.is_(None))
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    while True:
        code = f"{secrets.randbelow(1_000_000):06d}"
        if _live(session, code, now) is None:
            break
    session.add(
        LinkCode(
            code=code, person_id=person_id, channel=channel, created_at=now,
            expires_at=now + CODE_TTL,
        )
    )  # fmt: skip
    session.flush()
    return code


def _live(session: Session, code: str, now: datetime) -> LinkCode | None:
    return session.scalar(
        select(LinkCode)
        .where(LinkCode.code == code, LinkCode.used_at.is_(None), LinkCode.expires_at > now)
        .order_by(LinkCode.id.desc())
        .limit(1)
    )


def redeem(
    session: Session, code: str, channel: str, external_id: str, now: datetime
) -> LinkResult:
    """Join the account (channel, external_id) to the person who asked for `code`."""
    row = _live(session, code, now)
    if row is None:
        return LinkResult("invalid")
    target = session.get(Person, row.person_id)
    if target is None:
        return LinkResult("invalid")
    if row.channel == channel:
        return LinkResult("same_channel", target)
    identity = session.scalar(
        select(Identity).where(Identity.channel == channel, Identity.external_id == external_id)
    )
    if identity is not None and identity.person_id == target.id:
        return LinkResult("already", target)
    taken = session.scalar(
        select(Identity.id).where(Identity.person_id == target.id, Identity.channel == channel)
    )
    if taken is not None:
        return LinkResult("channel_taken", target)
    other = identity.person if identity is not None else None
    if other is not None:
        refusal = _refusal(session, other, target)
        if refusal is not None:
            return LinkResult(refusal, target)
    if not _use(session, row.id, now):  # someone redeemed it a moment ago
        return LinkResult("invalid")
    if other is None:
        session.add(Identity(person=target, channel=channel, external_id=external_id))
        session.flush()
        return LinkResult("linked", target)
    _merge(session, other, target)
    return LinkResult("merged", target)


def _use(session: Session, code_id: int, now: datetime) -> bool:
    result = session.execute(
        update(LinkCode)
        .where(LinkCode.id == code_id, LinkCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def _refusal(session: Session, other: Person, target: Person) -> Outcome | None:
    both_owners = other.owner_status is not None and target.owner_status is not None
    if both_owners and other.unit_id != target.unit_id:
        return "different_homes"
    if records_of(session, other.id):
        return "has_records"
    return None


def records_of(session: Session, person_id: int) -> int:
    """How many rows anywhere point at the person, besides their identities and link codes."""
    people = Base.metadata.tables["people"]
    total = 0
    for table in Base.metadata.sorted_tables:
        if table.name in _OWN_TABLES:
            continue
        for fk in table.foreign_keys:
            if fk.column.table is people:
                count = session.scalar(
                    select(func.count()).select_from(table).where(fk.parent == person_id)
                )
                total += int(count or 0)
    return total


def _merge(session: Session, other: Person, target: Person) -> None:
    """Move the other person's accounts to the target and remove the other person."""
    if target.owner_status is None and other.owner_status is not None:
        target.unit_id, target.phone = other.unit_id, other.phone
        target.owner_status = other.owner_status
    session.execute(
        update(Identity)
        .where(Identity.person_id == other.id)
        .values(person_id=target.id)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(LinkCode).where(LinkCode.person_id == other.id))
    session.execute(delete(WebSignIn).where(WebSignIn.person_id == other.id))
    session.flush()
    session.expire_all()
    session.execute(delete(Person).where(Person.id == other.id))
    session.flush()
