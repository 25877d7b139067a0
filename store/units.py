"""The unit registry (房号): read what owners type, find units, suggest near misses, import CSV.

A unit code is canonical as ``building-entrance-room``, e.g. "3-2-1201":

- building: a number without leading zeros ("3"), or up to two letters with up to three
  digits ("A", "B3"), or a number with one letter ("12A"); letters are upper-case;
- entrance (单元): a number 1-999 without leading zeros;
- room: 3 to 5 digits, floor then door, without leading zeros ("101", "1201").

Owners write it many ways: "3栋2单元1201", "3号楼2单元1201室", "3#2-1201", "3 2 1201",
full-width "３－２－１２０１", Chinese numerals "三栋二单元1201", "Bldg 3 Unit 2 Room 1201".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from store.imports import (
    CsvRow,
    FileProblem,
    ImportReport,
    duplicates,
    load_by_code,
    read_csv,
    read_text,
    upsert,
)
from store.models import Unit
from store.phones import parse_phone_list

CSV_FIELDS = ("building", "unit", "room", "owner_name", "phones")

_BUILDING = re.compile(r"[1-9][0-9]{0,2}[A-Z]?|[A-Z]{1,2}[0-9]{0,3}")
_ENTRANCE = re.compile(r"[1-9][0-9]{0,2}")
_ROOM = re.compile(r"[1-9][0-9]{2,4}")
_OWNER_MAX = 100
#: how many single-character edits (or swaps of neighbours) a suggestion may be away
MAX_SUGGESTION_DISTANCE = 2
_PHONES_MAX = 200

# English marker words, dropped wherever they stand alone or before a number ("BLDG3")
_EN_MARKERS = re.compile(
    r"(?<![A-Z])(?:(?:BUILDING|BLDG|BLOCK|BLK|TOWER|UNIT|ENTRANCE|ROOM|APT|FLAT)\.?|NO\.)(?![A-Z])"
)
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}  # fmt: skip
_CN_NUMBER = re.compile("[零〇一二两三四五六七八九十]+")
_TOKEN = re.compile(r"[A-Z0-9]+")


@dataclass(frozen=True)
class UnitCode:
    """The three parts of a canonical unit code."""

    building: str
    entrance: str
    room: str

    def __str__(self) -> str:
        """The canonical code, e.g. "3-2-1201"."""
        return f"{self.building}-{self.entrance}-{self.room}"


def normalize_unit_code(text: str) -> str | None:
    """The canonical code ("3-2-1201") for what an owner typed, or None if it is not three parts."""
    code = parse_unit_code(text)
    return None if code is None else str(code)


def parse_unit_code(text: str) -> UnitCode | None:
    """The building, entrance and room an owner typed, or None if it is not three parts."""
    tokens = _tokens(text)
    if len(tokens) != 3:
        return None
    return _validated(*tokens)


def _tokens(text: str) -> list[str]:
    """The alphanumeric runs of the text, after width, case, numeral and marker clean-up."""
    if len(text) > 200:
        return []
    cleaned = unicodedata.normalize("NFKC", text).upper()
    cleaned = _CN_NUMBER.sub(lambda m: _cn_to_arabic(m.group()), cleaned)
    cleaned = _EN_MARKERS.sub(" ", cleaned)
    return _TOKEN.findall(cleaned)


def _cn_to_arabic(run: str) -> str:
    """ "三" → "3", "十二" → "12", "二十" → "20"; digit by digit without 十: "一二零一" → "1201"."""
    if "十" not in run:
        return "".join(str(_CN_DIGITS[c]) for c in run)
    tens, _, ones = run.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return " "  # not a number we read: a separator
    return str(_CN_DIGITS.get(tens, 1) * 10 + _CN_DIGITS.get(ones, 0))


def _validated(building: str, entrance: str, room: str) -> UnitCode | None:
    parts = (_canon(building, _BUILDING), _canon(entrance, _ENTRANCE), _canon(room, _ROOM))
    if parts[0] is None or parts[1] is None or parts[2] is None:
        return None
    return UnitCode(parts[0], parts[1], parts[2])


def _canon(token: str, pattern: re.Pattern[str]) -> str | None:
    """One part without leading zeros (when it starts with a digit), if it fits `pattern`."""
    if token[:1].isdigit():
        token = token.lstrip("0")
    return token if pattern.fullmatch(token) else None


def _canon_field(value: str, pattern: re.Pattern[str]) -> str | None:
    """A registry CSV cell ("3", "3栋", "03", "A座") as a canonical part, or None."""
    tokens = _tokens(value)
    return _canon(tokens[0], pattern) if len(tokens) == 1 else None


def find_unit(session: Session, text: str) -> Unit | None:
    """The registered unit an owner means, by exact canonical code, or None."""
    code = normalize_unit_code(text)
    if code is None:
        return None
    return session.scalars(select(Unit).where(Unit.code == code)).first()


def similar_units(session: Session, text: str, limit: int = 3) -> list[Unit]:
    """Registered units close to what was typed (an exact match first), for "did you mean"."""
    tokens = _tokens(text)
    if len(tokens) == 2:  # building and room, entrance forgotten: "3栋1201"
        return _same_building_and_room(session, tokens[0], tokens[1], limit)
    wanted = parse_unit_code(text) if len(tokens) == 3 else None
    if wanted is None:
        return []
    query = select(Unit).where(or_(Unit.building == wanted.building, Unit.room == wanted.room))
    ranked = sorted((_rank(wanted, u), u) for u in session.scalars(query))
    return [u for rank, u in ranked if rank[0] <= MAX_SUGGESTION_DISTANCE][:limit]


def _rank(wanted: UnitCode, unit: Unit) -> tuple[int, int, int, str]:
    """Fewest edits first; then a room of the same length, the same entrance, the code."""
    edits = (
        edit_distance(wanted.building, unit.building)
        + edit_distance(wanted.entrance, unit.entrance)
        + edit_distance(wanted.room, unit.room)
    )
    other_entrance = int((wanted.building, wanted.entrance) != (unit.building, unit.entrance))
    return edits, abs(len(wanted.room) - len(unit.room)), other_entrance, unit.code


def _same_building_and_room(session: Session, building: str, room: str, limit: int) -> list[Unit]:
    code = _validated(building, "1", room)
    if code is None:
        return []
    query = (
        select(Unit)
        .where(Unit.building == code.building, Unit.room == code.room)
        .order_by(Unit.code)
        .limit(limit)
    )
    return list(session.scalars(query))


def edit_distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, swap of neighbours) turning a into b (OSA distance)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def import_units(session: Session, path: Path) -> ImportReport:
    """Import the registry CSV (building,unit,room,owner_name,phones): all rows or none.

    Every row needs all five fields and at least one valid phone (";", "/" or space separated,
    stored as E.164). Units are matched by canonical code: new ones are added, changed
    owners/phones updated. Units in the database but not in the file are left alone.
    The caller commits.
    """
    report = ImportReport()
    records = _read_units(path, report)
    if report.ok:
        existing = load_by_code(session, Unit, Unit.code, list(records))
        upsert(session, records, existing, lambda code: Unit(code=code), report)
    report.errors.sort(key=lambda e: e.line)
    return report


def _read_units(path: Path, report: ImportReport) -> dict[str, dict[str, object]]:
    try:
        rows = read_csv(read_text(path), CSV_FIELDS, report)
    except FileProblem as exc:
        report.error(exc.line, exc.reason, exc.kind)
        return {}
    parsed = [(row.line, rec) for row in rows if (rec := _unit_record(row, report))]
    duplicates(((code, line) for line, (code, _) in parsed), "unit", report)
    return {code: values for _, (code, values) in parsed}


def _unit_record(row: CsvRow, report: ImportReport) -> tuple[str, dict[str, object]] | None:
    """The code and column values of one CSV row, or None after reporting what is wrong."""
    errors = len(report.errors)
    parts = [_unit_part(row, name, pattern, report) for name, pattern in _PARTS]
    owner = " ".join(row.cells.get("owner_name", "").split())
    if not owner:
        report.error(row.line, "missing owner_name")
    elif len(owner) > _OWNER_MAX:
        report.error(row.line, f"owner_name longer than {_OWNER_MAX} characters")
    phones = _row_phones(row, report)
    building, entrance, room = parts
    if len(report.errors) > errors or building is None or entrance is None or room is None:
        return None
    code = UnitCode(building, entrance, room)
    values: dict[str, object] = {
        "building": building, "entrance": entrance, "room": room,
        "owner_name": owner, "phones": phones,
    }  # fmt: skip
    return str(code), values


_PARTS = (("building", _BUILDING), ("unit", _ENTRANCE), ("room", _ROOM))
_PART_HINTS = {
    "building": "a number or letters like 3, A, B3",
    "unit": "a number like 2",
    "room": "3-5 digits, floor then door, like 1201",
}


def _unit_part(
    row: CsvRow, name: str, pattern: re.Pattern[str], report: ImportReport
) -> str | None:
    value = row.cells.get(name, "")
    if not value:
        report.error(row.line, f"missing {name}")
        return None
    part = _canon_field(value, pattern)
    if part is None:
        report.error(row.line, f"bad {name} {value!r}: expected {_PART_HINTS[name]}")
    return part


def _row_phones(row: CsvRow, report: ImportReport) -> str:
    raw = row.cells.get("phones", "")
    if not raw:
        report.error(row.line, "missing phones")
        return ""
    valid, bad = parse_phone_list(raw)
    for piece in bad:
        report.error(row.line, f"invalid phone number {piece!r}")
    if not valid and not bad:
        report.error(row.line, "missing phones")
    joined = " ".join(valid)
    if len(joined) > _PHONES_MAX:
        report.error(row.line, f"too many phone numbers (over {_PHONES_MAX} characters)")
    return joined
