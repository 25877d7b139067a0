"""People and their channel identities."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from store.models import Identity, Person, PersonRole, Unit

# asked on every update: built once, run with parameters (building it, its operators and
# cache key, cost more CPU than running it; issue 15.4)
_BY_IDENTITY = (
    select(Person)
    .join(Identity)
    .where(Identity.channel == bindparam("channel"), Identity.external_id == bindparam("external"))
)
_ROLES = select(PersonRole.role).where(PersonRole.person_id == bindparam("person"))


def person_by_identity(session: Session, channel: str, external_id: str) -> Person | None:
    """The person behind a channel account, if registered."""
    return session.scalar(_BY_IDENTITY, {"channel": channel, "external": external_id})


def register_owner(
    session: Session,
    *,
    channel: str,
    external_id: str,
    name: str,
    unit: Unit,
    phone: str,
    verified: bool,
    language: str,
    source: str | None = None,
) -> Person:
    """Create an owner with one channel identity; verified when the phone matched the registry;
    `source` is where they came from (a link's or QR code's /start payload)."""
    person = Person(
        source=source,
        name=name,
        phone=phone,
        unit=unit,
        owner_status="verified" if verified else "pending",
        language=language,
    )
    session.add(person)
    session.add(Identity(person=person, channel=channel, external_id=external_id))
    session.flush()
    return person


def has_home(person: Person) -> bool:
    """Whether the person owns (or lives in) a registered home: only they may file repairs."""
    return person.unit_id is not None


def add_home(
    session: Session, person: Person, *, name: str, unit: Unit, phone: str, verified: bool
) -> Person:
    """A person known so far only as staff registers the home they own; roles are kept."""
    person.name = name
    person.unit = unit
    person.phone = phone
    person.owner_status = "verified" if verified else "pending"
    session.flush()
    return person


def owners_of_unit(session: Session, unit_id: int) -> list[Person]:
    """The confirmed owners registered for a home (R1: the front desk files for them)."""
    return list(
        session.scalars(
            select(Person)
            .where(Person.unit_id == unit_id, Person.owner_status == "verified")
            .order_by(Person.id)
        )
    )


def roles_of(session: Session, person_id: int) -> set[str]:
    """Every staff role a person holds."""
    return set(session.scalars(_ROLES, {"person": person_id}))


def add_person(
    session: Session, *, channel: str, external_id: str, name: str, language: str
) -> Person:
    """A person known only by a channel account so far (a new staff member)."""
    person = Person(name=name[:100], language=language)
    session.add(person)
    session.add(Identity(person=person, channel=channel, external_id=external_id))
    session.flush()
    return person
