"""Sanity checks of the test database setup: both backends really run, and are isolated."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select, text

from tests.harness import MONDAY_MORNING, FakeClock

metadata = MetaData()
tickets = Table(
    "tickets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(200), nullable=False),
)

DIALECT = {"sqlite": "sqlite", "postgres": "postgresql"}


def test_roundtrip(db_url: str, db_backend: str, request: pytest.FixtureRequest) -> None:
    assert request.node.callspec.params["db_url"] == db_backend
    engine = create_engine(db_url)
    try:
        assert engine.dialect.name == DIALECT[db_backend]
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(tickets.insert(), [{"title": "漏水 / leak"}, {"title": "门禁 / door"}])
        with engine.connect() as conn:
            rows = conn.execute(select(tickets.c.title).order_by(tickets.c.id)).scalars().all()
        assert rows == ["漏水 / leak", "门禁 / door"]
    finally:
        engine.dispose()


def test_fresh_database_per_test(db_url: str) -> None:
    """Runs after test_roundtrip: its table must not be visible here."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                n = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname='public'"))
            else:
                n = conn.execute(text("SELECT count(*) FROM sqlite_master WHERE type='table'"))
            assert n.scalar_one() == 0
    finally:
        engine.dispose()


@pytest.mark.postgres_only
def test_for_update_skip_locked(db_url: str) -> None:
    """Two workers claiming rows: the second skips the row the first has locked."""
    engine = create_engine(db_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(tickets.insert(), [{"id": i, "title": f"t{i}"} for i in (1, 2, 3)])
        claim = (
            select(tickets.c.id).order_by(tickets.c.id).limit(1).with_for_update(skip_locked=True)
        )
        with engine.connect() as a, engine.connect() as b:
            with a.begin():
                assert a.execute(claim).scalar_one() == 1  # worker A locks row 1 ...
                with b.begin():
                    assert b.execute(claim).scalar_one() == 2  # ... so B gets row 2
                    compiled = str(claim.compile(engine))
                    assert "FOR UPDATE SKIP LOCKED" in compiled
    finally:
        engine.dispose()


def test_a_long_read_does_not_block_writers(db_url: str) -> None:
    """A report's read-only session leaves the write lock free (SQLite takes it at BEGIN)."""
    import threading

    from store.db import Database
    from store.migrate import upgrade
    from store.models import Unit

    upgrade(db_url)
    db = Database(db_url, FakeClock(MONDAY_MORNING))
    done = threading.Event()
    with db.read_only() as reader:
        assert reader.query(Unit).count() == 0

        def write() -> None:
            with db.unit_of_work() as uow:
                uow.session.add(
                    Unit(code="1-1-1", building="1", entrance="1", room="1", owner_name="x")
                )
                uow.commit()
            done.set()

        writer = threading.Thread(target=write)
        writer.start()
        assert done.wait(10), "the writer waited for the reader"
        writer.join()
        assert reader.query(Unit).count() == 0  # the reader keeps its snapshot
    with db.read_only() as reader:
        assert reader.query(Unit).count() == 1
    db.dispose()
