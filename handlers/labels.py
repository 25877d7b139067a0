"""Names people read: categories, statuses, money and visit times, in their language."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_date

from handlers.i18n import Translate


def N_(message: str) -> str:
    """Mark a string for translation without translating it yet."""
    return message


CATEGORY_LABELS: dict[str, str] = {
    "plumbing": N_("Plumbing"),
    "electrical": N_("Electrical"),
    "doors_windows": N_("Doors and windows"),
    "walls_floors": N_("Walls and floors"),
    "appliances": N_("Appliances"),
    "cleaning": N_("Cleaning"),
    "greening": N_("Greening"),
    "office": N_("Office services"),
}

# what makes sense to report in a corridor, lobby or garden
PUBLIC_CATEGORIES = (
    "plumbing",
    "electrical",
    "doors_windows",
    "walls_floors",
    "cleaning",
    "greening",
)

STATUS_LABELS: dict[str, str] = {
    "submitted": N_("Waiting for an engineer"),
    "claimed": N_("Engineer assigned"),
    "on_the_way": N_("Engineer on the way"),
    "arrived": N_("Engineer on site"),
    "quoted": N_("Waiting for your decision on the quote"),
    "in_progress": N_("Work in progress"),
    "done": N_("Done, waiting for your check"),
    "accepted": N_("Accepted"),
    "closed": N_("Closed"),
    "cancelled": N_("Cancelled"),
}

EVENT_LABELS: dict[str, str] = {
    "submitted": N_("Request submitted"),
    "quote_agreed": N_("Price agreed"),
    "claim": N_("Engineer took the job"),
    "release": N_("Job returned to the team"),
    "depart": N_("Engineer on the way"),
    "arrive": N_("Engineer arrived"),
    "not_home": N_("Nobody home"),
    "quote": N_("Quote on site"),
    "agree": N_("Quote agreed"),
    "decline": N_("Quote declined"),
    "start": N_("Work started"),
    "complete": N_("Work done"),
    "accept": N_("Accepted by owner"),
    "reject": N_("Reported not fixed"),
    "close": N_("Closed"),
    "cancel": N_("Cancelled"),
    "rebook": N_("Visit re-booked"),
    "rate": N_("Rated by owner"),
    "rate_comment": N_("Owner's comment"),
    "fee_cash": N_("Fee collected in cash"),
    "fee_unpaid": N_("Fee unpaid"),
    "payment": N_("Payment received"),
    "receipt": N_("Receipt sent to the owner"),
    "quote_proposed": N_("Off-list quote sent for approval"),
    "quote_rejected": N_("Quote rejected by supervisor"),
    "callout_fee": N_("Call-out fee charged"),
    "materials_owner": N_("Owner-supplied material"),
    "materials_stock": N_("Material from stock"),
}


UNIT_LABELS: dict[str, str] = {
    "个": N_("item"),  # "¥30.00 per item" (not "per each", issue 11.10)
    "台": N_("unit"),
    "块": N_("piece"),
    "套": N_("set"),
    "小时": N_("hour"),
    "平方米": N_("m²"),
    "张": N_("sheet"),
    "扇": N_("window"),
    "把": N_("lock"),
    "月": N_("month"),
    "根": N_("piece"),
    "次": N_("visit"),
    "盆": N_("pot"),
    "米": N_("metre"),
    "页": N_("page"),
}


ROLE_LABELS = {
    "agent": N_("customer-service agent"),
    "butler": N_("butler"),
    "engineer": N_("engineer"),
    "cleaner": N_("cleaner"),
    "gardener": N_("gardener"),
    "supervisor": N_("supervisor"),
    "finance": N_("finance"),
    "manager": N_("manager"),
}
DEPARTMENT_LABELS = {
    "engineering": N_("engineering"),
    "cleaning": N_("cleaning"),
    "greening": N_("greening"),
}


def unit_label(language: str, _: Translate, unit: str) -> str:
    """A price-list unit (stored in Chinese) in the reader's language."""
    if language == "zh" or unit not in UNIT_LABELS:
        return unit
    return _(UNIT_LABELS[unit])


def category_label(_: Translate, key: str) -> str:
    """A category's name in the reader's language."""
    return _(CATEGORY_LABELS[key]) if key in CATEGORY_LABELS else key


def status_label(_: Translate, key: str) -> str:
    """An order status in the reader's language."""
    return _(STATUS_LABELS[key]) if key in STATUS_LABELS else key


def event_label(_: Translate, key: str) -> str:
    """An order-history action in the reader's language."""
    return _(EVENT_LABELS[key]) if key in EVENT_LABELS else key


def money(fen: int) -> str:
    """Integer fen as yuan, e.g. 3050 -> ¥30.50."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100}.{fen % 100:02d}"


def day_label(language: str, moment: datetime) -> str:
    """A local date as people say it: "Mon 23 Nov" or "11月23日 周一"."""
    if language == "zh":
        return format_date(moment.date(), "M月d日 EEE", locale="zh_CN")
    return format_date(moment.date(), "EEE d MMM", locale="en")


def window_label(language: str, start: datetime, end: datetime) -> str:
    """A visit window in local time, e.g. "Mon 23 Nov 10:00–12:00"."""
    return f"{day_label(language, start)} {start:%H:%M}–{end:%H:%M}"


def phone_label(e164: str | None) -> str:
    """A phone number as people read and dial it: +8613812345678 → 138 1234 5678 (Telegram
    makes such a number tappable); anything else as stored."""
    if not e164:
        return "-"
    digits = e164.removeprefix("+86")
    if len(digits) == 11 and digits.isdigit() and e164.startswith("+86"):
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    return e164


def masked_phone(e164: str) -> str:
    """A phone number with the middle hidden, e.g. +86 138****5678."""
    digits = e164.removeprefix("+86")
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    return e164
