"""Import messages count lines, not problems (issue 11.16): five bad lines are "5 bad lines"
even when some have two problems, one is "1 bad line", and a header or encoding problem is
named as what it is, not counted as a row."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import EXIT_FAILED, main
from store.models import PriceItem, Unit
from tests.test_cli import _count, env_db  # noqa: F401

HEADER = "building,unit,room,owner_name,phones\n"


def _import(kind: str, path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main([kind, "import", str(path)]) == EXIT_FAILED
    return capsys.readouterr().err.strip().splitlines()


def test_bad_lines_are_counted_once_each(
    env_db: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Five bad lines, three of them with two problems each: "5 bad lines"."""
    bad = tmp_path / "units.csv"
    bad.write_text(
        HEADER + "1,1,101,王芳,13800138000\n"
        "1,1,,,13800138000\n"  # room and owner_name missing: one line
        "2,1,202,,12345\n"  # owner_name missing, bad phone: one line
        "x,y,z,,\n"  # many problems: one line
        "3,1,301,李雷,12345\n"
        "3,1,302,李雷,\n",
        encoding="utf-8",
    )
    err = _import("units", bad, capsys)
    assert err[-1] == f"{bad}: 5 bad lines; nothing was imported"
    assert len(err) > 6  # every problem is still listed, each with its line
    assert _count(env_db, Unit) == 0


def test_one_bad_line_is_singular(
    env_db: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One bad line: "1 bad line", not "1 bad rows"."""
    bad = tmp_path / "units.csv"
    bad.write_text(HEADER + "1,1,101,王芳,12345\n", encoding="utf-8")
    err = _import("units", bad, capsys)
    assert err == [
        f"{bad}:2: invalid phone number '12345'",
        f"{bad}: 1 bad line; nothing was imported",
    ]


def test_header_and_encoding_problems_are_named(
    env_db: str,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A missing column is a header problem, a GBK file an encoding problem, broken YAML a
    syntax problem: none of them is "1 bad rows"."""
    header = tmp_path / "units.csv"
    header.write_text("building,unit,room,owner\n1,1,101,王芳\n", encoding="utf-8")
    err = _import("units", header, capsys)
    assert err[-1] == f"{header}: the header line is wrong; nothing was imported"
    assert "header lacks column(s): owner_name, phones" in err[0]

    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes((HEADER + "1,1,101,王芳,13800138000\n").encode("gbk"))
    err = _import("units", gbk, capsys)
    assert err[-1] == f"{gbk}: the file is not UTF-8 text; nothing was imported"

    yaml = tmp_path / "prices.yaml"
    yaml.write_text("- code: PL01\n  price: [\n", encoding="utf-8")
    err = _import("prices", yaml, capsys)
    assert err[-1] == f"{yaml}: the file is not well-formed; nothing was imported"
    assert not any("bad row" in line for line in err)
    assert (_count(env_db, Unit), _count(env_db, PriceItem)) == (0, 0)
