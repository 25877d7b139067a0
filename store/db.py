"""Engines and the unit of work: one transaction per use case, rolled back unless committed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from store.clock import CLOCK_KEY, Clock, session_now, stamp_rows
from store.outbox import stamp_priorities

READ_ONLY = "propdesk_read_only"
# the drivers' words for a connection that may not write: SQLite's (a file or folder without
# write permission, a read-only mount, query_only) and PostgreSQL's (read-only transactions)
READ_ONLY_ERRORS = ("readonly database", "read-only transaction")
T = TypeVar("T")


def cannot_write(exc: BaseException) -> bool:
    """The database refuses writes for now (disk full, read-only, gone, locked too long), as
    opposed to a bug in what was written: worth retrying later, not apologising for."""
    if isinstance(exc, OperationalError):
        return True
    return refused_as_read_only(exc)


def refused_as_read_only(exc: BaseException) -> bool:
    """The connection used was opened read-only (the handle_error hook below has dropped it and
    every other connection opened before the refusal)."""
    return isinstance(exc, DBAPIError) and any(e in str(exc) for e in READ_ONLY_ERRORS)


def once_more_if_read_only(work: Callable[[], T]) -> T:
    """Run `work` (one whole transaction); if a read-only connection refused it, run it once
    more on a fresh one: a connection a reader opened while the database was read-only stays
    read-only after write permission returns, and WeChat and WeCom re-deliver a message only
    a few times, so one stale connection must not cost one of those tries (issue 14.2)."""
    try:
        return work()
    except DBAPIError as exc:
        if not refused_as_read_only(exc):
            raise
    return work()


def first_line(exc: BaseException) -> str:
    """A database error in one line, for a log that is not about a bug (no traceback)."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


class RefusedWrites:
    """An episode of the database refusing writes, logged once when it starts and once when it
    ends instead of a traceback on every retry (a 15 s read-only window logged 114)."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.refused = False

    def caught(self, exc: BaseException) -> bool:
        """Whether `exc` is the database refusing writes (then logged once per episode)."""
        if not cannot_write(exc):
            return False
        if not self.refused:
            self.refused = True
            reason = first_line(exc)
            self.logger.error("%s: the database takes no writes (%s); retrying", self.what, reason)
        return True

    def worked(self) -> None:
        """A write went through: the episode, if any, is over."""
        if self.refused:
            self.refused = False
            self.logger.warning("%s: the database takes writes again", self.what)


class DatabaseNotWritable(Exception):
    """The database can be read but not written (a read-only file, folder or server)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and immediate write locks."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _tune_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    _drop_read_only_connections(engine)
    return engine


def _drop_read_only_connections(engine: Engine) -> None:
    # SQLite opens a file it may not write read-only and keeps it so for the connection's life
    # (and a PostgreSQL session may be stuck read-only, e.g. a demoted primary); treating the
    # error as a disconnect drops this connection and the pool's others, so writes resume
    # within a poll or two once permissions return (issue 14.2)
    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        words = str(context.original_exception)
        if any(marker in words for marker in READ_ONLY_ERRORS):
            context.is_disconnect = True


def _tune_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN; take the write lock up front so two
    # writers queue on busy_timeout instead of failing on a lock upgrade.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # a reader (reports) must not hold the write lock: it takes a WAL snapshot instead
        reading = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


class UnitOfWork:
    """A session whose changes land only when `commit()` is called."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def commit(self) -> None:
        """Make every change of this unit of work durable."""
        self.session.commit()

    def rollback(self) -> None:
        """Forget every uncommitted change."""
        self.session.rollback()

    def now(self) -> datetime:
        """ "Now" by the desk's clock."""
        return session_now(self.session)

    @property
    def dialect(self) -> str:
        """The database dialect name, e.g. "sqlite" or "postgresql"."""
        return self.session.get_bind().dialect.name


UnitOfWorkFactory = Callable[[], AbstractContextManager[UnitOfWork]]


class Database:
    """The desk's database: an engine and a factory of units of work."""

    def __init__(self, url: str, clock: Clock, info: dict[str, Any] | None = None) -> None:
        self.url = url
        self.clock = clock
        self.engine = make_engine(url)
        # `info` reaches every session: the desk's one clock, the timer policy the rules read
        self._sessions = sessionmaker(
            self.engine, expire_on_commit=False, info={**(info or {}), CLOCK_KEY: clock}
        )
        stamp_rows(self._sessions)
        stamp_priorities(self._sessions)

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """Open a unit of work; anything not committed is rolled back on exit."""
        session = self._sessions()
        try:
            yield UnitOfWork(session)
        finally:
            session.rollback()
            session.close()

    @contextmanager
    def read_only(self) -> Iterator[Session]:
        """A session for long reads (reports) that sees one snapshot and, on SQLite, does not
        take the write lock, so owners' messages are not held up; nothing is committed."""
        session = self._sessions()
        options: dict[str, Any] = {READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":  # one consistent snapshot for the report
            options["isolation_level"] = "REPEATABLE READ"
        try:
            session.connection(execution_options=options)
            yield session
        finally:
            session.rollback()
            session.close()

    def check_writable(self) -> None:
        """Raise DatabaseNotWritable unless a write can be made: a write lock (BEGIN IMMEDIATE on
        SQLite) and a no-op UPDATE of alembic_version in a transaction that is rolled back."""
        from sqlalchemy.exc import DBAPIError

        try:
            with self.engine.connect() as conn, conn.begin() as tx:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
                tx.rollback()
        except DBAPIError as exc:
            reason = str(exc.orig or exc).strip().splitlines()
            where = self.engine.url.render_as_string(hide_password=True)
            raise DatabaseNotWritable(where, reason[0] if reason else type(exc).__name__) from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
