"""The monthly report (R51): statistics, fees, arrears and callbacks of a hand-checked month."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

from scheduler.monthly_report import MonthlySummary, write_monthly_workbook
from store import migrate
from store.db import Database
from store.models import Callback
from store.reports import (
    Compliance,
    fee_detail,
    month_range,
    monthly_compliance,
    monthly_statistics,
    parse_month,
)
from tests.harness import MONDAY_MORNING, FakeClock
from tests.test_reports_daily import TZ, local, seed

MONTH = "2026-11"
#: the report is written on the first morning of the next month
NOW = local(12, 1, 10)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated database holding the seeded estate."""
    migrate.upgrade(db_url)
    database = Database(db_url, FakeClock(MONDAY_MORNING))
    with database.unit_of_work() as uow:
        seed(uow.session)
        uow.commit()
    try:
        yield database
    finally:
        database.dispose()


def _rows(sheet: Worksheet) -> list[tuple[Any, ...]]:
    return [row for row in sheet.iter_rows(values_only=True) if any(v is not None for v in row)]


def _workbook(db: Database, language: str) -> tuple[MonthlySummary, dict[str, Worksheet]]:
    out = BytesIO()
    with db.unit_of_work() as uow:
        summary = write_monthly_workbook(uow.session, MONTH, TZ, language, out, now=NOW)
    book = load_workbook(BytesIO(out.getvalue()))
    return summary, {ws.title: ws for ws in book.worksheets}


def test_months_are_checked_and_local() -> None:
    """A month is YYYY-MM; November in Shanghai starts at 16:00 UTC on 31 October."""
    start, end = month_range("2026-11", TZ)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-10-31T16:00:00+00:00",
        "2026-11-30T16:00:00+00:00",
    )
    assert month_range("2026-12", TZ)[1].isoformat() == "2026-12-31T16:00:00+00:00"
    for bad in ("2026-13", "2026-1", "Nov", "", "2026-00", "2026-11-01"):
        with pytest.raises(ValueError):
            parse_month(bad)


def test_monthly_queries(db: Database) -> None:
    """Per-category statistics, compliance and the streamed fee detail."""
    with db.unit_of_work() as uow:
        stats = {s.category: s for s in monthly_statistics(uow.session, MONTH, TZ)}
        compliance = monthly_compliance(uow.session, MONTH, TZ)
        fees = list(fee_detail(uow.session, MONTH, TZ, batch=2))
    # R-M (31 Oct 23:59) and R-N (1 Dec 00:01) are outside November
    assert {k: s.orders for k, s in stats.items()} == {
        "plumbing": 3,
        "electrical": 2,
        "doors_windows": 1,
        "appliances": 1,
        "cleaning": 1,
        "greening": 1,
        "office": 1,
    }
    assert list(stats) == [
        "plumbing",
        "electrical",
        "doors_windows",
        "appliances",
        "cleaning",
        "greening",
        "office",
    ]
    e = stats["electrical"]
    assert (e.completed, e.cancelled, e.billed_fen, e.collected_fen, e.rated) == (
        2,
        0,
        8000,
        1000,
        0,
    )
    assert stats["greening"].cancelled == 1 and stats["greening"].service
    assert (stats["plumbing"].rated, stats["plumbing"].satisfaction) == (1, 1.0)
    assert stats["cleaning"].satisfaction == 0.0 and stats["appliances"].satisfaction is None
    assert compliance == Compliance(3, 2, 2, 1)
    assert compliance.repair_rate == pytest.approx(2 / 3) and not compliance.repairs_ok
    assert compliance.service_rate == 0.5 and compliance.services_ok
    assert [f.number for f in fees] == ["R-I", "R-H", "R-C", "R-B"]
    i = fees[0]
    assert (i.room, i.category, i.item_en, i.amount_fen, i.paid_fen, i.status) == (
        "3-2-1201",
        "office",
        "office job",
        2000,
        2000,
        "paid",
    )
    assert i.methods == ("alipay",) and i.engineer == "王师傅"
    assert i.last_paid_at == local(11, 21, 23, 59)
    assert fees[3].methods == () and fees[3].last_paid_at is None


def test_workbook_in_english(db: Database) -> None:
    """Each sheet's headers, rows, totals and the compliance figures."""
    summary, sheets = _workbook(db, "en")
    assert list(sheets) == ["Statistics", "Fee detail", "Arrears", "Callbacks", "Complaints"]
    assert summary == MonthlySummary(
        month=MONTH,
        orders=10,
        completed=5,
        billed_fen=18000,
        collected_fen=11000,
        fee_rows=4,
        fee_amount_fen=18000,
        fee_paid_fen=11000,
        arrears_rows=2,
        arrears_fen=7000,
        callback_rows=4,
        compliance=Compliance(3, 2, 2, 1),
    )

    stats = _rows(sheets["Statistics"])
    assert stats[0][0] == "Repairs and paid services, 2026-11"
    assert stats[1] == (
        "Type",
        "Category",
        "Orders",
        "Completed",
        "Cancelled",
        "Billed (yuan)",
        "Collected (yuan)",
        "Rated",
        "Satisfaction",
    )
    assert [r[1] for r in stats[2:]] == [
        "Plumbing",
        "Electrical",
        "Doors and windows",
        "Appliances",
        "Repairs total",
        "Cleaning",
        "Greening",
        "Office services",
        "Paid services total",
        "Total",
    ]
    assert stats[3] == ("Repair", "Electrical", 2, 2, 0, 80.0, 10.0, 0, None)
    assert stats[6] == ("Repair", "Repairs total", 7, 3, 0, 80.0, 10.0, 1, 1.0)
    assert stats[10] == ("Paid service", "Paid services total", 3, 2, 1, 100.0, 100.0, 2, 0.0)
    assert stats[11][2:8] == (10, 5, 1, 180.0, 110.0, 3)
    assert stats[11][8] == pytest.approx(1 / 3)
    assert sheets["Statistics"].cell(4, 6).number_format == "#,##0.00"

    fees = _rows(sheets["Fee detail"])
    assert fees[0] == (
        "Order",
        "Billed at",
        "Room",
        "Category",
        "Item",
        "Amount (yuan)",
        "Paid (yuan)",
        "Status",
        "Payment method",
        "Last paid at",
        "Engineer",
    )
    assert fees[1] == (
        "R-I",
        datetime(2026, 11, 21, 13, 0),  # noqa: DTZ001 - Excel keeps wall-clock times
        "3-2-1201",
        "Office services",
        "office job",
        20.0,
        20.0,
        "Paid",
        "Alipay",
        datetime(2026, 11, 21, 23, 59),  # noqa: DTZ001
        "王师傅",
    )
    assert [r[0] for r in fees[1:]] == ["R-I", "R-H", "R-C", "R-B", "Total"]
    assert fees[-1][:7] == ("Total", "4 bills", None, None, None, 180.0, 110.0)
    assert fees[2][8] == "WeChat Pay" and fees[4][7] == "Unpaid" and fees[4][8] is None

    arrears = _rows(sheets["Arrears"])
    assert arrears[0][:8] == (
        "Order",
        "Room",
        "Category",
        "Amount (yuan)",
        "Paid (yuan)",
        "Outstanding (yuan)",
        "Billed at",
        "Days outstanding",
    )
    assert arrears[1][:6] == ("R-H", "3-2-1201", "Electrical", 30.0, 10.0, 20.0)
    assert arrears[1][7:] == (9, 2, datetime(2026, 11, 23, 9, 0))  # noqa: DTZ001
    assert arrears[2][0] == "R-B" and arrears[2][7] == 8 and arrears[2][9] is None
    assert arrears[3][:6] == ("Total", "2 bills", None, None, None, 70.0)

    callbacks = _rows(sheets["Callbacks"])
    assert callbacks[0][:5] == ("Callback compliance", "Completed", "Called back", "Rate", "Target")
    assert callbacks[1][:3] == ("Repairs", 3, 2) and callbacks[1][4] == 1.0
    assert callbacks[1][3] == pytest.approx(2 / 3)
    assert callbacks[2][:5] == ("Paid services", 2, 1, 0.5, 0.3)
    assert callbacks[3][0] == "Order" and callbacks[3][-1] == "Comment"
    assert [r[0] for r in callbacks[4:]] == ["R-H", "R-I", "R-C", "R-A"]
    assert callbacks[4] == (
        "R-H",
        "Electrical",
        "Routine",
        "Phone call",
        "Done",
        "客服小李",
        datetime(2026, 11, 21, 16, 0),  # noqa: DTZ001
        datetime(2026, 11, 21, 20, 0),  # noqa: DTZ001
        "Unsatisfied",
        "still leaking",
    )
    assert callbacks[6][2:6] == ("Sample", "Survey", "Asked", "the bot")
    assert callbacks[6][7:] == (None, None, None)


def test_workbook_in_chinese(db: Database) -> None:
    """The zh workbook names categories in Chinese and uses the price list's Chinese items."""
    summary, sheets = _workbook(db, "zh")
    assert summary.fee_rows == 4 and len(sheets) == 5  # with the complaint summary (R35)
    stats = next(iter(sheets.values()))
    assert "水路管道" in [row[1] for row in stats.iter_rows(values_only=True)]


def test_an_empty_month(db: Database) -> None:
    """A month without work still gives every sheet, with zero totals."""
    out = BytesIO()
    with db.unit_of_work() as uow:
        summary = write_monthly_workbook(uow.session, "2025-01", TZ, "en", out, now=NOW)
    assert (summary.orders, summary.fee_rows, summary.callback_rows) == (0, 0, 0)
    assert summary.arrears_rows == 2  # unpaid now, whatever the month
    fees = _rows(load_workbook(BytesIO(out.getvalue()))["Fee detail"])
    assert fees[-1][:2] == ("Total", "0 bills")


def test_progress_is_reported(db: Database) -> None:
    """The writer tells its caller how far each sheet got."""
    seen: list[tuple[str, int]] = []
    with db.unit_of_work() as uow:
        write_monthly_workbook(
            uow.session,
            MONTH,
            TZ,
            "en",
            BytesIO(),
            now=NOW,
            progress=lambda s, n: seen.append((s, n)),
        )
    assert seen == [("fee detail", 4), ("arrears", 2), ("callbacks", 4)]


def test_an_owners_comment_cannot_break_the_monthly_report(db: Database) -> None:
    """R51, R24: a callback comment with a control character and a formula-like text is
    written as the text the agent meant (openpyxl refused the whole report for the control
    character, and wrote "=1+1…" as a formula)."""
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
    sheet = load_workbook(BytesIO(out.getvalue()))["Callbacks"]
    cells = [row[9] for row in sheet.iter_rows(min_row=6)]
    comments = [cell.value for cell in cells]
    assert "=1+1 still leaking <again> & again" in comments
    assert all(cell.data_type != "f" for cell in cells)


def test_styled_cells_keep_their_own_values_and_styles(db: Database) -> None:
    """R51: the writer refills a few styled cells row after row (issue 15: ~400,000 new cells
    at 10^6 orders); every row still gets its own value, format and weight, the totals are bold
    and the body is not, and a text that was empty is a blank cell."""
    out = BytesIO()
    with db.unit_of_work() as uow:
        write_monthly_workbook(uow.session, MONTH, TZ, "en", out, now=NOW)
    sheet = load_workbook(BytesIO(out.getvalue()))["Fee detail"]
    rows = [row for row in sheet.iter_rows() if any(c.value is not None for c in row)]
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert all(c.font.b for c in header) and not any(c.font.b for row in body for c in row)
    assert [row[5].value for row in body] == [20, 30, 80, 50]
    assert [row[6].value for row in body] == [20, 10, 80, 0]
    assert {(row[1].number_format, row[5].number_format) for row in body} == {
        ("yyyy-mm-dd hh:mm", "#,##0.00")
    }
    assert len({row[1].value for row in body}) == 4  # four bills, four times
    assert [c.value for c in total[:2]] == ["Total", "4 bills"] and total[5].font.b
    unpaid = body[3]
    assert unpaid[7].value == "Unpaid" and unpaid[8].value is None and unpaid[9].value is None


def test_the_workbook_is_stamped_with_the_desks_clock(db: Database) -> None:
    """One clock: the file's created/modified times are the report's `now`, not the machine's
    (openpyxl's own save stamps the wall clock)."""
    out = BytesIO()
    with db.unit_of_work() as uow:
        write_monthly_workbook(uow.session, MONTH, TZ, "en", out, now=NOW)
    properties = load_workbook(BytesIO(out.getvalue())).properties
    stamp = NOW.astimezone(UTC).replace(tzinfo=None)
    assert (properties.created, properties.modified) == (stamp, stamp)
