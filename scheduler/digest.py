"""The managers' daily digest (R52): a short message and a PNG chart of yesterday's work."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from io import BytesIO
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from handlers.complaints.common import CLASS_LABELS, OUTCOME_LABELS, SUBJECT_LABELS
from handlers.complaints.common import STATUS_LABELS as COMPLAINT_STATUS
from handlers.desk import Desk
from handlers.i18n import Translate, translator
from handlers.labels import CATEGORY_LABELS, category_label, money
from store.clock import session_now as figures_now
from store.complaints.reports import ComplaintDay, complaint_day, complaint_month
from store.reports import DailyFigures, daily_figures

#: fonts that can draw Chinese, best first
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def digest_text(figures: DailyFigures, language: str) -> str:
    """The digest as a short message in the manager's language (zh or en)."""
    _ = translator(language)
    f = figures
    lines = [
        _("📊 Daily digest for {day}").format(day=f.day.isoformat()),
        _("New orders: {new} · completed: {completed}").format(new=f.new, completed=f.completed),
        _("Open now: {open} · overdue: {overdue}").format(open=f.open, overdue=f.overdue),
    ]
    if f.categories:
        lines.append(_("By category (new / completed / open / overdue):"))
        lines += [
            f"  {category_label(_, c.category)}: {c.new} / {c.completed} / {c.open} / {c.overdue}"
            for c in f.categories
        ]
    lines += [
        _("Collected: {amount} in {count} payments").format(
            amount=money(f.collected_fen), count=f.payments
        ),
        _("Outstanding: {amount} in {count} unpaid bills").format(
            amount=money(f.outstanding_fen), count=f.unpaid_bills
        ),
        _(
            "Satisfaction: satisfied {satisfied} · average {average} · unsatisfied {unsatisfied}"
        ).format(satisfied=f.satisfied, average=f.average, unsatisfied=f.unsatisfied),
        _("Promises kept:"),
        "  "
        + _("Urgent repairs on site within 30 min: {kept} of {total} ({percent})").format(
            kept=f.urgent_on_time, total=f.urgent, percent=_percent(f.urgent_on_time, f.urgent)
        ),
        "  "
        + _("Completed repairs with a callback: {kept} of {total} ({percent})").format(
            kept=f.repairs_called_back,
            total=f.repairs_completed,
            percent=_percent(f.repairs_called_back, f.repairs_completed),
        ),
        "  "
        + _("Time to claim: mean {mean} min, median {median} min ({count} orders)").format(
            mean=_minutes(f.claim_mean_minutes),
            median=_minutes(f.claim_median_minutes),
            count=f.claimed,
        ),
    ]
    return "\n".join(lines)


@cache
def cjk_font() -> str | None:
    """The name of an installed font that can draw Chinese, or None."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _english(message: str) -> str:
    return message


def digest_chart(figures: DailyFigures, language: str) -> bytes:
    """A PNG of new / completed / open / overdue orders by category (grouped bars).

    Labels are in the manager's language when a CJK-capable font is installed for Chinese;
    otherwise the chart falls back to English rather than drawing empty boxes."""
    # matplotlib takes most of a second to import: only processes that draw a chart pay it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    font = cjk_font()
    _: Translate = translator(language) if language == "en" or font else _english
    series = (
        (_("New"), [c.new for c in figures.categories], "#4C72B0"),
        (_("Completed"), [c.completed for c in figures.categories], "#55A868"),
        (_("Open"), [c.open for c in figures.categories], "#8172B3"),
        (_("Overdue"), [c.overdue for c in figures.categories], "#C44E52"),
    )
    names = [
        _(CATEGORY_LABELS[c.category]) if c.category in CATEGORY_LABELS else c.category
        for c in figures.categories
    ]
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    family = [font, "DejaVu Sans"] if font and _ is not _english else ["DejaVu Sans"]
    width = 0.2
    for i, (label, values, color) in enumerate(series):
        xs = [x + (i - 1.5) * width for x in range(len(names))]
        bars = ax.bar(xs, values, width, label=label, color=color)
        ax.bar_label(bars, fontsize=7, padding=1, family=family)
    ax.set_xticks(range(len(names)), names, fontsize=8, family=family, rotation=20, ha="right")
    ax.margins(y=0.25)  # headroom for the legend
    ax.set_title(_("Orders on {day}").format(day=figures.day.isoformat()), family=family)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    if not names:
        ax.text(
            0.5,
            0.5,
            _("No orders"),
            ha="center",
            va="center",
            transform=ax.transAxes,
            family=family,
        )
    ax.legend(prop={"family": family, "size": 8}, frameon=False, ncols=4, loc="upper center")
    fig.tight_layout()
    out = BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def complaint_text(figures: ComplaintDay, language: str) -> str:
    """The digest's complaint lines (R52): received, open by status and class, late progress
    updates (R33), and every flagged complaint until it is closed (R34); numbers only (R30)."""
    if figures.empty and not figures.flagged:
        return ""
    _ = translator(language)
    f = figures
    lines = [
        _(
            "Complaints received: {complaints} · suggestions: {suggestions} · closed: {closed}"
        ).format(complaints=f.complaints, suggestions=f.suggestions, closed=f.closed),
    ]
    if f.open_by_status:
        statuses = " · ".join(
            f"{_(COMPLAINT_STATUS.get(k, k))} {v}" for k, v in sorted(f.open_by_status.items())
        )
        lines.append(_("Open complaints: {statuses}").format(statuses=statuses))
    if f.open_by_class:
        classes = " · ".join(
            f"{_(CLASS_LABELS.get(k, k))} {v}" for k, v in sorted(f.open_by_class.items())
        )
        lines.append(_("Open by class: {classes}").format(classes=classes))
    if f.overdue_progress:
        lines.append(
            _("Progress updates overdue (R33): {numbers}").format(
                numbers=", ".join(f.overdue_progress)
            )
        )
    for number, status in f.flagged:
        lines.append(
            _("🚩 Flagged (R34): {number} · {status}").format(
                number=number, status=_(COMPLAINT_STATUS.get(status, status))
            )
        )
    return "\n".join(lines)


def complaint_summary_text(
    session: Session, month: str, desk: Desk, now: datetime, language: str
) -> str:
    """R35: the month's complaints by type, class, subject and outcome, the medians, missed
    progress updates, reopenings and liaison forms awaiting a reply; counts only (R30)."""
    _ = translator(language)
    s = complaint_month(session, month, desk.timezone)

    def spread(labels: dict[str, str], counts: dict[str, int]) -> str:
        parts = [f"{_(label)} {counts[key]}" for key, label in labels.items() if counts.get(key)]
        return " · ".join(parts) or "-"

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    day = desk.local(now).strftime("%m-%d")
    return "\n".join(
        [
            _("📣 Complaint summary {month} (to {day})").format(month=month, day=day),
            _("Complaints: {complaints} · suggestions: {suggestions}").format(
                complaints=s.by_kind.get("complaint", 0),
                suggestions=s.by_kind.get("suggestion", 0),
            ),
            _("By class: {items}").format(items=spread(CLASS_LABELS, s.by_class)),
            _("By subject: {items}").format(items=spread(SUBJECT_LABELS, s.by_subject)),
            _("By outcome: {items}").format(items=spread(OUTCOME_LABELS, s.by_outcome)),
            _("Median time to classify: {classify} min · to close: {close} h").format(
                classify=number(s.median_classify_minutes), close=number(s.median_close_hours)
            ),
            _(
                "Missed progress updates: {missed} · reopenings: {reopened} · liaison forms "
                "awaiting a reply: {awaiting}"
            ).format(missed=s.missed_progress, reopened=s.reopenings, awaiting=s.liaisons_awaiting),
        ]
    )


def daily_digest(
    session: Session, day: date, tz: ZoneInfo, language: str, now: datetime | None = None
) -> tuple[str, bytes]:
    """The digest text (with its complaint lines) and chart for the local day `day`."""
    figures = daily_figures(session, day, tz, now)
    text = digest_text(figures, language)
    complaints = complaint_text(
        complaint_day(session, day, tz, now or figures_now(session)), language
    )
    if complaints:
        text = f"{text}\n{complaints}"
    return text, digest_chart(figures, language)
