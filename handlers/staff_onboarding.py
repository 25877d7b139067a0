"""Staff join through a one-time invitation link: `/start <code>`."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.labels import DEPARTMENT_LABELS, ROLE_LABELS
from handlers.owner_text import one_line
from handlers.turn import Turn
from store.models import StaffInvite
from store.people import add_person
from store.staff import redeem_invite

INVITE_SHAPE = re.compile(r"[A-Za-z0-9_-]{24}")  # secrets.token_urlsafe(18), as issued


def is_invitation(session: Session, payload: str) -> bool:
    """Whether a /start payload is (or looks like) an invitation code; anything else, such as
    a QR code's `building3`, is where a newcomer came from."""
    if INVITE_SHAPE.fullmatch(payload):
        return True
    known = select(StaffInvite.id).where(StaffInvite.code == payload[:40])
    return session.scalar(known) is not None


def join_staff(turn: Turn, code: str) -> None:
    """Redeem an invitation; an unknown, used or expired code changes nothing."""
    _ = turn._
    savepoint = turn.session.begin_nested()
    unnamed = turn.person is None and turn.inbound.user_name in ("", turn.inbound.user_id)
    person = turn.person or add_person(
        turn.session,
        channel=turn.inbound.channel,
        external_id=turn.inbound.user_id,
        name=one_line(turn.inbound.user_name or turn.inbound.user_id, 50),
        language=turn.language,
    )
    invite = redeem_invite(turn.session, code[:40], person, turn.desk.now())
    if invite is None:
        savepoint.rollback()
        turn.say(
            _(
                "This invitation link is not valid: it may have expired or been used already. "
                "Please ask your manager for a new one."
            )
        )
        return
    savepoint.commit()
    if unnamed and invite.name:  # the channel told no name (WeCom): the invitation's
        person.name = one_line(invite.name, 50)
    turn.person = person
    role = _(ROLE_LABELS[invite.role])
    if invite.department:
        role = f"{role} ({_(DEPARTMENT_LABELS[invite.department])})"
    turn.say(
        _("Welcome to the team, {name}! You are now registered as {role}.").format(
            name=one_line(person.name), role=role
        )
    )
