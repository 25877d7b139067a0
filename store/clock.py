"""The desk's one clock: every timestamp the desk stores or compares comes from here.

The clock is injected at the composition root and carried by each unit of work (the session's
`info`), so rows stamped at insert (`created_at`, an event's `at`, an outbox row's first
attempt) take the same "now" as the rules that compare them. This module is the only place
allowed to read the wall clock (ruff's banned-api rule enforces it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

Clock = Callable[[], datetime]

CLOCK_KEY = "propdesk_clock"
# a column's `info[STAMP]`: "insert" = stamped once when the row is added, "update" = also
# whenever the row changes
STAMP = "propdesk_stamp"


def system_clock() -> datetime:
    """The wall clock, timezone-aware UTC: production's clock, chosen at the composition root."""
    return datetime.now(UTC)


def session_now(session: Session) -> datetime:
    """"Now" by the clock the unit of work was opened with."""
    clock = session.info.get(CLOCK_KEY)
    if clock is None:
        raise RuntimeError("this session carries no clock: open it through store.db.Database")
    now: datetime = clock()
    return now


def stamp_rows(factory: sessionmaker[Session]) -> None:
    """Fill stamped columns from the session's clock at flush (new rows; changed rows too for
    "update" stamps), so no model default ever reads the wall clock."""

    @event.listens_for(factory, "before_flush")
    def _stamp(session: Session, _context: Any, _instances: Any) -> None:
        if not session.new and not session.dirty:
            return
        now = session_now(session)
        _fill(session.new, now, ("insert", "update"), only_empty=True)
        changed = [row for row in session.dirty if session.is_modified(row)]
        _fill(changed, now, ("update",), only_empty=False)


def _fill(rows: Iterable[Any], now: datetime, kinds: tuple[str, ...], only_empty: bool) -> None:
    for row in rows:
        for column in row.__mapper__.columns:
            if column.info.get(STAMP) not in kinds:
                continue
            key = row.__mapper__.get_property_by_column(column).key
            if not only_empty or getattr(row, key) is None:
                setattr(row, key, now)
