"""Inbound updates already handled: where a duplicate delivery of any channel stops."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from store.clock import session_now
from store.models import ProcessedUpdate

_TABLE = ProcessedUpdate.metadata.tables[ProcessedUpdate.__tablename__]
_VALUES: dict[str, Any] = {c: bindparam(c) for c in ("channel", "update_id", "at")}


@cache
def _insert_once(dialect: str) -> ReturningInsert[tuple[int]]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id, a Core statement on the table built once
    per dialect: the ORM-enabled insert built per update cost more CPU than its round trip
    (issue 15.4). A row comes back only when it was inserted (with psycopg the rowcount did not
    say 1 for a fresh row). Built on first use, so a desk on SQLite never imports the
    PostgreSQL dialect at start (issue 15)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return (
            postgresql_insert(_TABLE)
            .values(_VALUES)
            .on_conflict_do_nothing()
            .returning(_TABLE.c.id)
        )
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(_TABLE).values(_VALUES).on_conflict_do_nothing().returning(_TABLE.c.id)
    raise KeyError(dialect)


def first_delivery(session: Session, channel: str, update_id: str) -> bool:
    """Record the update as handled in the session's transaction; False when it already was.
    One INSERT ... ON CONFLICT DO NOTHING RETURNING (SQLite and PostgreSQL): no savepoint
    around an ORM insert that may fail, two more statements and a flush on every update
    (issue 15).
    A concurrent first delivery of the same update waits on the key and then finds it taken."""
    statement = _insert_once(session.get_bind().dialect.name)
    values = {"channel": channel, "update_id": update_id, "at": session_now(session)}
    return session.execute(statement, values).first() is not None
