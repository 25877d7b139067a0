"""WeCom (企业微信) staff: who receives a department's cards, and the numbered menu last shown.

The menu reuses the Official Account's follower row (`wechat_followers`), keyed by the userid
with a "wecom:" prefix, so WeCom needs no table of its own."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from store import wechat
from store.jobs import FIELD_ROLES
from store.models import Conversation, Identity, PersonRole, WeChatFollower

CHANNEL = "wecom"
MENU_PREFIX = "wecom:"


def recipients(session: Session, department: str | None) -> list[str]:
    """The WeCom userids of the people who get a department's cards: its field staff and the
    supervisors of it (or of every department); for no department, everyone on the staff."""
    query = (
        select(Identity.external_id)
        .join(PersonRole, PersonRole.person_id == Identity.person_id)
        .where(Identity.channel == CHANNEL)
    )
    if department is not None:
        field_role = FIELD_ROLES.get(department, "engineer")
        query = query.where(
            PersonRole.role.in_((field_role, "supervisor")),
            or_(PersonRole.department == department, PersonRole.department.is_(None)),
        )
    return sorted(set(session.scalars(query.distinct())))


def _key(userid: str) -> str:
    return (MENU_PREFIX + userid)[:64]


def menu_of(session: Session, userid: str) -> wechat.Menu:
    """The numbered options last shown to a WeCom user."""
    row = session.get(WeChatFollower, _key(userid))
    if row is None or not row.menu:
        return []
    return [(str(label), str(data)) for label, data in row.menu]


def set_menu(session: Session, userid: str, menu: wechat.Menu) -> None:
    """Remember the options just shown, so a typed "1" maps back to a button after a restart."""
    wechat.follower(session, _key(userid)).menu = [[label, data] for label, data in menu]


def chat_language(session: Session, userid: str) -> str | None:
    """The language of a WeCom user's conversation, if known."""
    return session.scalar(
        select(Conversation.language).where(
            Conversation.channel == CHANNEL, Conversation.chat_id == userid
        )
    )
