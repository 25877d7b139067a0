"""`propdesk report daily|monthly` (R51, R52): digest on stdout, workbook on disk, exit codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from openpyxl import load_workbook

from bot.cli import EXIT_FAILED, EXIT_OK, main
from store import migrate
from store.db import Database
from tests.harness import MONDAY_MORNING, FakeClock
from tests.test_reports_daily import seed


@pytest.fixture
def env_db(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> str:
    """Point the CLI at a test database holding the seeded estate."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROPDESK_DATABASE_URL", db_url)
    monkeypatch.setenv("PROPDESK_TIMEZONE", "Asia/Shanghai")
    migrate.upgrade(db_url)
    db = Database(db_url, FakeClock(MONDAY_MORNING))
    try:
        with db.unit_of_work() as uow:
            seed(uow.session)
            uow.commit()
    finally:
        db.dispose()
    return db_url


def test_daily_digest_of_a_given_day(
    env_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The digest of 22 November goes to stdout; the chart to the given file."""
    chart = tmp_path / "digest.png"
    args = ["report", "daily", "--date", "2026-11-22", "--language", "en", "--chart", str(chart)]
    assert main(args) == EXIT_OK
    out = capsys.readouterr().out
    assert "2026-11-22" in out and "New orders: 4 · completed: 3" in out
    assert "Collected: ¥90.00 in 2 payments" in out and "1 of 3 (33%)" in out
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_daily_digest_defaults_to_yesterday_in_chinese(
    env_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --date: yesterday in the property's time zone, in the desk's language (zh).
    The CLI runs on the machine's clock; at 00:30 on 1 March in Shanghai (still 29 February in
    UTC) yesterday is the leap day."""
    with time_machine.travel(datetime(2028, 2, 29, 16, 30, tzinfo=UTC), tick=False):
        assert main(["report", "daily"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "2028-02-29" in out and re.search(r"[\u4e00-\u9fff]", out)


@pytest.mark.parametrize("bad", ["2026-13-01", "22/11/2026", "yesterday", "20261122"])
def test_a_bad_date_is_one_line_and_exit_1(
    env_db: str, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A date that cannot be read: one line on stderr, nothing on stdout."""
    assert main(["report", "daily", "--date", bad]) == EXIT_FAILED
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip().count("\n") == 0
    assert "YYYY-MM-DD" in captured.err


def test_monthly_workbook(env_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The workbook is written; progress goes to stderr and one summary line to stdout."""
    xlsx = tmp_path / "2026-11.xlsx"
    args = ["report", "monthly", "--month", "2026-11", "--xlsx", str(xlsx), "--language", "en"]
    assert main(args) == EXIT_OK
    captured = capsys.readouterr()
    assert "fee detail: 4 rows" in captured.err and "callbacks: 4 rows" in captured.err
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1
    assert "10 orders" in lines[0] and "¥180.00 billed" in lines[0] and "¥70.00" in lines[0]
    assert "repairs 67%, services 50%" in lines[0]
    book = load_workbook(xlsx)
    assert book.sheetnames == ["Statistics", "Fee detail", "Arrears", "Callbacks", "Complaints"]


def test_a_bad_month_is_exit_1(
    env_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A month that cannot be read writes no file."""
    xlsx = tmp_path / "bad.xlsx"
    assert main(["report", "monthly", "--month", "2026-13", "--xlsx", str(xlsx)]) == EXIT_FAILED
    assert "YYYY-MM" in capsys.readouterr().err and not xlsx.exists()


def test_an_unwritable_workbook_is_exit_1(
    env_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path in a missing folder: one line naming it, exit 1."""
    xlsx = tmp_path / "missing" / "out.xlsx"
    assert main(["report", "monthly", "--month", "2026-11", "--xlsx", str(xlsx)]) == EXIT_FAILED
    assert str(xlsx) in capsys.readouterr().err
