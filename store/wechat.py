"""WeChat followers (48-hour window, numbered menu), passive replies, the shared token."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import Conversation, OutboxMessage, WeChatFollower, WeChatToken

SERVICE_WINDOW = timedelta(hours=48)  # customer-service messages allowed after the last message
CHANNEL = "wechat"
Menu = list[tuple[str, str]]  # (label, callback data), numbered from 1


def follower(session: Session, openid: str) -> WeChatFollower:
    """The follower row of an openid, created on first sight."""
    row = session.get(WeChatFollower, openid)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(WeChatFollower(openid=openid, subscribed=True, menu=[]))
    except IntegrityError:  # created by a concurrent message of the same person
        pass
    return session.scalars(select(WeChatFollower).where(WeChatFollower.openid == openid)).one()


def record_inbound(session: Session, openid: str, at: datetime) -> None:
    """The person wrote to us: the customer-service window is open for 48 hours from now."""
    row = follower(session, openid)
    row.last_inbound_at = at
    row.subscribed = True


def record_subscription(session: Session, openid: str, at: datetime, subscribed: bool) -> None:
    """A subscribe or unsubscribe event."""
    row = follower(session, openid)
    row.subscribed = subscribed
    if subscribed:
        row.subscribed_at = at
        row.last_inbound_at = at
    else:
        row.unsubscribed_at = at
        row.menu = []


def window_open(session: Session, openid: str, now: datetime) -> bool:
    """Whether a customer-service message may still be sent (last message within 48 h)."""
    row = session.get(WeChatFollower, openid)
    return bool(row and row.last_inbound_at and now - row.last_inbound_at < SERVICE_WINDOW)


def menu_of(session: Session, openid: str) -> Menu:
    """The numbered options of the last message shown to the person."""
    row = session.get(WeChatFollower, openid)
    if row is None or not row.menu:
        return []
    return [(str(label), str(data)) for label, data in row.menu]


def set_menu(session: Session, openid: str, menu: Menu) -> None:
    """Remember the options just shown, so "1" maps back to a button after any restart."""
    follower(session, openid).menu = [[label, data] for label, data in menu]


def chat_language(session: Session, openid: str) -> str | None:
    """The language of the person's conversation, if known."""
    return session.scalar(
        select(Conversation.language).where(
            Conversation.channel == CHANNEL, Conversation.chat_id == openid
        )
    )


def take_pending(session: Session, openid: str, now: datetime) -> list[dict[str, Any]] | None:
    """Take every waiting message of a chat to answer in the HTTP response (passive reply):
    marked sent here, so the sender never sends them again. None when the sender holds one."""
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == CHANNEL,
            OutboxMessage.chat_id == openid,
            OutboxMessage.status == "pending",
        )
        .order_by(OutboxMessage.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    rows = list(session.scalars(query))
    if any(r.lease_until is not None and r.lease_until > now for r in rows):
        return None
    if not rows:
        return []
    taken = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_([r.id for r in rows]),
            OutboxMessage.status == "pending",
            OutboxMessage.lease_until.is_(None) | (OutboxMessage.lease_until <= now),
        )
        .values(
            status="sent",
            sent_at=now,
            external_id="passive",
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(taken, "rowcount", 0) != len(rows):
        return None
    return [dict(r.payload) for r in rows]


# --- the shared access token -----------------------------------------------------------------


def token_row(session: Session, app_id: str) -> WeChatToken:
    """The token row of an app, created empty on first use."""
    row = session.get(WeChatToken, app_id)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(WeChatToken(app_id=app_id, version=0))
    except IntegrityError:  # another worker created it first
        pass
    return session.scalars(select(WeChatToken).where(WeChatToken.app_id == app_id)).one()


def take_refresh(session: Session, app_id: str, version: int, now: datetime, lease: float) -> bool:
    """Become the one worker that fetches a new token (a conditional update on the version)."""
    result = session.execute(
        update(WeChatToken)
        .where(
            WeChatToken.app_id == app_id,
            WeChatToken.version == version,
            WeChatToken.refreshing_until.is_(None) | (WeChatToken.refreshing_until <= now),
        )
        .values(refreshing_until=now + timedelta(seconds=lease))
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def store_token(session: Session, app_id: str, token: str, expires_at: datetime) -> None:
    """Save a freshly fetched token for every worker and end the refresh lease."""
    session.execute(
        update(WeChatToken)
        .where(WeChatToken.app_id == app_id)
        .values(
            access_token=token,
            expires_at=expires_at,
            refreshing_until=None,
            version=WeChatToken.version + 1,
        )
        .execution_options(synchronize_session=False)
    )


def end_refresh(session: Session, app_id: str) -> None:
    """Give up the refresh lease after a failed fetch."""
    session.execute(
        update(WeChatToken)
        .where(WeChatToken.app_id == app_id)
        .values(refreshing_until=None)
        .execution_options(synchronize_session=False)
    )


def expire_token(session: Session, app_id: str, token: str, now: datetime) -> None:
    """WeChat refused this token: mark it expired, unless another worker already replaced it."""
    session.execute(
        update(WeChatToken)
        .where(WeChatToken.app_id == app_id, WeChatToken.access_token == token)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
