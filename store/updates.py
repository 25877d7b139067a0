"""Inbound updates already handled: where a duplicate delivery of any channel stops."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from store.clock import session_now
from store.models import ProcessedUpdate


def first_delivery(session: Session, channel: str, update_id: str) -> bool:
    """Record the update as handled in the session's transaction; False when it already was.
    One INSERT ... ON CONFLICT DO NOTHING RETURNING (SQLite and PostgreSQL): no savepoint
    around an ORM insert that may fail, two more statements and a flush on every update
    (issue 15).
    A concurrent first delivery of the same update waits on the key and then finds it taken."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    statement = (
        insert(ProcessedUpdate)
        .values(channel=channel, update_id=update_id, at=session_now(session))
        .on_conflict_do_nothing()
        # a row comes back only when it was inserted (with psycopg the rowcount of this
        # ORM-enabled insert did not say 1 for a fresh row)
        .returning(ProcessedUpdate.id)
    )
    return session.execute(statement).first() is not None
