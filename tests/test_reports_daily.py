"""The managers' daily digest (R52): every figure of a hand-checked day, text and chart."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from scheduler.digest import daily_digest, digest_chart, digest_text
from store import migrate
from store.db import Database
from store.models import Bill, Callback, Order, OrderEvent, Payment, Person, Unit
from store.reports import CategoryDay, daily_figures, day_range, is_service
from tests.harness import MONDAY_MORNING, FakeClock

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 22)
#: the digest runs the next morning at 08:30
NOW = datetime(2026, 11, 23, 8, 30, tzinfo=TZ)


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


Event = tuple[str, datetime] | tuple[str, datetime, str]


def _order(
    session: Session,
    number: str,
    category: str,
    created: datetime,
    status: str,
    events: list[Event],
    people: tuple[Person, Person, Unit],
    *,
    urgent: bool = False,
    visit_start: datetime | None = None,
    claimed: bool = True,
) -> Order:
    owner, engineer, unit = people
    order = Order(
        number=number,
        owner_id=owner.id,
        unit_id=unit.id,
        location="home",
        category=category,
        description=f"{category} job",
        contact_phone="+8613812345678",
        urgent=urgent,
        visit_start=visit_start,
        quote_kind="list",
        status=status,
        created_at=created,
        assignee_id=engineer.id if claimed else None,
    )
    session.add(order)
    order.events.append(OrderEvent(at=created, actor_id=owner.id, action="submitted"))
    for action, at, *note in events:
        order.events.append(
            OrderEvent(at=at, actor_id=engineer.id, action=action, note=note[0] if note else None)
        )
    session.flush()
    return order


def _bill(session: Session, order: Order, fen: int, at: datetime, **kw: object) -> Bill:
    bill = Bill(order_id=order.id, owner_id=order.owner_id, amount_fen=fen, created_at=at, **kw)
    session.add(bill)
    session.flush()
    return bill


def _pay(session: Session, bill: Bill, fen: int, method: str, at: datetime) -> None:
    session.add(Payment(bill_id=bill.id, amount_fen=fen, method=method, at=at))
    bill.paid_fen += fen
    if bill.paid_fen >= bill.amount_fen:
        bill.status, bill.paid_at = "paid", at
    session.flush()


def seed(session: Session) -> None:
    """The hand-checked estate: a busy 22 November 2026 and its neighbours (times local)."""
    unit = Unit(
        code="3-2-1201", building="3", entrance="2", room="1201", owner_name="张伟", phones=""
    )
    session.add(unit)
    session.flush()
    owner = Person(name="张伟", phone="+8613812345678", unit_id=unit.id, owner_status="verified")
    engineer = Person(name="王师傅", phone="+8613900000001")
    agent = Person(name="客服小李", phone="+8613900000002")
    session.add_all([owner, engineer, agent])
    session.flush()
    p = (owner, engineer, unit)
    # A: urgent plumbing, on site in 20 minutes, done, accepted, rated, survey answered
    a = _order(
        session, "R-A", "plumbing", local(11, 22, 9), "accepted",
        [("claim", local(11, 22, 9, 5)), ("arrive", local(11, 22, 9, 20)),
         ("complete", local(11, 22, 10)), ("accept", local(11, 22, 10, 30)),
         ("rate", local(11, 22, 10, 35), "satisfied")],
        p, urgent=True,
    )  # fmt: skip
    # B: urgent electrical, assigned, on site after 50 minutes, done, fee unpaid
    b = _order(
        session, "R-B", "electrical", local(11, 22, 10), "done",
        [("assign", local(11, 22, 10, 10)), ("arrive", local(11, 22, 10, 50)),
         ("complete", local(11, 22, 11, 30)), ("fee_unpaid", local(11, 22, 11, 30))],
        p, urgent=True,
    )  # fmt: skip
    # C: cleaning from the day before, completed and paid in cash on the day, rated average
    c = _order(
        session, "R-C", "cleaning", local(11, 21, 15), "accepted",
        [("claim", local(11, 21, 15, 30)), ("arrive", local(11, 21, 16)),
         ("complete", local(11, 22, 9)), ("fee_cash", local(11, 22, 9)),
         ("accept", local(11, 22, 9, 20)), ("rate", local(11, 22, 9, 30), "average")],
        p,
    )  # fmt: skip
    # D: 23:59 the day before (UTC 15:59), booked visit passed -> overdue, not new
    _order(
        session, "R-D", "plumbing", local(11, 21, 23, 59), "submitted", [], p,
        visit_start=local(11, 22, 10), claimed=False,
    )  # fmt: skip
    # E: 00:01 on the day (UTC 16:01 the day before) -> new, open, not overdue
    _order(session, "R-E", "plumbing", local(11, 22, 0, 1), "submitted", [], p, claimed=False)
    # F: urgent doors at 20:00, nobody came -> overdue by the morning
    _order(
        session, "R-F", "doors_windows", local(11, 22, 20), "submitted", [], p,
        urgent=True, claimed=False,
    )  # fmt: skip
    # G: greening cancelled two days before: in no daily figure
    _order(
        session, "R-G", "greening", local(11, 20, 9), "cancelled",
        [("cancel", local(11, 20, 10))], p, claimed=False,
    )  # fmt: skip
    # H: electrical completed the day before, bill partly paid on the day, callback done before
    h = _order(
        session, "R-H", "electrical", local(11, 21, 10), "done",
        [("claim", local(11, 21, 10, 15)), ("arrive", local(11, 21, 11)),
         ("complete", local(11, 21, 16)), ("fee_unpaid", local(11, 21, 16))],
        p,
    )  # fmt: skip
    # I: office service the day before, paid 23:59 (not the day), rated unsatisfied at 00:01
    i = _order(
        session, "R-I", "office", local(11, 21, 12), "accepted",
        [("claim", local(11, 21, 12, 10)), ("arrive", local(11, 21, 12, 30)),
         ("complete", local(11, 21, 13)), ("accept", local(11, 21, 13, 30)),
         ("rate", local(11, 22, 0, 1), "unsatisfied")],
        p,
    )  # fmt: skip
    # L: created 22:00 the day before, claimed at 01:00 on the day (180 minutes)
    _order(
        session, "R-L", "appliances", local(11, 21, 22), "claimed",
        [("claim", local(11, 22, 1))], p,
    )  # fmt: skip
    # outside November: the month's boundaries (both still open)
    _order(session, "R-M", "plumbing", local(10, 31, 23, 59), "submitted", [], p, claimed=False)
    _order(session, "R-N", "plumbing", local(12, 1, 0, 1), "submitted", [], p, claimed=False)

    _pay(session, _bill(session, i, 2000, local(11, 21, 13)), 2000, "alipay", local(11, 21, 23, 59))
    bill_h = _bill(
        session, h, 3000, local(11, 21, 16), reminders_sent=2, follow_up_since=local(11, 23, 9)
    )
    _pay(session, bill_h, 1000, "wechat", local(11, 22, 14))
    _pay(session, _bill(session, c, 8000, local(11, 22, 9)), 8000, "cash", local(11, 22, 9))
    _bill(session, b, 5000, local(11, 22, 11, 30))

    session.add_all(
        [
            Callback(
                order_id=h.id, reason="routine", method="call", status="done",
                result="unsatisfied", comment="still leaking", handled_by_id=agent.id,
                created_at=local(11, 21, 16), taken_at=local(11, 21, 17),
                done_at=local(11, 21, 20),
            ),
            Callback(
                order_id=i.id, reason="rating", method="call", status="done", result="average",
                comment="slow", handled_by_id=agent.id, created_at=local(11, 22, 0, 5),
                taken_at=local(11, 22, 8), done_at=local(11, 22, 9),
            ),
            Callback(
                order_id=c.id, reason="sample", method="survey", status="asked",
                created_at=local(11, 22, 9), asked_at=local(11, 22, 9, 5),
            ),
            Callback(
                order_id=a.id, reason="routine", method="survey", status="answered",
                result="satisfied", comment="很好", created_at=local(11, 22, 10),
                asked_at=local(11, 22, 10, 5), done_at=local(11, 22, 12),
            ),
        ]
    )  # fmt: skip
    session.flush()


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


def test_service_categories() -> None:
    """Cleaning, greening and office are paid services; the rest are repairs."""
    assert [c for c in ("plumbing", "cleaning", "greening", "office", "x") if is_service(c)] == [
        "cleaning",
        "greening",
        "office",
    ]


def test_a_local_day_is_a_utc_range() -> None:
    """Shanghai's 22 November runs from 16:00 UTC the day before."""
    start, end = day_range(DAY, TZ)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-11-21T16:00:00+00:00",
        "2026-11-22T16:00:00+00:00",
    )


def test_every_daily_figure(db: Database) -> None:
    """Each figure of the digest, checked by hand against the seeded day."""
    with db.unit_of_work() as uow:
        f = daily_figures(uow.session, DAY, TZ, now=NOW)
    assert f.categories == (
        CategoryDay("plumbing", new=2, completed=1, open=4, overdue=1),
        CategoryDay("electrical", new=1, completed=1, open=2, overdue=0),
        CategoryDay("doors_windows", new=1, completed=0, open=1, overdue=1),
        CategoryDay("appliances", new=0, completed=0, open=1, overdue=0),
        CategoryDay("cleaning", new=0, completed=1, open=0, overdue=0),
    )
    assert (f.new, f.completed, f.open, f.overdue) == (4, 3, 8, 2)
    assert (f.collected_fen, f.payments) == (9000, 2)
    assert (f.outstanding_fen, f.unpaid_bills) == (7000, 2)
    assert (f.satisfied, f.average, f.unsatisfied) == (2, 2, 1)
    assert (f.urgent, f.urgent_on_time) == (3, 1)
    assert (f.repairs_completed, f.repairs_called_back) == (2, 1)
    assert f.claimed == 3
    assert f.claim_mean_minutes == pytest.approx(65.0, abs=0.01)
    assert f.claim_median_minutes == pytest.approx(10.0, abs=0.01)


def test_day_boundaries(db: Database) -> None:
    """23:59 local belongs to the day before, 00:01 to the day (UTC 15:59 vs 16:01)."""
    with db.unit_of_work() as uow:
        before = daily_figures(uow.session, date(2026, 11, 21), TZ, now=NOW)
    new = {c.category: c.new for c in before.categories if c.new}
    # the day before: C, D (23:59), H, I, L are new; E (00:01 on the 22nd) is not
    assert new == {"plumbing": 1, "electrical": 1, "appliances": 1, "cleaning": 1, "office": 1}
    assert (before.collected_fen, before.payments) == (2000, 1)  # I's alipay at 23:59
    assert (before.satisfied, before.average, before.unsatisfied) == (0, 0, 1)  # H's call


def test_an_empty_day(db: Database) -> None:
    """A day without work: zeros, no averages, and the open snapshot still shown."""
    with db.unit_of_work() as uow:
        f = daily_figures(uow.session, date(2026, 6, 1), TZ, now=NOW)
    assert (f.new, f.completed, f.open, f.overdue, f.payments) == (0, 0, 8, 2, 0)
    assert (f.claimed, f.claim_mean_minutes, f.claim_median_minutes) == (0, None, None)
    assert (f.urgent, f.repairs_completed) == (0, 0)


def test_digest_text_in_english_and_chinese(db: Database) -> None:
    """The message carries the headline numbers and promises; the zh one is in Chinese."""
    with db.unit_of_work() as uow:
        f = daily_figures(uow.session, DAY, TZ, now=NOW)
    text = digest_text(f, "en")
    for part in (
        "2026-11-22",
        "New orders: 4 · completed: 3",
        "Open now: 8 · overdue: 2",
        "Plumbing: 2 / 1 / 4 / 1",
        "Collected: ¥90.00 in 2 payments",
        "Outstanding: ¥70.00 in 2 unpaid bills",
        "satisfied 2 · average 2 · unsatisfied 1",
        "within 30 min: 1 of 3 (33%)",
        "with a callback: 1 of 2 (50%)",
        "mean 65 min, median 10 min (3 orders)",
    ):
        assert part in text, part
    zh = digest_text(f, "zh")
    assert re.search(r"[\u4e00-\u9fff]", zh) and "¥90.00" in zh


def test_digest_chart_is_a_small_png(db: Database) -> None:
    """A PNG under 150 KB, also for a day without any work."""
    with db.unit_of_work() as uow:
        text, png = daily_digest(uow.session, DAY, TZ, "zh", now=NOW)
        empty = daily_figures(uow.session, date(2026, 6, 1), TZ, now=NOW)
    assert text and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) < 150_000
    for language in ("en", "zh"):
        assert digest_chart(empty, language).startswith(b"\x89PNG\r\n\x1a\n")
