"""The migrations build exactly the schema the models describe, up and down, on both databases."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from store.db import make_engine
from store.migrate import alembic_config, current_revision, head_revision, upgrade
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


def test_start_at_head_skips_alembic_and_a_start_behind_upgrades(db_url: str) -> None:
    """Every start calls `upgrade`; at the head it only reads the version (Alembic is not
    imported: ~0.3 s of start-up, issue 15.4), behind it migrates as before."""
    scripts = ScriptDirectory.from_config(alembic_config(db_url))
    assert head_revision() == scripts.get_current_head()  # the text reading agrees with Alembic
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()
    one_back = scripts.get_revision(head_revision()).down_revision
    assert isinstance(one_back, str)
    command.downgrade(alembic_config(db_url), one_back)
    assert current_revision(db_url) == one_back
    upgrade(db_url)  # a start after a release with a new migration
    assert current_revision(db_url) == head_revision()
    upgrade(db_url)  # and the next start: nothing to do
    assert current_revision(db_url) == head_revision()
