"""The propdesk command: --help, db upgrade, imports with meaningful exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from store.db import Database
from store.models import PriceItem, Unit
from tests.harness import EXAMPLES, MONDAY_MORNING, FakeClock


@pytest.fixture
def env_db(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> str:
    """Point the CLI at the test database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROPDESK_DATABASE_URL", db_url)
    return db_url


def _count(url: str, model: type) -> int:
    db = Database(url, FakeClock(MONDAY_MORNING))
    try:
        with db.unit_of_work() as uow:
            return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        db.dispose()


def test_help_lists_every_command() -> None:
    """`propdesk --help` works as an installed console script."""
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for word in ("run", "db", "units", "prices"):
        assert word in out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A bare `propdesk` shows the help with the usage exit code."""
    assert main([]) == EXIT_USAGE
    assert "usage" in capsys.readouterr().out


def test_imports_are_idempotent(env_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Importing the examples twice adds once, then changes nothing."""
    assert main(["db", "upgrade"]) == EXIT_OK
    assert main(["units", "import", str(EXAMPLES / "units.csv")]) == EXIT_OK
    assert main(["prices", "import", str(EXAMPLES / "prices.yaml")]) == EXIT_OK
    units, items = _count(env_db, Unit), _count(env_db, PriceItem)
    assert units >= 60 and items >= 35
    capsys.readouterr()
    assert main(["units", "import", str(EXAMPLES / "units.csv")]) == EXIT_OK
    assert main(["prices", "import", str(EXAMPLES / "prices.csv")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "0 added, 0 updated" in out
    assert (_count(env_db, Unit), _count(env_db, PriceItem)) == (units, items)


def test_a_bad_file_imports_nothing_and_names_each_line(
    env_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every bad row is reported with its line number; exit code 1; the table stays empty."""
    bad = tmp_path / "units.csv"
    bad.write_text(
        "building,unit,room,owner_name,phones\n"
        "1,1,101,王芳,13800138000\n"
        "1,1,,王芳,13800138000\n"
        "2,1,202,,12345\n",
        encoding="utf-8",
    )
    assert main(["units", "import", str(bad)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert f"{bad}:3:" in err and f"{bad}:4:" in err and "nothing was imported" in err
    assert _count(env_db, Unit) == 0


def test_missing_file_fails(env_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is a clear failure, not a stack trace."""
    assert main(["prices", "import", "nope.csv"]) == EXIT_FAILED
    assert "no such file" in capsys.readouterr().err
