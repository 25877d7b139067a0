"""Signing in to the web chat from a channel the person already uses (/web).

A sign-in link carries a random token, kept here only as its SHA-256: it is valid for
SIGN_IN_TTL on the desk's clock and works once (a conditional update decides, so two browsers
opening it at the same moment cannot both get in). Redeeming it makes the person's web
identity (one per person, reused by every browser they sign in from: the same chat, the same
orders) and a server-side session whose token the browser keeps in its cookie."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.models import Identity, Person, WebSession, WebSignIn

SIGN_IN_TTL = timedelta(minutes=15)
SESSION_TTL = timedelta(days=30)
WEB = "web"
TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What is stored of a token: a leaked table signs nobody in."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _token_shape_ok(token: str) -> bool:
    return len(token) == TOKEN_LENGTH and all(c.isalnum() or c in "-_" for c in token)


def new_sign_in(session: Session, person_id: int, channel: str, now: datetime) -> str:
    """A fresh one-time sign-in token for the person; their earlier unused links stop working."""
    session.execute(
        update(WebSignIn)
        .where(WebSignIn.person_id == person_id, WebSignIn.used_at.is_(None))
        .where(WebSignIn.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        WebSignIn(
            token_hash=digest(token), person_id=person_id, channel=channel,
            expires_at=now + SIGN_IN_TTL,
        )
    )  # fmt: skip
    session.flush()
    return token


@dataclass(frozen=True)
class SignedIn:
    """A redeemed link: the person, their web id and the new session's token (for the cookie)."""

    person: Person
    web_id: str
    session_token: str
    expires_at: datetime


def redeem_sign_in(session: Session, token: str, now: datetime) -> SignedIn | None:
    """Use a sign-in token once: None when it is unknown, forged, expired or already used."""
    if not _token_shape_ok(token):
        return None
    row = session.scalar(select(WebSignIn).where(WebSignIn.token_hash == digest(token)))
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    used = session.execute(
        update(WebSignIn)
        .where(WebSignIn.id == row.id, WebSignIn.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(used, "rowcount", 0) != 1:  # another browser redeemed it a moment ago
        return None
    person = session.get(Person, row.person_id)
    if person is None:
        return None
    web_id = web_identity(session, person)
    secret = "S" + secrets.token_urlsafe(32)  # no "." : never mistaken for a signed token
    expires = now + SESSION_TTL
    session.add(WebSession(token_hash=digest(secret), web_id=web_id, expires_at=expires))
    session.flush()
    return SignedIn(person, web_id, secret, expires)


def web_identity(session: Session, person: Person) -> str:
    """The person's web id: their existing one, or a new identity of the same person."""
    existing = session.scalar(
        select(Identity.external_id)
        .where(Identity.person_id == person.id, Identity.channel == WEB)
        .order_by(Identity.id)
        .limit(1)
    )
    if existing is not None:
        return existing
    web_id = "w" + secrets.token_hex(12)
    session.add(Identity(person=person, channel=WEB, external_id=web_id))
    session.flush()
    return web_id


def session_web_id(session: Session, token: str, now: datetime) -> str | None:
    """The web id a live server-side session token names, or None."""
    if not is_server_session(token):
        return None
    row = session.scalar(select(WebSession).where(WebSession.token_hash == digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row.web_id


def revoke_sessions(session: Session, web_id: str, now: datetime) -> int:
    """End every live session of a web id (signing out everywhere); how many were ended."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.web_id == web_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def is_server_session(token: str) -> bool:
    """Whether a cookie holds a server-side session token (not a signed web id)."""
    return token.startswith("S") and "." not in token and len(token) == TOKEN_LENGTH + 1
