"""Report queries (R51, R52): the daily digest figures and the monthly workbook's rows.

Every figure is computed by the database (GROUP BY / COUNT / SUM) over a range of an indexed
column (orders.created_at, order_events(action, at), payments.at, bills(status, created_at),
callbacks.created_at, callbacks.done_at); what is open or unpaid at report time is counted from
covering indexes (orders(status, category), bills(status, amount_fen, paid_fen)); row listings
are streamed with ``yield_per``, never loaded whole.

A "day" or a "month" is the property's local day or month in its time zone; the database
keeps UTC, so each one becomes a half-open UTC range ``[start, end)``.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    distinct,
    exists,
    extract,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import Session, aliased

from store.board import URGENT_ARRIVAL, overdue_clause
from store.clock import session_now
from store.models import Bill, Callback, Order, OrderEvent, Payment, Person, PriceItem, Unit
from store.order_states import OPEN
from store.price_list import CATEGORIES, SERVICE_CATEGORIES, is_service

#: callback targets per month: every repair (R20), at least 30% of paid services (R23)
REPAIR_CALLBACK_TARGET = 1.0
SERVICE_CALLBACK_TARGET = 0.30
#: callback statuses that mean the owner was actually reached and answered
CALLED_BACK = ("answered", "done")
RATINGS = ("satisfied", "average", "unsatisfied")
BILL_STATUSES = ("unpaid", "paid")  # listed so bills(status, created_at) serves month ranges
_CLAIM_ACTIONS = ("claim", "assign")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def day_range(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day `day` as a half-open UTC range."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def parse_month(month: str) -> date:
    """The first day of a "YYYY-MM" month; ValueError for anything else."""
    found = _MONTH.fullmatch(month.strip())
    if found is None:
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    year, number = int(found[1]), int(found[2])
    if not 1 <= number <= 12 or year < 2000:
        raise ValueError(f"not a month (YYYY-MM): {month!r}")
    return date(year, number, 1)


def month_range(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local month "YYYY-MM" as a half-open UTC range."""
    first = parse_month(month)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(following, time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _category_rank(category: str) -> tuple[int, str]:
    return (CATEGORIES.index(category) if category in CATEGORIES else len(CATEGORIES), category)


def _minutes(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:
    """Minutes from `earlier` to `later` as SQL, on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", later - earlier) / 60.0
    return (func.julianday(later) - func.julianday(earlier)) * 1440.0


# --- the daily digest (R52) ------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryDay:
    """One category's work on the day, and its open and overdue orders at report time."""

    category: str
    new: int
    completed: int
    open: int
    overdue: int


@dataclass(frozen=True)
class DailyFigures:
    """Everything the manager's daily digest says about one local day (R52)."""

    day: date
    as_of: datetime
    categories: tuple[CategoryDay, ...]
    collected_fen: int
    payments: int
    outstanding_fen: int
    unpaid_bills: int
    satisfied: int
    average: int
    unsatisfied: int
    urgent: int
    urgent_on_time: int
    repairs_completed: int
    repairs_called_back: int
    claimed: int
    claim_mean_minutes: float | None
    claim_median_minutes: float | None

    @property
    def new(self) -> int:
        """Orders created on the day."""
        return sum(c.new for c in self.categories)

    @property
    def completed(self) -> int:
        """Orders completed on the day."""
        return sum(c.completed for c in self.categories)

    @property
    def open(self) -> int:
        """Orders open at report time."""
        return sum(c.open for c in self.categories)

    @property
    def overdue(self) -> int:
        """Orders overdue at report time."""
        return sum(c.overdue for c in self.categories)

    @property
    def rated(self) -> int:
        """Ratings and answered callbacks of the day."""
        return self.satisfied + self.average + self.unsatisfied


def _by_category(session: Session, stmt: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in session.execute(stmt).all()}


def daily_figures(
    session: Session, day: date, tz: ZoneInfo, now: datetime | None = None
) -> DailyFigures:
    """The digest's figures for the local day `day`.

    - new: orders created on the day; completed: orders with a "complete" event on the day;
    - open / overdue: orders open (not accepted, closed or cancelled) and overdue (the board's
      rule, `overdue_clause`) at `now`, the report time -- the current status, because
      replaying the history to the end of the day would cost a scan of every event;
    - collected: payments made on the day; outstanding: every bill still unpaid at `now`;
    - satisfaction: owners' "rate" events of the day plus callbacks answered (done_at) on the
      day, by result;
    - promises (R3): urgent orders created on the day, and how many had an "arrive" event
      within 30 minutes of creation;
    - callbacks (R20): repairs completed on the day, and how many of them have a callback in
      any status;
    - claim time: for orders claimed or assigned on the day, minutes from creation to their
      first claim of the day (mean in SQL, median over the day's rows).
    """
    now = now or session_now(session)
    start, end = day_range(day, tz)
    in_day = and_(OrderEvent.at >= start, OrderEvent.at < end)

    new = _by_category(
        session,
        select(Order.category, func.count())
        .where(Order.created_at >= start, Order.created_at < end)
        .group_by(Order.category),
    )
    completed = _by_category(
        session,
        select(Order.category, func.count(distinct(Order.id)))
        .join(OrderEvent, OrderEvent.order_id == Order.id)
        .where(OrderEvent.action == "complete", in_day)
        .group_by(Order.category),
    )
    open_now = _by_category(
        session,
        select(Order.category, func.count())
        .where(Order.status.in_([s.value for s in OPEN]))
        .group_by(Order.category),
    )
    overdue = _by_category(
        session,
        select(Order.category, func.count()).where(overdue_clause(now)).group_by(Order.category),
    )
    keys = sorted(set(new) | set(completed) | set(open_now) | set(overdue), key=_category_rank)
    categories = tuple(
        CategoryDay(k, new.get(k, 0), completed.get(k, 0), open_now.get(k, 0), overdue.get(k, 0))
        for k in keys
    )

    payments, collected = session.execute(
        select(func.count(), func.coalesce(func.sum(Payment.amount_fen), 0)).where(
            Payment.at >= start, Payment.at < end
        )
    ).one()
    unpaid, outstanding = session.execute(
        select(func.count(), func.coalesce(func.sum(Bill.amount_fen - Bill.paid_fen), 0)).where(
            Bill.status == "unpaid"
        )
    ).one()

    ratings = _by_category(
        session,
        select(OrderEvent.note, func.count())
        .where(OrderEvent.action == "rate", in_day)
        .group_by(OrderEvent.note),
    )
    answered = _by_category(
        session,
        select(Callback.result, func.count())
        .where(
            Callback.status.in_(CALLED_BACK),
            Callback.done_at >= start,  # ix_callbacks_done_at
            Callback.done_at < end,
            Callback.result.is_not(None),
        )
        .group_by(Callback.result),
    )

    arrive = aliased(OrderEvent)
    on_time = exists().where(
        arrive.order_id == Order.id,
        arrive.action == "arrive",
        _minutes(session, arrive.at, Order.created_at) <= URGENT_ARRIVAL.total_seconds() / 60,
    )
    urgent, urgent_on_time = session.execute(
        select(func.count(), func.coalesce(func.sum(case((on_time, 1), else_=0)), 0)).where(
            Order.created_at >= start, Order.created_at < end, Order.urgent.is_(True)
        )
    ).one()

    has_callback = exists().where(Callback.order_id == Order.id)
    repairs_done = (
        select(Order.id, case((has_callback, 1), else_=0).label("called"))
        .join(OrderEvent, OrderEvent.order_id == Order.id)
        .where(
            OrderEvent.action == "complete",
            in_day,
            Order.category.not_in(sorted(SERVICE_CATEGORIES)),
        )
        .group_by(Order.id)
        .subquery()
    )
    repairs_completed, repairs_called_back = session.execute(
        select(func.count(), func.coalesce(func.sum(repairs_done.c.called), 0))
    ).one()

    first_claim = (
        select(
            OrderEvent.order_id,
            _minutes(session, func.min(OrderEvent.at), Order.created_at).label("minutes"),
        )
        .join(Order, Order.id == OrderEvent.order_id)
        .where(OrderEvent.action.in_(_CLAIM_ACTIONS), in_day)
        .group_by(OrderEvent.order_id, Order.created_at)
        .subquery()
    )
    claimed, mean = session.execute(select(func.count(), func.avg(first_claim.c.minutes))).one()
    median = (
        statistics.median(float(m) for m in session.scalars(select(first_claim.c.minutes)))
        if claimed
        else None
    )

    def rating(key: str) -> int:
        return ratings.get(key, 0) + answered.get(key, 0)

    return DailyFigures(
        day=day,
        as_of=now,
        categories=categories,
        collected_fen=int(collected),
        payments=int(payments),
        outstanding_fen=int(outstanding),
        unpaid_bills=int(unpaid),
        satisfied=rating("satisfied"),
        average=rating("average"),
        unsatisfied=rating("unsatisfied"),
        urgent=int(urgent),
        urgent_on_time=int(urgent_on_time),
        repairs_completed=int(repairs_completed),
        repairs_called_back=int(repairs_called_back),
        claimed=int(claimed),
        claim_mean_minutes=None if mean is None else float(mean),
        claim_median_minutes=median,
    )


# --- the monthly report (R51) ----------------------------------------------------------------


@dataclass(frozen=True)
class CategoryMonth:
    """One category's month (特约服务/维修月统计表): orders, money and ratings."""

    category: str
    orders: int
    completed: int
    cancelled: int
    billed_fen: int
    collected_fen: int
    rated: int
    satisfied: int

    @property
    def service(self) -> bool:
        """Whether this is a paid-service category."""
        return is_service(self.category)

    @property
    def satisfaction(self) -> float | None:
        """The share of ratings that were 满意 (satisfied), None when nobody rated."""
        return self.satisfied / self.rated if self.rated else None


def monthly_statistics(session: Session, month: str, tz: ZoneInfo) -> list[CategoryMonth]:
    """Per category, in the fixed category order: orders created in the month, orders completed
    and cancelled in the month (by their events), the amount billed (bills created in the month),
    collected (payments made in the month), and the month's ratings (satisfaction rate =
    满意 / rated)."""
    start, end = month_range(month, tz)
    in_month = and_(OrderEvent.at >= start, OrderEvent.at < end)
    orders = _by_category(
        session,
        select(Order.category, func.count())
        .where(Order.created_at >= start, Order.created_at < end)
        .group_by(Order.category),
    )

    def events(action: str) -> dict[str, int]:
        return _by_category(
            session,
            select(Order.category, func.count(distinct(Order.id)))
            .join(OrderEvent, OrderEvent.order_id == Order.id)
            .where(OrderEvent.action == action, in_month)
            .group_by(Order.category),
        )

    completed, cancelled = events("complete"), events("cancel")
    billed = _by_category(
        session,
        select(Order.category, func.sum(Bill.amount_fen))
        .join(Bill, Bill.order_id == Order.id)
        .where(Bill.status.in_(BILL_STATUSES), Bill.created_at >= start, Bill.created_at < end)
        .group_by(Order.category),
    )
    collected = _by_category(
        session,
        select(Order.category, func.sum(Payment.amount_fen))
        .join(Bill, Bill.order_id == Order.id)
        .join(Payment, Payment.bill_id == Bill.id)
        .where(Payment.at >= start, Payment.at < end)
        .group_by(Order.category),
    )
    ratings: dict[str, tuple[int, int]] = {
        str(cat): (int(n), int(good))
        for cat, n, good in session.execute(
            select(
                Order.category,
                func.count(),
                func.sum(case((OrderEvent.note == "satisfied", 1), else_=0)),
            )
            .join(OrderEvent, OrderEvent.order_id == Order.id)
            .where(OrderEvent.action == "rate", in_month)
            .group_by(Order.category)
        ).all()
    }
    keys = set(orders) | set(completed) | set(cancelled) | set(billed) | set(collected)
    keys |= set(ratings)
    return [
        CategoryMonth(
            category=k,
            orders=orders.get(k, 0),
            completed=completed.get(k, 0),
            cancelled=cancelled.get(k, 0),
            billed_fen=billed.get(k, 0),
            collected_fen=collected.get(k, 0),
            rated=ratings.get(k, (0, 0))[0],
            satisfied=ratings.get(k, (0, 0))[1],
        )
        for k in sorted(keys, key=_category_rank)
    ]


@dataclass(frozen=True)
class Compliance:
    """Callback compliance of a month: completed orders, and how many were called back."""

    repairs_completed: int
    repairs_called_back: int
    services_completed: int
    services_called_back: int

    @property
    def repair_rate(self) -> float | None:
        """Share of completed repairs called back (target 100%, R20); None if none completed."""
        return self.repairs_called_back / self.repairs_completed if self.repairs_completed else None

    @property
    def service_rate(self) -> float | None:
        """Share of completed paid services called back (target ≥30%, R23)."""
        if not self.services_completed:
            return None
        return self.services_called_back / self.services_completed

    @property
    def repairs_ok(self) -> bool:
        """Whether the 100% repair target was met (vacuously true with no repairs)."""
        return self.repair_rate is None or self.repair_rate >= REPAIR_CALLBACK_TARGET

    @property
    def services_ok(self) -> bool:
        """Whether the 30% paid-service target was met (vacuously true with no services)."""
        return self.service_rate is None or self.service_rate >= SERVICE_CALLBACK_TARGET


def monthly_compliance(session: Session, month: str, tz: ZoneInfo) -> Compliance:
    """Orders with a "complete" event in the month, split into repairs and paid services, and how
    many of them have a callback that reached the owner (status answered or done, R20, R23)."""
    start, end = month_range(month, tz)
    called = exists().where(Callback.order_id == Order.id, Callback.status.in_(CALLED_BACK))
    done = (
        select(
            Order.id,
            case((Order.category.in_(sorted(SERVICE_CATEGORIES)), 1), else_=0).label("service"),
            case((called, 1), else_=0).label("called"),
        )
        .join(OrderEvent, OrderEvent.order_id == Order.id)
        .where(OrderEvent.action == "complete", OrderEvent.at >= start, OrderEvent.at < end)
        .group_by(Order.id, Order.category)
        .subquery()
    )
    counts = {
        int(service): (int(n), int(c or 0))
        for service, n, c in session.execute(
            select(done.c.service, func.count(), func.sum(done.c.called)).group_by(done.c.service)
        ).all()
    }
    repairs, services = counts.get(0, (0, 0)), counts.get(1, (0, 0))
    return Compliance(repairs[0], repairs[1], services[0], services[1])


@dataclass(frozen=True)
class FeeRow:
    """One bill created in the month (特约服务收费明细), for reconciliation with finance."""

    number: str
    billed_at: datetime
    room: str
    category: str
    item_zh: str
    item_en: str
    amount_fen: int
    paid_fen: int
    status: str
    methods: tuple[str, ...]
    last_paid_at: datetime | None
    engineer: str


def _methods(session: Session) -> ColumnElement[str]:
    if session.get_bind().dialect.name == "postgresql":
        return func.string_agg(distinct(Payment.method), literal_column("','"))
    return func.group_concat(distinct(Payment.method))


def fee_detail(session: Session, month: str, tz: ZoneInfo, batch: int = 2000) -> Iterator[FeeRow]:
    """Stream every bill created in the month, oldest first: order, room, category, item,
    amount, paid so far, payment methods, last payment time and the engineer holding it."""
    start, end = month_range(month, tz)
    engineer = aliased(Person)
    stmt = (
        select(
            Order.number,
            Bill.created_at,
            Unit.code,
            Order.category,
            PriceItem.name_zh,
            PriceItem.name_en,
            Order.description,
            Bill.amount_fen,
            Bill.paid_fen,
            Bill.status,
            _methods(session),
            func.max(Payment.at),
            engineer.name,
            Bill.id,
        )
        .join(Order, Order.id == Bill.order_id)
        .outerjoin(Unit, Unit.id == Order.unit_id)
        .outerjoin(PriceItem, PriceItem.id == Order.price_item_id)
        .outerjoin(engineer, engineer.id == Order.assignee_id)
        .outerjoin(Payment, Payment.bill_id == Bill.id)
        .where(Bill.status.in_(BILL_STATUSES), Bill.created_at >= start, Bill.created_at < end)
        .group_by(
            Bill.id,
            Order.number,
            Bill.created_at,
            Unit.code,
            Order.category,
            PriceItem.name_zh,
            PriceItem.name_en,
            Order.description,
            Bill.amount_fen,
            Bill.paid_fen,
            Bill.status,
            engineer.name,
        )
        .order_by(Bill.created_at, Bill.id)
        .execution_options(yield_per=batch)
    )
    for row in session.execute(stmt):
        description = (row[6] or "")[:40]
        methods = tuple(sorted(m for m in (row[10] or "").split(",") if m))
        last = row[11]
        if isinstance(last, str):  # SQLite's max() hands back the stored text
            last = datetime.fromisoformat(last).replace(tzinfo=UTC)
        yield FeeRow(
            number=row[0],
            billed_at=row[1],
            room=row[2] or "-",
            category=row[3],
            item_zh=row[4] or description,
            item_en=row[5] or description,
            amount_fen=int(row[7]),
            paid_fen=int(row[8]),
            status=row[9],
            methods=methods,
            last_paid_at=last.astimezone(UTC) if last is not None else None,
            engineer=row[12] or "-",
        )


@dataclass(frozen=True)
class ArrearRow:
    """One unpaid bill (欠费): how much, since when, and how it has been chased (R27)."""

    number: str
    room: str
    category: str
    amount_fen: int
    paid_fen: int
    since: datetime
    days: int
    reminders_sent: int
    follow_up_since: datetime | None

    @property
    def outstanding_fen(self) -> int:
        """What is still owed."""
        return self.amount_fen - self.paid_fen


def arrears_list(session: Session, as_of: datetime, batch: int = 2000) -> Iterator[ArrearRow]:
    """Stream every bill unpaid now, oldest first, with whole days outstanding at `as_of`."""
    stmt = (
        select(
            Order.number,
            Unit.code,
            Order.category,
            Bill.amount_fen,
            Bill.paid_fen,
            Bill.created_at,
            Bill.reminders_sent,
            Bill.follow_up_since,
        )
        .join(Order, Order.id == Bill.order_id)
        .outerjoin(Unit, Unit.id == Order.unit_id)
        .where(Bill.status == "unpaid")
        .order_by(Bill.created_at, Bill.id)
        .execution_options(yield_per=batch)
    )
    for number, room, category, amount, paid, since, sent, follow in session.execute(stmt):
        yield ArrearRow(
            number=number,
            room=room or "-",
            category=category,
            amount_fen=int(amount),
            paid_fen=int(paid),
            since=since,
            days=max(0, (as_of - since).days),
            reminders_sent=int(sent),
            follow_up_since=follow,
        )


@dataclass(frozen=True)
class CallbackRow:
    """One callback created in the month (回访记录表, R24): who, when, result, comment."""

    number: str
    category: str
    reason: str
    method: str
    status: str
    handled_by: str
    created_at: datetime
    done_at: datetime | None
    result: str | None
    comment: str | None


def callback_record(
    session: Session, month: str, tz: ZoneInfo, batch: int = 2000
) -> Iterator[CallbackRow]:
    """Stream every callback created in the month, oldest first, with its order and outcome."""
    start, end = month_range(month, tz)
    stmt = (
        select(
            Order.number,
            Order.category,
            Callback.reason,
            Callback.method,
            Callback.status,
            Person.name,
            Callback.created_at,
            Callback.done_at,
            Callback.result,
            Callback.comment,
        )
        .join(Order, Order.id == Callback.order_id)
        .outerjoin(Person, Person.id == Callback.handled_by_id)
        .where(Callback.created_at >= start, Callback.created_at < end)
        .order_by(Callback.created_at, Callback.id)
        .execution_options(yield_per=batch)
    )
    for row in session.execute(stmt):
        yield CallbackRow(
            number=row[0],
            category=row[1],
            reason=row[2],
            method=row[3],
            status=row[4],
            handled_by=row[5] or ("bot" if row[3] == "survey" else "-"),
            created_at=row[6],
            done_at=row[7],
            result=row[8],
            comment=row[9],
        )
