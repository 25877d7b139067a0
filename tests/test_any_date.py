"""Tests pass on any date (issue 9): whatever the machine's clock says, and on the calendar's
awkward days -- a leap day, a daylight-saving change, 23:59 local.

The machine's clock is moved with time-machine (it moves `time.time` and `datetime.now` for
every thread of this process, not `time.monotonic`, so asyncio and timeouts keep working);
`.ci/run` also runs the time-heavy part of the suite with the whole run's clock moved 400 days
(PROPDESK_TEST_MOVE_CLOCK_DAYS, see tests/conftest.py), subprocesses included.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from scheduler.plan import ReportTimes, plan_reports
from store import migrate
from store.db import Database
from store.models import Bill, Order, Person, Timer
from store.promises import (
    PAYMENT_REMINDER,
    POLICY_KEY,
    TimerPolicy,
    bill_opened,
    next_payment_reminder,
)
from store.reports import daily_figures
from tests.fake_telegram import FakeTelegram
from tests.harness import Bot, FakeClock, Owner, sweep
from tests.test_payment_reminders import REMINDER, unpaid_repair
from tests.test_promises import said_to

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
TODAY = datetime.now(UTC)  # the real date this run started on
WALL_CLOCKS = {
    "leap-day-23:59": datetime(2028, 2, 29, 23, 59, 30, tzinfo=SHANGHAI),
    "berlin-clocks-go-forward": datetime(2027, 3, 28, 1, 59, 50, tzinfo=BERLIN),
    "berlin-clocks-go-back": datetime(2026, 10, 25, 2, 59, 50, tzinfo=BERLIN),
    "a-year-ahead": TODAY + timedelta(days=400),
    "a-year-back": TODAY - timedelta(days=400),
}


@pytest.fixture(params=sorted(WALL_CLOCKS))
def moved_wall_clock(request: pytest.FixtureRequest) -> Iterator[datetime]:
    """The machine's clock moved to an awkward moment (and flowing on from it)."""
    with time_machine.travel(WALL_CLOCKS[request.param], tick=True):
        yield WALL_CLOCKS[request.param]


@pytest.mark.usefixtures("moved_wall_clock")
async def test_a_repair_and_its_reminder_whatever_the_machine_date(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner, clock: FakeClock
) -> None:
    """A whole repair through the real bot, claimed, done, left unpaid, and its first payment
    reminder at 20:00 (R26): every date is the desk's, never the machine's."""
    number = await unpaid_repair(fake_tg, bot, zhang)
    assert number.startswith("R-20261123-")  # the desk's Monday, not the machine's day
    with bot.services.db.unit_of_work() as uow:
        order = uow.session.scalars(select(Order).where(Order.number == number)).one()
        assert abs(order.created_at - clock()) < timedelta(minutes=5)
        assert all(abs(e.at - clock()) < timedelta(minutes=5) for e in order.events)
    clock.advance(timedelta(hours=10, minutes=29))  # Monday ~19:59 in Shanghai
    await sweep(bot)
    assert not said_to(fake_tg, zhang.chat_id, REMINDER)
    clock.advance(timedelta(minutes=1))
    await sweep(bot)
    assert len(said_to(fake_tg, zhang.chat_id, REMINDER, number)) == 1


def _unpaid_bill(db: Database) -> Bill:
    with db.unit_of_work() as uow:
        owner = Person(name="Owner", language="zh")
        uow.session.add(owner)
        uow.session.flush()
        order = Order(
            number="R-DST-0001",
            owner_id=owner.id,
            location="home",
            category="plumbing",
            description="x",
            contact_phone="+8613800000000",
            quote_kind="list",
            status="done",
        )
        uow.session.add(order)
        uow.session.flush()
        bill = Bill(order_id=order.id, owner_id=owner.id, amount_fen=3000)
        uow.session.add(bill)
        uow.commit()
        return bill


def _reminder_times(db: Database, bill: Bill, opened: datetime, count: int) -> list[datetime]:
    """Open the bill at `opened`, then send `count` reminders each at its due time."""
    with db.unit_of_work() as uow:
        bill_opened(uow.session, bill, opened)
        uow.commit()
    times: list[datetime] = []
    for sent in range(1, count + 1):
        with db.unit_of_work() as uow:
            due = uow.session.scalars(
                select(Timer.due_at).where(Timer.kind == PAYMENT_REMINDER).order_by(Timer.id)
            ).all()[-1]
            times.append(due.astimezone(BERLIN))
            next_payment_reminder(uow.session, bill, sent, due)
            uow.commit()
    return times


@pytest.mark.parametrize(
    "opened",
    [
        datetime(2027, 3, 26, 12, 0, tzinfo=BERLIN),  # clocks go forward on Sunday 28 March
        datetime(2026, 10, 23, 12, 0, tzinfo=BERLIN),  # clocks go back on Sunday 25 October
    ],
    ids=["spring", "autumn"],
)
def test_payment_reminders_stay_at_20_local_across_daylight_saving(
    db_url: str, opened: datetime
) -> None:
    """R26–R27 in a zone with daylight saving: every reminder at 20:00 local, three days
    apart on the calendar, even when a day in between has 23 or 25 hours."""
    migrate.upgrade(db_url)
    db = Database(db_url, lambda: opened, info={POLICY_KEY: TimerPolicy(timezone=BERLIN)})
    try:
        times = _reminder_times(db, _unpaid_bill(db), opened, 3)
    finally:
        db.dispose()
    assert [t.hour for t in times] == [20, 20, 20]
    assert [t.date() for t in times] == [opened.date() + timedelta(days=d) for d in (0, 3, 6)]
    offsets = {t.utcoffset() for t in times}
    assert len(offsets) == 2  # the change really fell between them


def test_the_leap_day_gets_its_digest_and_february_its_report(db_url: str) -> None:
    """On 1 March 2028 at 09:00 the digest is for Tuesday 29 February and the monthly report
    for February (R51, R52)."""
    migrate.upgrade(db_url)
    at = datetime(2028, 3, 1, 9, 0, tzinfo=SHANGHAI)
    db = Database(db_url, lambda: at)
    try:
        with db.unit_of_work() as uow:
            added = plan_reports(uow.session, at, ReportTimes(SHANGHAI))
            uow.commit()
    finally:
        db.dispose()
    assert added == ["daily_digest:2028-02-29", "monthly_report:2028-02"]


def test_an_order_at_23_59_belongs_to_its_own_day(db_url: str) -> None:
    """An order filed at 23:59 local on the leap day counts on that day's digest, one filed a
    minute later on the next (R52)."""
    migrate.upgrade(db_url)
    late = datetime(2028, 2, 29, 23, 59, tzinfo=SHANGHAI)
    clock = FakeClock(late)
    db = Database(db_url, clock)
    try:
        with db.unit_of_work() as uow:
            owner = Person(name="Owner", language="zh")
            uow.session.add(owner)
            uow.session.flush()
            for n, when in enumerate((late, late + timedelta(minutes=1))):
                uow.session.add(
                    Order(
                        number=f"R-LEAP-{n}",
                        owner_id=owner.id,
                        location="public",
                        category="plumbing",
                        description="x",
                        contact_phone="+8613800000000",
                        quote_kind="free",
                        status="submitted",
                        created_at=when,
                    )
                )
            uow.commit()
        with db.read_only() as session:
            leap = daily_figures(session, late.date(), SHANGHAI, late + timedelta(days=1))
            march = daily_figures(session, late.date() + timedelta(days=1), SHANGHAI)
    finally:
        db.dispose()
    assert sum(c.new for c in leap.categories) == 1
    assert sum(c.new for c in march.categories) == 1
