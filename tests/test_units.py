"""The unit registry: reading 房号 as owners type it, lookups, suggestions, CSV import."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from store.db import Database
from store.migrate import upgrade
from store.models import Unit
from store.phones import parse_phone, parse_phone_list, phone_matches
from store.units import (
    edit_distance,
    find_unit,
    import_units,
    normalize_unit_code,
    similar_units,
)
from tests.harness import MONDAY_MORNING, FakeClock

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HEADER = "building,unit,room,owner_name,phones\n"


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


@pytest.fixture
def registry(session: Session) -> Session:
    """A session with the example registry imported (and flushed)."""
    assert import_units(session, EXAMPLES / "units.csv").ok
    session.flush()
    return session


def write(tmp_path: Path, body: str, name: str = "units.csv", bom: bool = False) -> Path:
    """A CSV file with the registry header and `body`."""
    path = tmp_path / name
    path.write_text(("\ufeff" if bom else "") + HEADER + body, encoding="utf-8")
    return path


def unit_count(session: Session) -> int:
    """How many units are registered."""
    return session.scalar(select(func.count()).select_from(Unit)) or 0


# --- normalize_unit_code ---------------------------------------------------------------------

SPELLINGS = [
    "3-2-1201",
    "3栋2单元1201",
    "3栋2单元1201室",
    "3号楼2单元1201室",
    "3幢2单元1201房",
    "3座2单元1201号",
    "3#2-1201",
    "3 2 1201",
    "  3 - 2 - 1201 ",
    "3/2/1201",
    "3.2.1201",
    "3_2_1201",
    "3—2—1201",
    "３－２－１２０１",
    "３栋２单元１２０１室",
    "03-02-1201",
    "三栋二单元1201",
    "三号楼二单元一二零一",
    "Bldg 3 Unit 2 Room 1201",
    "building 3, unit 2, room 1201",
    "No.3-2-1201",
    "我家是3栋2单元1201",
]


@pytest.mark.parametrize("text", SPELLINGS)
def test_spellings_of_one_unit(text: str) -> None:
    assert normalize_unit_code(text) == "3-2-1201"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("A座1单元101", "A-1-101"),
        ("a-1-101", "A-1-101"),
        ("B3-2-1201", "B3-2-1201"),
        ("b3栋2单元1201", "B3-2-1201"),
        ("12A-1-302", "12A-1-302"),
        ("十二栋一单元302", "12-1-302"),
        ("二十一栋3单元101", "21-3-101"),
        ("1-1-101", "1-1-101"),
        ("10-3-10201", "10-3-10201"),
    ],
)
def test_other_units(text: str, code: str) -> None:
    assert normalize_unit_code(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "1201",
        "3栋1201",  # entrance missing
        "3-2-12",  # room too short
        "3-2-123456",  # room too long
        "3-0-1201",  # no entrance 0
        "0-2-1201",  # no building 0
        "3-2-1201-5",
        "3-2-1201A",
        "ABC-2-1201",  # building letters: at most two
        "3-B-1201",  # entrance: a number
        "hello world",
        "报修:厨房漏水",
        "3" * 500,
    ],
)
def test_unreadable(text: str) -> None:
    assert normalize_unit_code(text) is None


@given(st.text())
def test_never_raises(text: str) -> None:
    result = normalize_unit_code(text)
    assert result is None or normalize_unit_code(result) == result


canonical_codes = st.builds(
    "{}-{}-{}".format,
    st.from_regex(r"[1-9][0-9]{0,2}[A-Z]?|[A-Z]{1,2}[0-9]{0,3}", fullmatch=True),
    st.from_regex(r"[1-9][0-9]{0,2}", fullmatch=True),
    st.from_regex(r"[1-9][0-9]{2,4}", fullmatch=True),
)


@given(canonical_codes)
def test_canonical_codes_are_fixed_points(code: str) -> None:
    assert normalize_unit_code(code) == code


@given(canonical_codes, st.sampled_from(["{}栋{}单元{}室", "{} {} {}", "{}#{}-{}", "{}/{}/{}"]))
def test_chinese_and_spaced_forms_read_back(code: str, template: str) -> None:
    assert normalize_unit_code(template.format(*code.split("-"))) == code


def test_edit_distance() -> None:
    assert edit_distance("1201", "1201") == 0
    assert edit_distance("1201", "1210") == 1  # neighbours swapped
    assert edit_distance("1201", "1301") == 1
    assert edit_distance("1201", "101") == 1
    assert edit_distance("", "abc") == 3


# --- phones ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "008613812345678",
     "１３８１２３４５６７８"],
)  # fmt: skip
def test_parse_phone(text: str) -> None:
    assert parse_phone(text) == "+8613812345678"


@pytest.mark.parametrize("text", ["", "12345", "1381234567", "138abcd5678", "电话", "+"])
def test_parse_phone_refuses(text: str) -> None:
    assert parse_phone(text) is None


@given(st.text(max_size=60))
def test_parse_phone_never_raises(text: str) -> None:
    result = parse_phone(text)
    assert result is None or (result.startswith("+") and result[1:].isdigit())
    valid, _ = parse_phone_list(text)
    assert all(parse_phone(v) == v for v in valid)


def test_parse_phone_list() -> None:
    assert parse_phone_list("138 1234 5678; 139 0000 1111") == (
        ["+8613812345678", "+8613900001111"],
        [],
    )
    assert parse_phone_list("13812345678/13900001111 13812345678") == (
        ["+8613812345678", "+8613900001111"],
        [],
    )
    assert parse_phone_list("13812345678 12345") == (["+8613812345678"], ["12345"])


# --- lookups ---------------------------------------------------------------------------------


def test_find_unit(registry: Session) -> None:
    unit = find_unit(registry, "3栋2单元1201室")
    assert unit is not None
    assert (unit.code, unit.owner_name, unit.phones) == ("3-2-1201", "张伟", "+8613812345678")
    assert phone_matches(unit, "+8613812345678")
    assert phone_matches(unit, "138 1234 5678")
    assert not phone_matches(unit, "+8613900001111")
    assert find_unit(registry, "9-9-999") is None
    assert find_unit(registry, "nonsense") is None


def test_similar_units_for_a_near_miss(registry: Session) -> None:
    assert find_unit(registry, "3-2-1210") is None
    codes = [u.code for u in similar_units(registry, "3栋2单元1210")]
    assert codes[0] == "3-2-1201"  # digits swapped
    assert len(codes) <= 3
    assert similar_units(registry, "3-2-1301")[0].code == "3-2-1201"
    # no entrance 3 in building 3: both entrances' 1201 are one edit away
    assert {u.code for u in similar_units(registry, "3-3-1201")[:2]} == {"3-1-1201", "3-2-1201"}


def test_similar_units_when_the_entrance_is_missing(registry: Session) -> None:
    assert [u.code for u in similar_units(registry, "3栋1201")] == ["3-1-1201", "3-2-1201"]


def test_similar_units_loads_only_candidates(db: Database) -> None:
    with db.unit_of_work() as uow:
        assert import_units(uow.session, EXAMPLES / "units.csv").ok
        uow.commit()
    loaded: list[Unit] = []
    with db.unit_of_work() as uow:
        event.listen(uow.session, "loaded_as_persistent", lambda _s, obj: loaded.append(obj))
        assert similar_units(uow.session, "2-1-1210")
        assert 0 < len(loaded) < 72
        assert all(u.building == "2" or u.room == "1210" for u in loaded)


def test_similar_units_limit_and_nothing_close(registry: Session) -> None:
    assert len(similar_units(registry, "3-2-1210", limit=1)) == 1
    assert similar_units(registry, "9-9-9999") == []
    assert similar_units(registry, "hello") == []


# --- import ----------------------------------------------------------------------------------


def test_example_imports_cleanly(session: Session) -> None:
    report = import_units(session, EXAMPLES / "units.csv")
    assert report.ok, report.errors
    assert (report.added, report.updated, report.unchanged) == (72, 0, 0)
    session.flush()
    assert unit_count(session) == 72
    li = find_unit(session, "1-1-101")
    assert li is not None and li.owner_name == "李娜" and li.phones == "+8613900001111"
    two = [u for u in session.scalars(select(Unit)) if len(u.phones.split()) == 2]
    assert two, "the example has units with two phones"
    assert all(p.startswith("+86") for u in two for p in u.phones.split())


def test_reimport_is_idempotent(db: Database) -> None:
    for expected in [(72, 0, 0), (0, 0, 72)]:
        with db.unit_of_work() as uow:
            report = import_units(uow.session, EXAMPLES / "units.csv")
            assert (report.added, report.updated, report.unchanged) == expected
            uow.commit()
    with db.unit_of_work() as uow:
        assert unit_count(uow.session) == 72


def test_changed_owner_and_phone_are_updated(db: Database, tmp_path: Path) -> None:
    first = write(tmp_path, "3,2,1201,张伟,13812345678\n1,1,101,李娜,13900001111\n", "a.csv")
    second = write(tmp_path, "3,2,1201,张伟,13812345678;13600001234\n1,1,101,李娜,13900001111\n"
                   "1,1,102,王芳,15000002222\n", "b.csv")  # fmt: skip
    with db.unit_of_work() as uow:
        assert import_units(uow.session, first).added == 2
        uow.commit()
    with db.unit_of_work() as uow:
        report = import_units(uow.session, second)
        assert (report.added, report.updated, report.unchanged) == (1, 1, 1)
        uow.commit()
    with db.unit_of_work() as uow:
        unit = find_unit(uow.session, "3-2-1201")
        assert unit is not None
        assert unit.phones == "+8613812345678 +8613600001234"
        assert phone_matches(unit, "+8613600001234")
        assert unit_count(uow.session) == 3


def test_bom_and_loose_cells(session: Session, tmp_path: Path) -> None:
    path = write(tmp_path, "3栋, 02 ,1201室, 张伟 ,138 1234 5678 / 139-0000-1111\n\n", bom=True)
    report = import_units(session, path)
    assert report.ok, report.errors
    session.flush()
    unit = find_unit(session, "3-2-1201")
    assert unit is not None
    assert (unit.building, unit.entrance, unit.room) == ("3", "2", "1201")
    assert unit.phones == "+8613812345678 +8613900001111"


def test_bad_file_imports_nothing(session: Session, tmp_path: Path) -> None:
    body = (
        "1,1,101,李娜,13900001111\n"  # line 2: good
        "1,1,102,,13800000000\n"  # line 3: no owner
        "1,1,1x3,王芳,15000002222\n"  # line 4: bad room
        "1,1,201,赵强,12345\n"  # line 5: bad phone
        "1,1,101,李娜,13900001111\n"  # line 6: duplicate of line 2
        "1,,202,周杰,13811112222\n"  # line 7: no entrance
        "2,1,301,孙丽\n"  # line 8: no phones column at all
        '"2",1,302,"陈\n明",15000003333\n'  # lines 9-10: good (a quoted newline)
        "2,1,401,吴敏,13811113333,extra\n"  # line 11: too many fields
    )
    report = import_units(session, write(tmp_path, body))
    assert not report.ok
    assert (report.added, report.updated, report.unchanged) == (0, 0, 0)
    by_line = {e.line: e.reason for e in report.errors}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 11]
    assert "owner_name" in by_line[3]
    assert "room" in by_line[4]
    assert "12345" in by_line[5]
    assert "duplicate" in by_line[6] and "line 2" in by_line[6]
    assert "unit" in by_line[7]
    assert "phones" in by_line[8]
    assert "fields" in by_line[11]
    session.flush()
    assert unit_count(session) == 0


def test_every_problem_of_a_row_is_reported(session: Session, tmp_path: Path) -> None:
    report = import_units(session, write(tmp_path, ",x,12,,abc\n"))
    reasons = [e.reason for e in report.errors]
    assert all(e.line == 2 for e in report.errors)
    assert len(reasons) == 5, reasons


def test_header_problems(session: Session, tmp_path: Path) -> None:
    missing = tmp_path / "m.csv"
    missing.write_text("building,room,owner\n1,101,x\n", encoding="utf-8")
    report = import_units(session, missing)
    assert [e.line for e in report.errors] == [1]
    assert "unit" in report.errors[0].reason and "phones" in report.errors[0].reason
    empty = tmp_path / "e.csv"
    empty.write_text("", encoding="utf-8")
    assert [e.line for e in import_units(session, empty).errors] == [1]


def test_not_utf8(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes((HEADER + "1,1,101,李娜,13900001111\n").encode("gbk"))
    report = import_units(session, path)
    assert [e.line for e in report.errors] == [2]
    assert "UTF-8" in report.errors[0].reason


def test_header_only_is_an_empty_import(session: Session, tmp_path: Path) -> None:
    report = import_units(session, write(tmp_path, ""))
    assert report.ok and (report.added, report.updated, report.unchanged) == (0, 0, 0)
