"""What the registry and price-list importers share: the report, CSV reading, upsert by code.

Both importers are all-or-nothing: they validate every row first and only touch the session
when the whole file is clean. They never commit; the caller does.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from store.models import Base

T = TypeVar("T", bound=Base)

#: how many codes go into one `IN (...)` when looking up existing rows
LOOKUP_CHUNK = 500


#: what a problem is about: one data line ("line"), or the file as a whole
PROBLEM_KINDS = ("line", "header", "encoding", "file", "syntax")


@dataclass(frozen=True)
class RowError:
    """One problem: its line as a person sees it in the file (header = line 1), why, and what
    it is about — a data line, or the header, the encoding, the file or its syntax."""

    line: int
    reason: str
    kind: str = "line"

    def __str__(self) -> str:
        """Render as "line 7: reason"."""
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    """The outcome of an import: counts when it went in, every bad row when it did not."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file was clean (and so was applied)."""
        return not self.errors

    @property
    def bad_lines(self) -> int:
        """How many data lines are wrong (a line with several problems counts once)."""
        return len({e.line for e in self.errors if e.kind == "line"})

    @property
    def file_problem(self) -> RowError | None:
        """The problem with the file as a whole (header, encoding, syntax), if there is one."""
        return next((e for e in self.errors if e.kind != "line"), None)

    def error(self, line: int, reason: str, kind: str = "line") -> None:
        """Record one problem (with a data line unless `kind` says otherwise)."""
        self.errors.append(RowError(line, reason, kind))

    def summary(self) -> str:
        """One line for people: what was wrong, counted in lines, and that nothing changed."""
        problem = self.file_problem
        if problem is not None:
            what = {
                "header": "the header line is wrong",
                "encoding": "the file is not UTF-8 text",
                "file": "the file cannot be read",
                "syntax": "the file is not well-formed",
            }[problem.kind]
            return f"{what}; nothing was imported"
        count = self.bad_lines
        return f"{count} bad line{'' if count == 1 else 's'}; nothing was imported"


@dataclass(frozen=True)
class CsvRow:
    """A data row of a CSV file: its first line number and its cells by lower-case header."""

    line: int
    cells: Mapping[str, str]


class FileProblem(Exception):
    """The file as a whole cannot be read; carries the line where it went wrong and what kind
    of problem it is ("encoding", "file", "syntax")."""

    def __init__(self, line: int, reason: str, kind: str = "file") -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason
        self.kind = kind


def read_text(path: Path) -> str:
    """The file as text: UTF-8 with or without BOM; FileProblem otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileProblem(0, f"cannot read file: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileProblem(
            line, "not UTF-8 text (save the file as 'CSV UTF-8')", "encoding"
        ) from exc


def read_csv(text: str, required: Sequence[str], report: ImportReport) -> list[CsvRow]:
    """Rows of a CSV text whose header names every `required` column; problems go to `report`."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        report.error(1, f"unreadable CSV header: {exc}", "header")
        return []
    if header is None:
        report.error(1, "empty file: expected a header line " + ",".join(required), "header")
        return []
    names = [h.strip().lower() for h in header]
    missing = [r for r in required if r not in names]
    if missing:
        report.error(1, "header lacks column(s): " + ", ".join(missing), "header")
        return []
    rows: list[CsvRow] = []
    line = reader.line_num + 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            row = _row(start, cells, names, report)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        report.error(line, f"unreadable CSV: {exc}", "syntax")
    return rows


def _row(line: int, cells: list[str], names: list[str], report: ImportReport) -> CsvRow | None:
    if not any(c.strip() for c in cells):
        return None  # blank line
    if len(cells) > len(names):
        report.error(line, f"{len(cells)} fields but the header has {len(names)}")
        return None
    return CsvRow(line, {n: c.strip() for n, c in zip(names, cells, strict=False)})


def duplicates(keyed: Iterable[tuple[str, int]], what: str, report: ImportReport) -> None:
    """Report every (key, line) whose key was already seen on an earlier line."""
    first: dict[str, int] = {}
    for key, line in keyed:
        if key in first:
            report.error(line, f"duplicate {what} {key} (first on line {first[key]})")
        else:
            first[key] = line


def load_by_code(
    session: Session, model: type[T], code_column: InstrumentedAttribute[str], codes: Sequence[str]
) -> dict[str, T]:
    """The rows of `model` whose code is in `codes`, by code, fetched in chunks."""
    found: dict[str, T] = {}
    for i in range(0, len(codes), LOOKUP_CHUNK):
        chunk = codes[i : i + LOOKUP_CHUNK]
        for obj in session.scalars(select(model).where(code_column.in_(chunk))):
            found[getattr(obj, code_column.key)] = obj
    return found


def upsert(
    session: Session,
    records: Mapping[str, Mapping[str, object]],
    existing: Mapping[str, T],
    make: Callable[[str], T],
    report: ImportReport,
) -> None:
    """Add new records, update changed ones, count the rest as unchanged."""
    for code, values in records.items():
        obj = existing.get(code)
        if obj is None:
            obj = make(code)
            _assign(obj, values)
            session.add(obj)
            report.added += 1
        elif any(getattr(obj, k) != v for k, v in values.items()):
            _assign(obj, values)
            report.updated += 1
        else:
            report.unchanged += 1


def _assign(obj: Base, values: Mapping[str, object]) -> None:
    for key, value in values.items():
        setattr(obj, key, value)
