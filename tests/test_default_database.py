"""The default database is found from anywhere (issue 11.14): resolved once in the
installation's data folder (or PROPDESK_DATA_DIR), never the working directory, and a command
says which database it uses when none is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import EXIT_FAILED, EXIT_OK, main
from bot.config import DATA_DIR, Settings


def test_default_is_the_installations_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run from any folder, the default is the same absolute path under the installation."""
    monkeypatch.delenv("PROPDESK_DATABASE_URL", raising=False)
    monkeypatch.delenv("PROPDESK_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    url = Settings(_env_file=None).database_url  # type: ignore[call-arg]
    assert url == f"sqlite:///{DATA_DIR.resolve() / 'propdesk.db'}"
    assert Path(url.removeprefix("sqlite:///")).is_absolute()


def test_commands_from_two_folders_share_one_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`db upgrade` in one folder and `order show` in another use the same data folder's
    database, say so, and create nothing in the working directories."""
    data = tmp_path / "data"
    monkeypatch.delenv("PROPDESK_DATABASE_URL", raising=False)
    monkeypatch.setenv("PROPDESK_DATA_DIR", str(data))
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    assert main(["db", "upgrade"]) == EXIT_OK
    err = capsys.readouterr().err
    assert f"database: {data.resolve() / 'propdesk.db'} (the default" in err
    monkeypatch.chdir(second)
    assert main(["order", "show", "R-20261122-0001"]) == EXIT_FAILED  # no such order, same db
    assert str(data.resolve() / "propdesk.db") in capsys.readouterr().err
    assert (data / "propdesk.db").exists()
    assert not list(first.iterdir()) and not list(second.iterdir())


def test_a_configured_database_is_not_announced(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With PROPDESK_DATABASE_URL set, nothing extra is printed."""
    monkeypatch.setenv("PROPDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'mine.db'}")
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == EXIT_OK
    assert "database:" not in capsys.readouterr().err
