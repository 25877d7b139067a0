"""Complaint rules (R30–R34, R24, R25): intake, the first-press take, classification, progress,
resolution, reopening, the callback, and who may do what. Every change appends to the history,
bumps the version (older buttons go stale) and starts or cancels its timers in the same
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from store import progress, timers
from store.complaints.models import Complaint, ComplaintEvent, ComplaintPhoto, LiaisonForm
from store.hours import BusinessHours
from store.models import Person
from store.promises import policy_of

SUBJECTS = (
    "attitude",
    "cleaning",
    "security",
    "greening",
    "facilities",
    "noise",
    "parking",
    "fees",
    "building",
    "other",
)
LOCATIONS = ("home", "public", "elsewhere")
CLASSES = ("1", "2", "3", "invalid")
OPEN = ("new", "taken", "in_progress", "resolved")
ANONYMOUS_LIMIT = 3  # open anonymous complaints per person: the relay cannot flood staff
RESULTS = ("satisfied", "average", "unsatisfied")

# timers about a complaint (subject = complaint id); progress uses store.progress's family
UNCLASSIFIED = "complaint_unclassified"
PROGRESS_REMINDER = "complaint_progress_reminder"
LIAISON_DUE = "complaint_liaison_due"
AUTO_CLOSE = "complaint_auto_close"
DEADLINE = "complaint_deadline"  # R33: a hard case escalated with a deadline
PROGRESS_SUBJECT = "complaint"
ESCALATION = (("supervisor",), ("manager",))  # R33: 4 h → supervisor, 8 h → manager

# who may do what (R32, R33, R25): role sets; the rest are decided by the complaint's people
TAKERS = frozenset({"agent", "supervisor", "manager"})
CALLERS = frozenset({"supervisor", "manager"})  # R25: not the front desk
OVERSEERS = frozenset({"agent", "supervisor", "manager"})
STAFF_ACTIONS = (
    "take",
    "classify",
    "progress",
    "resolve",
    "flag",
    "escalate",
    "liaison",
    "relay",
    "cbtake",
    "cbresult",
)
OWNER_ACTIONS = ("write", "answer", "survey")


@dataclass(frozen=True)
class NewComplaint:
    """What the owner's intake collected (R30)."""

    kind: str
    subject: str
    description: str
    location: str
    place: str | None
    anonymous: bool
    photos: tuple[str, ...]
    channel: str


def _event(
    complaint: Complaint, action: str, actor_id: int | None, at: datetime, note: str | None = None
) -> ComplaintEvent:
    event = ComplaintEvent(at=at, actor_id=actor_id, action=action, note=note)
    complaint.events.append(event)
    complaint.version += 1
    return event


def open_anonymous(session: Session, owner_id: int) -> int:
    """How many anonymous complaints of this person are still open."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Complaint)
            .where(
                Complaint.owner_id == owner_id,
                Complaint.anonymous.is_(True),
                Complaint.status.in_(OPEN),
            )
        )
        or 0
    )


def create(
    session: Session,
    owner: Person,
    new: NewComplaint,
    number: str,
    at: datetime,
    classify_by: datetime,
    entered_by: Person | None = None,
    intake: str | None = None,
) -> Complaint:
    """Store a complaint (supervisors hear at `classify_by` if it is still unclassified) or a
    suggestion (logged, no clock); `entered_by` the agent who took it by phone or at the
    counter (`intake`, R1)."""
    complaint = Complaint(
        number=number,
        kind=new.kind,
        owner_id=owner.id,
        subject=new.subject,
        description=new.description,
        location=new.location,
        place=new.place,
        anonymous=new.anonymous and new.kind == "complaint",
        channel=new.channel,
        status="new" if new.kind == "complaint" else "logged",
        created_at=at,
        version=0,
        reopen_count=0,
    )
    session.add(complaint)
    for ref in new.photos:
        complaint.photos.append(ComplaintPhoto(channel=new.channel, file_ref=ref))
    _event(complaint, "submitted", (entered_by or owner).id, at, note=intake)
    session.flush()
    if complaint.kind == "complaint":
        timers.schedule(session, UNCLASSIFIED, complaint.id, classify_by)
    return complaint


def for_update(session: Session, complaint_id: int) -> Complaint | None:
    """A complaint, locked for the rest of the transaction."""
    return session.get(Complaint, complaint_id, with_for_update=True, populate_existing=True)


def take(session: Session, complaint_id: int, version: int, agent_id: int, at: datetime) -> bool:
    """首问负责制: the first valid press owns it. The database decides: of simultaneous
    presses exactly one UPDATE matches the row still new at that version."""
    result = session.execute(
        update(Complaint)
        .where(
            Complaint.id == complaint_id,
            Complaint.status == "new",
            Complaint.version == version,
        )
        .values(status="taken", agent_id=agent_id, taken_at=at, version=Complaint.version + 1)
    )
    if int(cast(CursorResult[Any], result).rowcount or 0) != 1:
        return False
    session.add(ComplaintEvent(complaint_id=complaint_id, at=at, actor_id=agent_id, action="take"))
    session.flush()
    session.expire_all()
    return True


def handler_id(complaint: Complaint) -> int | None:
    """Who reports progress and resolves: the butler of a class-1 complaint, else the agent."""
    return complaint.butler_id if complaint.klass == "1" else complaint.agent_id


@dataclass(frozen=True)
class Liaison:
    """A liaison form's fields (工作联络单)."""

    addressed_to: str
    request: str
    reply_due: datetime


def classify(
    session: Session,
    complaint: Complaint,
    klass: str,
    note: str,
    actor_id: int,
    at: datetime,
    *,
    butler_id: int | None = None,
    liaison: Liaison | None = None,
    referred_to: str | None = None,
    hours: BusinessHours | None = None,
) -> None:
    """Record the class with its note (R32) and what follows from it: a butler who reports
    every 4 h (class 1), a tracked liaison form (class 2), the body it was referred to
    (class 3), or the explanation that closes an invalid complaint."""
    if klass not in CLASSES or complaint.status != "taken":
        raise ValueError(f"cannot classify {complaint.number} as {klass!r} now")
    complaint.klass, complaint.class_note, complaint.classified_at = klass, note, at
    timers.cancel(session, complaint.id, (UNCLASSIFIED,), at)
    _event(complaint, f"class_{klass}", actor_id, at, note)
    if klass == "1":
        if butler_id is None:
            raise ValueError("class 1 needs a butler")
        complaint.butler_id = butler_id
        complaint.status = "in_progress"
        _event(complaint, "assign", actor_id, at, str(butler_id))
        _watch(session, complaint, at, hours)
    elif klass == "2":
        if liaison is None:
            raise ValueError("class 2 needs a liaison form")
        form = LiaisonForm(
            addressed_to=liaison.addressed_to,
            request=liaison.request,
            reply_due=liaison.reply_due,
            status="awaiting",
            created_at=at,
        )
        complaint.liaisons.append(form)
        complaint.status = "in_progress"
        session.flush()
        timers.schedule(session, LIAISON_DUE, complaint.id, liaison.reply_due, {"form": form.id})
        _watch(session, complaint, at, hours)
    else:
        if klass == "3":
            complaint.referred_to = referred_to
        _close(session, complaint, "referred" if klass == "3" else "invalid", at)
    session.flush()


def _watch(
    session: Session, complaint: Complaint, at: datetime, hours: BusinessHours | None
) -> None:
    """R33: progress every 4 h (of business hours when given); a reminder to the handler at
    3 h 30, then escalation."""
    policy = policy_of(session)
    progress.watch(
        session,
        PROGRESS_SUBJECT,
        complaint.id,
        complaint.number,
        at,
        policy.complaint_progress,
        ESCALATION,
        hours,
    )
    remind = policy.complaint_progress_reminder
    due = hours.add(at, remind) if hours is not None else at + remind
    timers.cancel(session, complaint.id, (PROGRESS_REMINDER,), at)
    timers.schedule(session, PROGRESS_REMINDER, complaint.id, due)


def _unwatch(session: Session, complaint: Complaint, at: datetime) -> None:
    progress.stop(session, PROGRESS_SUBJECT, complaint.id, at)
    timers.cancel(session, complaint.id, (PROGRESS_REMINDER,), at)


def _close(session: Session, complaint: Complaint, outcome: str, at: datetime) -> None:
    complaint.status, complaint.outcome, complaint.closed_at = "closed", outcome, at
    _unwatch(session, complaint, at)
    timers.cancel(session, complaint.id, (UNCLASSIFIED, AUTO_CLOSE, LIAISON_DUE, DEADLINE), at)
    _event(complaint, "close", None, at, outcome)


def report_progress(
    session: Session,
    complaint: Complaint,
    actor_id: int,
    text: str,
    at: datetime,
    hours: BusinessHours | None = None,
) -> None:
    """A progress update (R33): recorded, and the 4-hour clock starts again."""
    _event(complaint, "progress", actor_id, at, text)
    _watch(session, complaint, at, hours)
    session.flush()


def flag(session: Session, complaint: Complaint, actor_id: int, at: datetime) -> None:
    """R34: the complaint reached the company, media or government: tracked to the end."""
    complaint.flagged = True
    _event(complaint, "flag", actor_id, at)
    session.flush()


def escalate(
    session: Session, complaint: Complaint, actor_id: int, deadline: datetime, at: datetime
) -> None:
    """R33: a hard case goes to the managers with a deadline; if it is still open then, they
    hear again. A new deadline replaces the old one."""
    _event(complaint, "escalate", actor_id, at, deadline.isoformat())
    timers.cancel(session, complaint.id, (DEADLINE,), at)
    timers.schedule(session, DEADLINE, complaint.id, deadline, {"deadline": deadline.isoformat()})
    session.flush()


def liaison_replied(
    session: Session, complaint: Complaint, actor_id: int, text: str, at: datetime
) -> LiaisonForm | None:
    """The developer answered the oldest open liaison form; its reminder stops."""
    form = next((f for f in complaint.liaisons if f.status == "awaiting"), None)
    if form is None:
        return None
    form.status, form.reply, form.replied_at = "replied", text, at
    timers.cancel(session, complaint.id, (LIAISON_DUE,), at)
    _event(complaint, "liaison_reply", actor_id, at, text)
    session.flush()
    return form


def resolve(session: Session, complaint: Complaint, actor_id: int, text: str, at: datetime) -> None:
    """The handler says it is solved and what was done; the owner confirms within 72 h."""
    complaint.status, complaint.resolution, complaint.resolved_at = "resolved", text, at
    _unwatch(session, complaint, at)
    _event(complaint, "resolve", actor_id, at, text)
    policy = policy_of(session)
    timers.schedule(session, AUTO_CLOSE, complaint.id, at + policy.complaint_auto_close)
    session.flush()


def owner_answer(
    session: Session,
    complaint: Complaint,
    solved: bool,
    at: datetime,
    hours: BusinessHours | None = None,
) -> None:
    """The owner's verdict: closed and called back, or reopened (counted) and watched again."""
    timers.cancel(session, complaint.id, (AUTO_CLOSE,), at)
    if solved:
        _event(complaint, "confirm", complaint.owner_id, at)
        _close(session, complaint, "resolved", at)
        plan_callback(complaint)
    else:
        complaint.status = "in_progress"
        complaint.reopen_count += 1
        complaint.resolved_at = None
        _event(complaint, "reopen", complaint.owner_id, at)
        _watch(session, complaint, at, hours)
    session.flush()


def auto_close(session: Session, complaint: Complaint, at: datetime) -> bool:
    """No answer within 72 h: taken as resolved (as for repairs). False if no longer waiting."""
    if complaint.status != "resolved":
        return False
    _close(session, complaint, "auto_resolved", at)
    plan_callback(complaint)
    session.flush()
    return True


def plan_callback(complaint: Complaint) -> str:
    """R24, R25: flagged and class-2 complaints are called back by a manager or supervisor;
    others get the owner survey. Returns the method."""
    if complaint.flagged or complaint.klass == "2":
        complaint.callback_method, complaint.callback_status = "call", "open"
    else:
        complaint.callback_method, complaint.callback_status = "survey", "asked"
    return complaint.callback_method


def take_callback(
    session: Session, complaint_id: int, version: int, person_id: int, at: datetime
) -> bool:
    """The first manager or supervisor to press Take makes the call."""
    result = session.execute(
        update(Complaint)
        .where(
            Complaint.id == complaint_id,
            Complaint.callback_status == "open",
            Complaint.version == version,
        )
        .values(callback_status="taken", callback_by_id=person_id, version=Complaint.version + 1)
    )
    if int(cast(CursorResult[Any], result).rowcount or 0) != 1:
        return False
    session.add(
        ComplaintEvent(complaint_id=complaint_id, at=at, actor_id=person_id, action="cb_take")
    )
    session.flush()
    session.expire_all()
    return True


def record_callback(
    session: Session, complaint: Complaint, result: str, actor_id: int, at: datetime
) -> None:
    """The callback's outcome (R24): who, when, result."""
    if result not in RESULTS:
        raise ValueError(f"unknown result {result!r}")
    complaint.callback_result, complaint.callback_status = result, "done"
    complaint.callback_by_id, complaint.callback_at = actor_id, at
    _event(complaint, "callback", actor_id, at, result)
    session.flush()


def relayed(session: Session, complaint: Complaint, actor_id: int, at: datetime, text: str) -> None:
    """Record a relayed message in the history (the text, never who the owner is)."""
    complaint.events.append(ComplaintEvent(at=at, actor_id=actor_id, action="relay", note=text))
    session.flush()


# --- who may do what ------------------------------------------------------------------------


def permitted(roles: set[str], person_id: int, complaint: Complaint, action: str) -> bool:
    """Whether this person may press this complaint's `action` at all (state aside)."""
    people = {complaint.agent_id, complaint.butler_id, complaint.callback_by_id} - {None}
    if action in OWNER_ACTIONS:
        return person_id == complaint.owner_id
    if action == "take":
        return bool(roles & TAKERS)
    if action in ("classify", "butler", "liaison"):
        return person_id == complaint.agent_id and bool(roles & TAKERS)
    if action in ("progress", "resolve", "escalate"):
        return person_id == handler_id(complaint) and bool(roles)
    if action == "flag":
        return bool(roles) and (person_id in people or bool(roles & CALLERS))
    if action == "relay":
        return bool(roles) and person_id in people
    if action == "cbtake":
        return bool(roles & CALLERS)
    if action == "cbresult":
        return person_id == complaint.callback_by_id and bool(roles & CALLERS)
    if action == "view":
        return bool(roles & OVERSEERS) or person_id in people
    return False


def state_allows(complaint: Complaint, action: str) -> bool:
    """Whether the complaint's state still allows `action`."""
    open_work = complaint.status == "in_progress"
    return {
        "take": complaint.status == "new",
        "classify": complaint.status == "taken",
        "butler": complaint.status == "taken",
        "progress": open_work,
        "resolve": open_work,
        "escalate": open_work,
        "flag": complaint.status in OPEN and not complaint.flagged,
        "liaison": open_work
        and complaint.klass == "2"
        and any(f.status == "awaiting" for f in complaint.liaisons),
        "relay": complaint.status in OPEN or complaint.callback_status == "taken",
        "write": complaint.status in OPEN or complaint.callback_status == "taken",
        "answer": complaint.status == "resolved",
        "survey": complaint.callback_method == "survey" and complaint.callback_status == "asked",
        "cbtake": complaint.callback_status == "open",
        "cbresult": complaint.callback_status == "taken",
        "view": True,
    }.get(action, False)


# --- lists ----------------------------------------------------------------------------------


def complaints_of(session: Session, owner_id: int, limit: int = 10) -> list[Complaint]:
    """The owner's own complaints and suggestions, newest first."""
    return list(
        session.scalars(
            select(Complaint)
            .where(Complaint.owner_id == owner_id)
            .order_by(Complaint.created_at.desc(), Complaint.id.desc())
            .limit(limit)
        )
    )


def complaint_of_owner(session: Session, owner_id: int, complaint_id: int) -> Complaint | None:
    """One complaint, only if it is this owner's."""
    return session.scalar(
        select(Complaint).where(Complaint.id == complaint_id, Complaint.owner_id == owner_id)
    )


def open_for_staff(
    session: Session, person_id: int, roles: set[str], limit: int = 30
) -> list[Complaint]:
    """Open complaints a staff member may see: all for agents, supervisors and managers; a
    butler only those assigned to them."""
    query = select(Complaint).where(Complaint.status.in_(OPEN))
    if not roles & OVERSEERS:
        query = query.where((Complaint.butler_id == person_id) | (Complaint.agent_id == person_id))
    return list(session.scalars(query.order_by(Complaint.created_at, Complaint.id).limit(limit)))
