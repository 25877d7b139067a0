"""A fresh clone, tried as an operator would (issue 11.13, 11.15): the example estate is loaded
whenever the registry is empty, even after another command created the database; an
unreachable PostgreSQL and a malformed token stop with exit 3 and one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import EXIT_CONFIG, EXIT_OK, main
from store.models import PriceItem, Unit
from tests.test_cli import _count, env_db  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
NOWHERE = "postgresql+psycopg://desk:secret@127.0.0.1:1/propdesk"  # nothing listens on port 1


def test_examples_load_into_an_empty_registry_created_by_another_command(
    env_db: str,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`staff invite` first (it creates the database), then the first start: examples loaded;
    a second start leaves the registry alone."""
    main(["staff", "invite", "--role", "manager"])
    assert _count(env_db, Unit) == 0
    capsys.readouterr()
    assert main(["examples"]) == EXIT_OK
    out = capsys.readouterr().out
    units = _count(env_db, Unit)
    assert units > 0 and _count(env_db, PriceItem) > 0
    assert f"loaded the example estate ({units} units" in out and "3-2-1201" in out
    assert main(["examples"]) == EXIT_OK
    assert "the example estate was not loaded" in capsys.readouterr().out
    assert _count(env_db, Unit) == units


def test_bin_run_asks_the_registry_not_the_file() -> None:
    """bin/run loads the examples through `propdesk examples`, whether or not the file exists."""
    script = (ROOT / "bin" / "run").read_text(encoding="utf-8")
    assert "propdesk examples" in script
    assert "-f var/propdesk.db" not in script


@pytest.mark.parametrize("command", [["db", "upgrade"], ["timers"], ["staff", "list"]])
def test_unreachable_postgres_is_one_line_and_exit_3(
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No traceback: one line naming the database (without its password) and what to check."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROPDESK_DATABASE_URL", NOWHERE)
    assert main(command) == EXIT_CONFIG
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("cannot use the database postgresql+psycopg://desk:***@127.0.0.1:1")
    assert "secret" not in captured.err and "Traceback" not in captured.err


@pytest.mark.parametrize("token", ["not a token", "123456789", "123:abc def", "bot123:AAE"])
def test_malformed_token_is_named_without_asking_telegram(
    token: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A token that cannot be one is refused locally (not "cannot reach Telegram"), exit 3."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    monkeypatch.setenv("PROPDESK_DATABASE_URL", NOWHERE)  # never reached: checked before
    assert main(["run"]) == EXIT_CONFIG
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("invalid setting TELEGRAM_BOT_TOKEN")
