"""The paid-service price list: yuan to fen, CSV and YAML import, browsing by category."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.db import Database
from store.migrate import upgrade
from store.models import PriceItem
from store.price_list import (
    CATEGORIES,
    PriceError,
    categories,
    import_prices,
    items_in,
    price_to_fen,
)
from tests.harness import MONDAY_MORNING, FakeClock

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HEADER = "code,category,name_zh,name_en,unit,price\n"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated, empty database."""
    upgrade(db_url)
    database = Database(db_url, FakeClock(MONDAY_MORNING))
    yield database
    database.dispose()


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """A session of one unit of work (rolled back at the end)."""
    with db.unit_of_work() as uow:
        yield uow.session


def write(tmp_path: Path, body: str, name: str = "prices.csv") -> Path:
    """A price CSV with the header and `body`."""
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def items(session: Session) -> dict[str, PriceItem]:
    """Every price item by code."""
    return {i.code: i for i in session.scalars(select(PriceItem))}


# --- price_to_fen ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("30", 3000),
        ("35.50", 3550),
        ("35.5", 3550),
        ("0.5", 50),
        ("0.05", 5),
        ("35.500", 3550),
        (" ¥120 ", 12000),
        ("120元", 12000),
        ("１２０", 12000),
        ("0", 0),
        ("100000", 10_000_000),
        ("", None),
        ("on_site", None),
        ("ON_SITE", None),
        ("现场报价", None),
        ("面议", None),
    ],
)
def test_price_to_fen(text: str, fen: int | None) -> None:
    assert price_to_fen(text) == fen


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("-5", "negative"),
        ("35.555", "2 decimals"),
        ("100000.01", "over"),
        ("1e3", "not a number"),
        ("NaN", "not a number"),
        ("thirty", "not a number"),
        ("3,50", "not a number"),
    ],
)
def test_bad_prices(text: str, why: str) -> None:
    with pytest.raises(PriceError, match=why):
        price_to_fen(text)


@given(st.integers(min_value=0, max_value=10_000_000))
def test_fen_round_trip(fen: int) -> None:
    assert price_to_fen(f"{fen // 100}.{fen % 100:02d}") == fen


@given(st.text(max_size=30))
def test_price_to_fen_only_raises_price_error(text: str) -> None:
    try:
        fen = price_to_fen(text)
    except PriceError:
        return
    assert fen is None or 0 <= fen <= 10_000_000


# --- import ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["prices.csv", "prices.yaml"])
def test_examples_import_cleanly(session: Session, name: str) -> None:
    report = import_prices(session, EXAMPLES / name)
    assert report.ok, report.errors
    assert report.added >= 35 and report.updated == report.unchanged == 0
    session.flush()
    found = items(session)
    tap = found["PL01"]
    assert (tap.category, tap.name_zh, tap.name_en, tap.unit, tap.price_fen) == (
        "plumbing", "更换水龙头", "Replace tap", "个", 3000,
    )  # fmt: skip
    paint = found["WF01"]
    assert (paint.name_zh, paint.name_en, paint.price_fen) == (
        "墙面补漆",
        "Wall paint touch-up",
        None,
    )
    assert sum(1 for i in found.values() if i.price_fen is None) >= 3
    assert {i.category for i in found.values()} == set(CATEGORIES)


def test_csv_and_yaml_examples_are_the_same_list(db: Database) -> None:
    with db.unit_of_work() as uow:
        assert import_prices(uow.session, EXAMPLES / "prices.csv").ok
        uow.commit()
    with db.unit_of_work() as uow:
        report = import_prices(uow.session, EXAMPLES / "prices.yaml")
        assert report.ok, report.errors
        assert report.added == report.updated == 0


def test_reimport_is_idempotent(db: Database) -> None:
    counts = []
    for _ in range(2):
        with db.unit_of_work() as uow:
            report = import_prices(uow.session, EXAMPLES / "prices.csv")
            counts.append((report.added, report.updated, report.unchanged))
            uow.commit()
    n = counts[0][0]
    assert counts == [(n, 0, 0), (0, 0, n)]
    with db.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(PriceItem)) == n


def test_changed_price_is_updated_and_others_left_alone(db: Database, tmp_path: Path) -> None:
    first = write(tmp_path, "PL01,plumbing,更换水龙头,Replace tap,个,30\n"
                  "XX01,office,旧项目,Old item,次,5\n", "a.csv")  # fmt: skip
    second = write(tmp_path, "PL01,plumbing,更换水龙头,Replace tap,个,35.50\n", "b.csv")
    with db.unit_of_work() as uow:
        assert import_prices(uow.session, first).added == 2
        uow.commit()
    with db.unit_of_work() as uow:
        report = import_prices(uow.session, second)
        assert (report.added, report.updated, report.unchanged) == (0, 1, 0)
        uow.commit()
    with db.unit_of_work() as uow:
        found = items(uow.session)
        assert found["PL01"].price_fen == 3550
        assert found["XX01"].active and found["XX01"].price_fen == 500  # not in file: kept


def test_reimport_reactivates_a_withdrawn_item(db: Database) -> None:
    with db.unit_of_work() as uow:
        import_prices(uow.session, EXAMPLES / "prices.csv")
        uow.session.flush()
        items(uow.session)["PL01"].active = False
        uow.commit()
    with db.unit_of_work() as uow:
        report = import_prices(uow.session, EXAMPLES / "prices.csv")
        assert report.updated == 1
        uow.session.flush()
        assert items(uow.session)["PL01"].active


def test_bad_csv_imports_nothing(session: Session, tmp_path: Path) -> None:
    body = (
        "PL01,plumbing,更换水龙头,Replace tap,个,30\n"  # line 2: good
        "PL02,plumbing,疏通下水道,Unblock drain,次,-50\n"  # line 3: negative
        "PL03,plumbing,疏通马桶,Unblock toilet,次,60.555\n"  # line 4: 3 decimals
        "PL04,plumbing,更换角阀,Replace valve,个,200000\n"  # line 5: absurd
        "PL01,plumbing,更换水龙头,Replace tap,个,30\n"  # line 6: duplicate code
        "XX01,gardening,修剪,Trim,次,10\n"  # line 7: unknown category
        "EL01,electrical,,Replace bulb,个,10\n"  # line 8: missing name_zh
        "EL02,electrical,更换开关,,个,20\n"  # line 9: missing name_en
        "EL03,electrical,安装灯具,Install light,套,abc\n"  # line 10: not a number
        "WF01,walls_floors,墙面补漆,Wall paint touch-up,平方米,on_site\n"  # line 11: good
    )
    report = import_prices(session, write(tmp_path, body))
    assert not report.ok
    assert (report.added, report.updated, report.unchanged) == (0, 0, 0)
    by_line = {e.line: e.reason for e in report.errors}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "negative" in by_line[3]
    assert "decimals" in by_line[4]
    assert "100000" in by_line[5]
    assert "duplicate" in by_line[6] and "line 2" in by_line[6]
    assert "gardening" in by_line[7] and "greening" in by_line[7]
    assert "name_zh" in by_line[8]
    assert "name_en" in by_line[9]
    assert "abc" in by_line[10]
    session.flush()
    assert items(session) == {}


YAML_BAD = """\
# a comment line
items:
  - code: PL01
    category: plumbing
    name_zh: 更换水龙头
    name_en: Replace tap
    unit: 个
    price: 30
  - code: PL02
    category: plumbing
    name_zh: 疏通下水道
    name_en: Unblock drain
    unit: 次
    price: -5
  - code: PL01
    category: plumbing
    name_zh: 重复
    name_en: Duplicate
    unit: 个
    price: 1
  - code: CL01
    category: cleaning
    name_zh: [not, a, name]
    name_en: Window cleaning
    unit: 平方米
    price: 5
  - just a string
"""


def test_bad_yaml_reports_real_lines(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(YAML_BAD, encoding="utf-8")
    report = import_prices(session, path)
    assert not report.ok and report.added == 0
    by_line = {e.line: e.reason for e in report.errors}
    assert sorted(by_line) == [9, 15, 21, 27]
    assert "negative" in by_line[9]
    assert "duplicate" in by_line[15] and "line 3" in by_line[15]
    assert "name_zh" in by_line[21]
    assert "mapping" in by_line[27]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("items:\n  - code: PL01\n    name_zh: [unclosed\n", 4),
        ("just: a mapping\n", 1),
        ("", 1),
    ],
)
def test_unreadable_yaml(session: Session, tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "prices.yml"
    path.write_text(text, encoding="utf-8")
    report = import_prices(session, path)
    assert [e.line for e in report.errors] == [line]


def test_yaml_plain_list_and_null_price(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "- {code: gr01, category: greening, name_zh: 修剪绿篱, name_en: Hedge trimming, "
        "unit: 次, price: ~}\n"
        "- {code: OF01, category: office, name_zh: 复印, name_en: 'No', unit: 张, price: 0.50}\n",
        encoding="utf-8",
    )
    report = import_prices(session, path)
    assert report.ok, report.errors
    session.flush()
    found = items(session)
    assert found["GR01"].price_fen is None
    assert (found["OF01"].price_fen, found["OF01"].name_en) == (50, "No")


# --- browsing --------------------------------------------------------------------------------


def test_categories_and_items(session: Session) -> None:
    assert categories(session) == []
    assert import_prices(session, EXAMPLES / "prices.csv").ok
    session.flush()
    assert categories(session) == list(CATEGORIES)
    office = items_in(session, "office")
    assert [i.code for i in office] == sorted(i.code for i in office)
    assert all(i.category == "office" for i in office)
    assert items_in(session, "nonsense") == []


def test_inactive_items_are_hidden(session: Session) -> None:
    assert import_prices(session, EXAMPLES / "prices.csv").ok
    session.flush()
    for item in items_in(session, "office"):
        item.active = False
    session.flush()
    assert items_in(session, "office") == []
    assert "office" not in categories(session)
