"""The monthly report workbook (R51): statistics, fee detail, arrears, the callback record and
the complaint summary (R35).

Written with openpyxl in write-only mode and fed by streamed queries, so memory stays flat
however many orders the month holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any
from zipfile import ZIP_DEFLATED, ZipFile
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.writer.excel import ExcelWriter
from sqlalchemy.orm import Session

from handlers.complaints.common import CLASS_LABELS, OUTCOME_LABELS, SUBJECT_LABELS
from handlers.finance import METHOD_LABELS
from handlers.i18n import Translate, translator
from handlers.labels import N_, category_label
from store.clock import session_now
from store.complaints.reports import ComplaintMonth, complaint_month
from store.reports import (
    REPAIR_CALLBACK_TARGET,
    SERVICE_CALLBACK_TARGET,
    ArrearRow,
    CallbackRow,
    CategoryMonth,
    Compliance,
    FeeRow,
    arrears_list,
    callback_record,
    fee_detail,
    monthly_compliance,
    monthly_statistics,
    parse_month,
)

YUAN = "#,##0.00"
PERCENT = "0.0%"
WHEN = "yyyy-mm-dd hh:mm"
PROGRESS_EVERY = 10_000
ZIP_LEVEL = 1  # see _save

Progress = Callable[[str, int], None]

RESULT_LABELS = {
    "satisfied": N_("Satisfied"),
    "average": N_("Average"),
    "unsatisfied": N_("Unsatisfied"),
}
REASON_LABELS = {
    "routine": N_("Routine"),
    "sample": N_("Sample"),
    "rating": N_("After a rating"),
}
CALLBACK_METHOD_LABELS = {"survey": N_("Survey"), "call": N_("Phone call")}
CALLBACK_STATUS_LABELS = {
    "scheduled": N_("Scheduled"),
    "asked": N_("Asked"),
    "answered": N_("Answered"),
    "open": N_("Open"),
    "taken": N_("Taken"),
    "done": N_("Done"),
}
BILL_STATUS_LABELS = {"paid": N_("Paid"), "unpaid": N_("Unpaid")}


@dataclass(frozen=True)
class MonthlySummary:
    """What the workbook holds, for the CLI and the sender to mention."""

    month: str
    orders: int
    completed: int
    billed_fen: int
    collected_fen: int
    fee_rows: int
    fee_amount_fen: int
    fee_paid_fen: int
    arrears_rows: int
    arrears_fen: int
    callback_rows: int
    compliance: Compliance


class _Sheet:
    """A write-only sheet with helpers for typed cells.

    openpyxl writes each appended row at once, so a styled cell is only needed until `append`
    returns: styled cells are kept per style and refilled row after row instead of a new
    WriteOnlyCell (and its style look-ups) for every value -- at 10^6 orders that is ~400,000
    cells."""

    def __init__(self, book: Workbook, title: str, tz: ZoneInfo, widths: Sequence[int]) -> None:
        self.ws: WriteOnlyWorksheet = book.create_sheet(title[:31])
        self.tz = tz
        self.bold = Font(bold=True)
        self._kept: dict[tuple[str | None, bool], list[WriteOnlyCell]] = {}
        self._lent: dict[tuple[str | None, bool], int] = {}
        for number, width in enumerate(widths, 1):  # only possible before the first row
            self.ws.column_dimensions[get_column_letter(number)].width = width

    def cell(self, value: Any, number_format: str | None = None, bold: bool = False) -> Any:
        style = (number_format, bold)
        kept = self._kept.setdefault(style, [])
        lent = self._lent.get(style, 0)
        if lent == len(kept):
            fresh = WriteOnlyCell(self.ws)
            if number_format:
                fresh.number_format = number_format
            if bold:
                fresh.font = self.bold
            kept.append(fresh)
        self._lent[style] = lent + 1
        cell = kept[lent]
        cell.value = _text(value)
        if isinstance(value, str):
            cell.data_type = "s"  # what people typed is text, never a formula ("=1+1")
        return cell

    def yuan(self, fen: int | None, bold: bool = False) -> Any:
        return self.cell(None if fen is None else round(fen / 100, 2), YUAN, bold)

    def when(self, moment: datetime | None) -> Any:
        if moment is None:
            return None
        # Excel has no time zones: write the property's wall-clock time, as the serial number
        # openpyxl would write for it (a float takes the short path through its cell)
        return self.cell(to_excel(moment.astimezone(self.tz).replace(tzinfo=None)), WHEN)

    def percent(self, share: float | None) -> Any:
        return self.cell(share, PERCENT)

    def header(self, titles: Iterable[str]) -> None:
        self.append([self.cell(t, bold=True) for t in titles])

    def append(self, row: list[Any]) -> None:
        for number, value in enumerate(row):
            # free text as text: a leading "=" would make openpyxl write a formula
            if isinstance(value, str):
                if not value:  # an empty text cell reads as a blank one: write none (~4%)
                    row[number] = None
                elif value.startswith("="):
                    row[number] = self.cell(value)
                else:
                    row[number] = _text(value)
        self.ws.append(row)
        self._lent.clear()  # the row is written: its styled cells can be refilled


def _text(value: Any) -> Any:
    """Text without the control characters a workbook cannot hold (openpyxl would refuse the
    whole report for one in an owner's comment); other values unchanged."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _label(_: Translate, labels: dict[str, str], key: str | None) -> str:
    if key is None:
        return ""
    return _(labels[key]) if key in labels else key


def _statistics(sheet: _Sheet, _: Translate, month: str, rows: list[CategoryMonth]) -> None:
    sheet.append(
        [sheet.cell(_("Repairs and paid services, {month}").format(month=month), bold=True)]
    )
    sheet.header(
        [
            _("Type"),
            _("Category"),
            _("Orders"),
            _("Completed"),
            _("Cancelled"),
            _("Billed (yuan)"),
            _("Collected (yuan)"),
            _("Rated"),
            _("Satisfaction"),
        ]
    )

    def line(kind: str, name: str, items: list[CategoryMonth], bold: bool = False) -> None:
        rated = sum(r.rated for r in items)
        satisfied = sum(r.satisfied for r in items)
        sheet.append(
            [
                sheet.cell(kind, bold=bold),
                sheet.cell(name, bold=bold),
                sheet.cell(sum(r.orders for r in items), bold=bold),
                sheet.cell(sum(r.completed for r in items), bold=bold),
                sheet.cell(sum(r.cancelled for r in items), bold=bold),
                sheet.yuan(sum(r.billed_fen for r in items), bold),
                sheet.yuan(sum(r.collected_fen for r in items), bold),
                sheet.cell(rated, bold=bold),
                sheet.percent(satisfied / rated if rated else None),
            ]
        )

    for kind, service, subtotal in (
        (_("Repair"), False, _("Repairs total")),
        (_("Paid service"), True, _("Paid services total")),
    ):
        group = [r for r in rows if r.service is service]
        for r in group:
            line(kind, category_label(_, r.category), [r])
        line(kind, subtotal, group, bold=True)
    line("", _("Total"), rows, bold=True)


def _fee_detail(
    sheet: _Sheet,
    _: Translate,
    language: str,
    rows: Iterable[FeeRow],
    progress: Progress | None,
) -> tuple[int, int, int]:
    sheet.header(
        [
            _("Order"),
            _("Billed at"),
            _("Room"),
            _("Category"),
            _("Item"),
            _("Amount (yuan)"),
            _("Paid (yuan)"),
            _("Status"),
            _("Payment method"),
            _("Last paid at"),
            _("Engineer"),
        ]
    )
    count = amount = paid = 0
    for row in rows:
        sheet.append(
            [
                row.number,
                sheet.when(row.billed_at),
                row.room,
                category_label(_, row.category),
                row.item_zh if language == "zh" else row.item_en,
                sheet.yuan(row.amount_fen),
                sheet.yuan(row.paid_fen),
                _label(_, BILL_STATUS_LABELS, row.status),
                ", ".join(_label(_, METHOD_LABELS, m) for m in row.methods),
                sheet.when(row.last_paid_at),
                row.engineer,
            ]
        )
        count, amount, paid = count + 1, amount + row.amount_fen, paid + row.paid_fen
        if progress and count % PROGRESS_EVERY == 0:
            progress("fee detail", count)
    total = sheet.cell(_("Total"), bold=True)
    count_cell = sheet.cell(_("{count} bills").format(count=count), bold=True)
    sheet.append(
        [total, count_cell, None, None, None, sheet.yuan(amount, True), sheet.yuan(paid, True)]
    )
    if progress:
        progress("fee detail", count)
    return count, amount, paid


def _arrears(
    sheet: _Sheet, _: Translate, rows: Iterable[ArrearRow], progress: Progress | None
) -> tuple[int, int]:
    sheet.header(
        [
            _("Order"),
            _("Room"),
            _("Category"),
            _("Amount (yuan)"),
            _("Paid (yuan)"),
            _("Outstanding (yuan)"),
            _("Billed at"),
            _("Days outstanding"),
            _("Reminders sent"),
            _("Follow-up since"),
        ]
    )
    count = outstanding = 0
    for row in rows:
        sheet.append(
            [
                row.number,
                row.room,
                category_label(_, row.category),
                sheet.yuan(row.amount_fen),
                sheet.yuan(row.paid_fen),
                sheet.yuan(row.outstanding_fen),
                sheet.when(row.since),
                row.days,
                row.reminders_sent,
                sheet.when(row.follow_up_since),
            ]
        )
        count, outstanding = count + 1, outstanding + row.outstanding_fen
        if progress and count % PROGRESS_EVERY == 0:
            progress("arrears", count)
    total = sheet.cell(_("Total"), bold=True)
    count_cell = sheet.cell(_("{count} bills").format(count=count), bold=True)
    sheet.append([total, count_cell, None, None, None, sheet.yuan(outstanding, True)])
    if progress:
        progress("arrears", count)
    return count, outstanding


def _callbacks(
    sheet: _Sheet,
    _: Translate,
    compliance: Compliance,
    rows: Iterable[CallbackRow],
    progress: Progress | None,
) -> int:
    sheet.header(
        [_("Callback compliance"), _("Completed"), _("Called back"), _("Rate"), _("Target")]
    )
    c = compliance
    for name, done, called, rate, target in (
        (
            _("Repairs"),
            c.repairs_completed,
            c.repairs_called_back,
            c.repair_rate,
            REPAIR_CALLBACK_TARGET,
        ),
        (
            _("Paid services"),
            c.services_completed,
            c.services_called_back,
            c.service_rate,
            SERVICE_CALLBACK_TARGET,
        ),
    ):
        sheet.append([name, done, called, sheet.percent(rate), sheet.percent(target)])
    sheet.append([])
    sheet.header(
        [
            _("Order"),
            _("Category"),
            _("Reason"),
            _("Method"),
            _("Status"),
            _("Handled by"),
            _("Created at"),
            _("Done at"),
            _("Result"),
            _("Comment"),
        ]
    )
    count = 0
    for row in rows:
        sheet.append(
            [
                row.number,
                category_label(_, row.category),
                _label(_, REASON_LABELS, row.reason),
                _label(_, CALLBACK_METHOD_LABELS, row.method),
                _label(_, CALLBACK_STATUS_LABELS, row.status),
                _("the bot") if row.handled_by == "bot" else row.handled_by,
                sheet.when(row.created_at),
                sheet.when(row.done_at),
                _label(_, RESULT_LABELS, row.result),
                row.comment or "",
            ]
        )
        count += 1
        if progress and count % PROGRESS_EVERY == 0:
            progress("callbacks", count)
    if progress:
        progress("callbacks", count)
    return count


def _complaints(sheet: _Sheet, _: Translate, summary: ComplaintMonth) -> None:
    """R35: the month's complaint summary, counts only (never who complained, R30)."""
    s = summary
    sheet.header([_("Complaint summary {month}").format(month=s.month), _("Count")])
    sheet.append([_("Complaints"), s.by_kind.get("complaint", 0)])
    sheet.append([_("Suggestions"), s.by_kind.get("suggestion", 0)])
    for title, labels, counts in (
        (_("By class"), CLASS_LABELS, s.by_class),
        (_("By subject"), SUBJECT_LABELS, s.by_subject),
        (_("By outcome"), OUTCOME_LABELS, s.by_outcome),
    ):
        sheet.append([])
        sheet.header([title, _("Count")])
        for key, label in labels.items():
            if counts.get(key):
                sheet.append([_(label), counts[key]])
    sheet.append([])
    sheet.header([_("Promises"), _("Value")])
    sheet.append([_("Median time to classify (minutes)"), _rounded(s.median_classify_minutes)])
    sheet.append([_("Median time to close (hours)"), _rounded(s.median_close_hours)])
    sheet.append([_("Missed progress updates (R33)"), s.missed_progress])
    sheet.append([_("Reopenings"), s.reopenings])
    sheet.append([_("Liaison forms awaiting a reply"), s.liaisons_awaiting])


def _remembered(translate: Translate) -> Translate:
    """`translate` with its answers kept: the same few labels are asked for on every row."""
    seen: dict[str, str] = {}

    def remembered(text: str) -> str:
        found = seen.get(text)
        if found is None:
            found = seen[text] = translate(text)
        return found

    return remembered


def _save(book: Workbook, out: IO[bytes], now: datetime) -> None:
    """`book.save(out)`, but zipped at level 1 and stamped with the desk's clock.

    Deflating the sheets is the last big step of a large report: level 1 takes about a third
    of the default level's time for a file about a quarter larger. openpyxl's own save would
    also stamp the file with the machine's clock; the report's time is the desk's (`now`)."""
    stamp = now.astimezone(UTC).replace(tzinfo=None)  # the file format's times are naive UTC
    book.properties.created = book.properties.modified = stamp
    with ZipFile(out, "w", ZIP_DEFLATED, allowZip64=True, compresslevel=ZIP_LEVEL) as archive:
        ExcelWriter(book, archive).write_data()


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def write_monthly_workbook(
    session: Session,
    month: str,
    tz: ZoneInfo,
    language: str,
    out: IO[bytes],
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> MonthlySummary:
    """Write the month's workbook (statistics, fee detail, arrears, callbacks) to `out`.

    `month` is "YYYY-MM" (ValueError otherwise); arrears are the bills unpaid at `now`
    (default: the current time), with days outstanding counted to `now`. `progress` is told
    (sheet, rows so far) every 10,000 rows and when each sheet is finished."""
    parse_month(month)
    now = now or session_now(session)
    _ = _remembered(translator(language))
    book = Workbook(write_only=True)

    stats = monthly_statistics(session, month, tz)
    _statistics(
        _Sheet(book, _("Statistics"), tz, (14, 22, 10, 10, 10, 14, 14, 10, 12)), _, month, stats
    )
    fee_rows, fee_amount, fee_paid = _fee_detail(
        _Sheet(book, _("Fee detail"), tz, (16, 17, 12, 16, 24, 14, 14, 10, 18, 17, 14)),
        _,
        language,
        fee_detail(session, month, tz),
        progress,
    )
    arrears_rows, arrears_fen = _arrears(
        _Sheet(book, _("Arrears"), tz, (16, 12, 16, 14, 14, 16, 17, 12, 12, 17)),
        _,
        arrears_list(session, now),
        progress,
    )
    compliance = monthly_compliance(session, month, tz)
    callback_rows = _callbacks(
        _Sheet(book, _("Callbacks"), tz, (22, 16, 14, 12, 10, 14, 17, 17, 10, 30)),
        _,
        compliance,
        callback_record(session, month, tz),
        progress,
    )
    _complaints(_Sheet(book, _("Complaints"), tz, (40, 12)), _, complaint_month(session, month, tz))
    _save(book, out, now)
    return MonthlySummary(
        month=month,
        orders=sum(r.orders for r in stats),
        completed=sum(r.completed for r in stats),
        billed_fen=sum(r.billed_fen for r in stats),
        collected_fen=sum(r.collected_fen for r in stats),
        fee_rows=fee_rows,
        fee_amount_fen=fee_amount,
        fee_paid_fen=fee_paid,
        arrears_rows=arrears_rows,
        arrears_fen=arrears_fen,
        callback_rows=callback_rows,
        compliance=compliance,
    )
