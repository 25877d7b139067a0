"""The migrations build exactly the schema the models describe, up and down, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from store.db import make_engine
from store.migrate import alembic_config, current_revision, upgrade
from store.models import Base


def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    """Every revision applies and reverts cleanly."""
    upgrade(db_url)
    head = current_revision(db_url)
    assert head is not None
    command.downgrade(alembic_config(db_url), "base")
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) == head


def test_models_and_migrations_agree(db_url: str) -> None:
    """No schema change is missing a migration (bin/new-migration writes one)."""
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
