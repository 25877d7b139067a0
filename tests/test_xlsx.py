"""The streaming .xlsx writer of the monthly report (R51): what it writes, openpyxl reads back
the same -- values, number formats, bold, column widths, sheet titles -- and every part is
well-formed XML; owners' free text never breaks the workbook nor turns into a formula."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from scheduler.monthly_report import write_monthly_workbook
from scheduler.xlsx import (
    MAX_TEXT,
    Styled,
    XlsxWriter,
    column_letter,
    excel_serial,
    wall_clock_serial,
)
from store import migrate
from store.db import Database
from store.models import Callback
from tests.harness import MONDAY_MORNING, FakeClock
from tests.test_reports_daily import TZ, local, seed

WHEN = "yyyy-mm-dd hh:mm"


def _book(write: Any) -> tuple[bytes, Any]:
    out = BytesIO()
    with XlsxWriter(out) as book:
        write(book)
    data = out.getvalue()
    return data, load_workbook(BytesIO(data))


def _parts_parse(data: bytes) -> list[str]:
    """Every part of the package parses as XML; their names."""
    with zipfile.ZipFile(BytesIO(data)) as package:
        for name in package.namelist():
            ElementTree.fromstring(package.read(name))
        return package.namelist()


def test_values_styles_and_widths_read_back() -> None:
    """Each kind of value, the shared styles and the widths, as openpyxl reads them."""

    def write(book: XlsxWriter) -> None:
        bold, yuan, when = book.style(bold=True), book.style("#,##0.00"), book.style(WHEN)
        assert book.style(bold=True) == bold and book.style() == 0  # shared, not per cell
        first = book.sheet("First", (14, 22.5))
        first.append([Styled("Order", bold), Styled("Amount", bold), "When", "Paid"])
        wall_clock = datetime(2026, 11, 21, 13, 0)  # noqa: DTZ001 - Excel has no time zones
        first.append(["R-1", Styled(12.5, yuan), Styled(wall_clock, when), True])
        first.append([])  # an empty row is skipped over
        first.append([None, 7, Decimal("1.25"), Styled(None, yuan)])
        second = book.sheet("Second")
        second.append([date(2026, 11, 1), 2**40, -0.1])

    data, wb = _book(write)
    assert _parts_parse(data)
    assert wb.sheetnames == ["First", "Second"]
    first, second = wb["First"], wb["Second"]
    rows = list(first.iter_rows(values_only=True))
    assert rows[0] == ("Order", "Amount", "When", "Paid")
    assert rows[1] == ("R-1", 12.5, datetime(2026, 11, 21, 13, 0), True)  # noqa: DTZ001
    assert rows[2] == (None, None, None, None)
    assert rows[3] == (None, 7, 1.25, None)
    assert first["A1"].font.b and not first["A2"].font.b
    assert first["B2"].number_format == "#,##0.00" and first["C2"].number_format == WHEN
    assert first["D4"].number_format == "#,##0.00"  # a styled empty cell keeps its style
    assert first.column_dimensions["A"].width == 14
    assert first.column_dimensions["B"].width == 22.5
    assert list(second.iter_rows(values_only=True)) == [
        (datetime(2026, 11, 1), 2**40, -0.1)  # noqa: DTZ001 - Excel keeps wall-clock times
    ]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_free_text_reads_back_as_text(text: str) -> None:
    """Any text an owner types is one string cell: markup escaped, never a formula, spaces and
    newlines kept; only what XML cannot carry (control characters) is dropped."""
    data, wb = _book(lambda book: book.sheet("Text").append([text, "after"]))
    kept = "".join(
        c
        for c in text
        if not ("\x00" <= c <= "\x1f" and c not in "\t\n\r")
        and not ("\ud800" <= c <= "\udfff")
        and c not in "\ufffe\uffff"
    )
    assert _parts_parse(data)
    cell = wb["Text"]["A1"]
    assert (cell.value or "") == kept
    assert cell.data_type in ("s", "n")  # text, or nothing at all
    assert wb["Text"]["B1"].value == "after"


def test_markup_formulas_and_limits() -> None:
    """Markup and a would-be formula stay text; text is cut at Excel's limit; the title loses
    the characters Excel forbids."""
    long = "长" * (MAX_TEXT + 10)

    def write(book: XlsxWriter) -> None:
        book.sheet("Fees [Nov]/2026: a very long title indeed").append(
            ['<b>&"x"</b>', '=HYPERLINK("http://x")', "  padded  ", "bell\x07", long]
        )

    data, wb = _book(write)
    assert _parts_parse(data)
    (sheet,) = wb.worksheets
    assert sheet.title == "Fees  Nov  2026  a very long ti"
    assert [c.value for c in sheet[1]] == [
        '<b>&"x"</b>',
        '=HYPERLINK("http://x")',
        "  padded  ",
        "bell",
        "长" * MAX_TEXT,
    ]
    assert sheet["B1"].data_type == "s"


def test_what_a_cell_cannot_hold() -> None:
    """A time with a zone, a non-finite number or another type is refused, not guessed."""
    book = XlsxWriter(BytesIO())
    sheet = book.sheet("Bad")
    for value in (datetime(2026, 11, 1, tzinfo=UTC), float("nan"), object()):
        with pytest.raises((TypeError, ValueError)):
            sheet.append([value])
    book.close()


def test_serials_and_letters() -> None:
    """Excel's day numbers (with its false 29 February 1900) and column letters."""
    assert excel_serial(datetime(1900, 3, 1)) == 61  # noqa: DTZ001
    assert excel_serial(date(1900, 2, 28)) == 59
    assert excel_serial(datetime(2026, 11, 21, 12, 0)) == 46347.5  # noqa: DTZ001
    assert [column_letter(n) for n in (1, 26, 27, 52, 703)] == ["A", "Z", "AA", "AZ", "AAA"]
    shanghai = datetime(2026, 11, 21, 3, 27, 45, 969_543, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert wall_clock_serial(shanghai) == excel_serial(shanghai.replace(tzinfo=None))


def test_an_empty_workbook_has_a_sheet() -> None:
    """A workbook with no sheet still opens: it gets an empty one."""
    data, wb = _book(lambda book: None)
    assert wb.sheetnames == ["Sheet1"] and "xl/styles.xml" in _parts_parse(data)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """The hand-checked month of tests/test_reports_daily.py."""
    migrate.upgrade(db_url)
    database = Database(db_url, FakeClock(MONDAY_MORNING))
    with database.unit_of_work() as uow:
        seed(uow.session)
        uow.commit()
    try:
        yield database
    finally:
        database.dispose()


def test_an_owners_comment_cannot_break_the_monthly_report(db: Database) -> None:
    """R51, R24: a callback comment with a control character and a formula-like text is
    written as the text the agent meant; the workbook still opens (with openpyxl the control
    character failed the whole report)."""
    with db.unit_of_work() as uow:
        callback = uow.session.scalars(
            select(Callback).where(Callback.comment == "still leaking")
        ).one()
        callback.comment = "=1+1 still\x0b leaking <again> & again"
        uow.commit()
    out = BytesIO()
    with db.unit_of_work() as uow:
        summary = write_monthly_workbook(
            uow.session, "2026-11", TZ, "en", out, now=local(12, 1, 10)
        )
    assert summary.callback_rows == 4
    assert _parts_parse(out.getvalue())
    sheet = load_workbook(BytesIO(out.getvalue()))["Callbacks"]
    comments = [row[9] for row in sheet.iter_rows(min_row=6, values_only=True)]
    assert "=1+1 still leaking <again> & again" in comments
    assert sheet["A5"].font.b and sheet["G6"].number_format == WHEN
