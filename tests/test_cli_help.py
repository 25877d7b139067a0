"""The command line as office staff meet it (issue 11.17): every command's --help describes
it, no rule ids, a department that means nothing is refused, lower-case order numbers, an
empty future month said so, a chart only as .png."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from tests.test_report_cli import env_db  # noqa: F401  (fixture)


@pytest.mark.parametrize(
    ("command", "words"),
    [
        (["db", "upgrade"], "Create or upgrade the schema"),
        (["staff", "list"], "Everyone with a staff role"),
        (["timers"], "What the scheduler still has to do"),
        (["order", "show"], "who did what, when, for how much"),
        (["report", "daily"], "daily digest"),
    ],
)
def test_every_command_describes_itself(
    command: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`propdesk db upgrade --help` and friends say what the command does, without rule ids."""
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert words in out
    assert "(R5" not in out and "(R" not in out


def test_department_is_checked_against_the_role(
    env_db: str, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    """An agent has no department (refused, exit 2, no invitation); an engineer without one
    is told it means all departments."""
    assert main(["staff", "invite", "--role", "agent", "--department", "cleaning"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "has no department" in err
    assert main(["staff", "invite", "--role", "engineer"]) == EXIT_OK
    assert "all departments" in capsys.readouterr().err


def test_order_show_accepts_lower_case(env_db: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """`order show r-…` finds R-… (the seeded estate's orders)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(env_db)
    with engine.connect() as conn:
        number = conn.execute(text("select number from orders order by id limit 1")).scalar_one()
    engine.dispose()
    assert main(["order", "show", number.lower()]) == EXIT_OK
    assert number in capsys.readouterr().out


def test_future_month_and_jpeg_chart(
    env_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    """A month that has not begun is written, and said to be empty; a .jpg chart is refused
    before anything is written."""
    assert main(["report", "monthly", "--month", "2999-01", "--xlsx", str(tmp_path / "f.xlsx")]
                ) == EXIT_OK
    assert "has not begun yet: the workbook is empty" in capsys.readouterr().err
    chart = tmp_path / "x.jpg"
    assert main(["report", "daily", "--date", "2026-11-22", "--chart", str(chart)]) == EXIT_FAILED
    assert "PNG" in capsys.readouterr().err and not chart.exists()
