"""Complaints in the managers' reports: the daily digest's lines (R52; a flagged complaint on
every digest until it is closed, R34; late progress updates, R33) and the monthly summary
sheet (R35) with hand-computed figures — numbers only, never who complained (R30)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from io import BytesIO

from openpyxl import load_workbook

from scheduler.digest import daily_digest
from scheduler.monthly_report import write_monthly_workbook
from scheduler.plan import COMPLAINT_SUMMARY, ReportTimes, plan_reports
from tests.fake_telegram import FakeTelegram
from tests.harness import Bot, FakeClock, Owner, sweep
from tests.test_complaints import (
    desk_staff,
    file_complaint,
    load,
    press_k,
    take_in_group,
    taken_class_one,
)
from tests.test_promises import said_to
from tests.test_repair import register

DAY = timedelta(days=1)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def digest(bot: Bot, day: date) -> str:
    """The English digest text of a local day, as made now."""
    tz = bot.services.desk.timezone
    with bot.services.db.read_only() as session:
        text, _chart = daily_digest(session, day, tz, "en", bot.services.clock())
    return text


async def test_flagged_complaint_is_on_every_digest_until_closed(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """Three consecutive digests list the flagged complaint and its late progress; the digest
    after it is closed does not; no digest names the complainant."""
    number, staff = await taken_class_one(fake_tg, bot, alice, anonymous=True)
    butler = staff["butler"]
    await press_k(butler, "flag")
    monday = date(2026, 11, 23)
    texts = []
    for n in range(3):
        clock.advance(DAY)
        await sweep(bot)
        texts.append(digest(bot, monday + n * DAY))
    for text in texts:
        assert f"Flagged (R34): {number}" in text
        assert f"Progress updates overdue (R33): {number}" in text
        assert "Class 1: property service at fault 1" in text
        assert "Alice" not in text and "1-1-101" not in text and "13900001111" not in text
    assert "Complaints received: 1" in texts[0] and "Complaints received: 0" in texts[1]
    await press_k(butler, "resolve")
    await butler.send("Settled with the cleaning contractor")
    await press_k(alice, "answer", "yes")
    clock.advance(DAY)
    after = digest(bot, monday + 3 * DAY)
    assert "Flagged" not in after and number not in after
    assert "closed: 1" in after


async def test_monthly_summary_sheet_with_hand_computed_figures(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """R35: by type, class, subject and outcome; medians to classify and close; missed
    progress updates; reopenings; liaison forms awaiting a reply."""
    await register(alice)
    staff = await desk_staff(fake_tg, bot)
    agent, butler = staff["agent"], staff["butler"]
    # A: class 1 after 10 min, 1 missed progress period, reopened once, closed resolved
    a = await file_complaint(alice, "Corridor dirty", subject="cleaning")
    clock.advance(10 * MIN)
    await take_in_group(fake_tg, bot, agent.user, a)
    await press_k(agent, "classify", "1")
    await agent.send("Our cleaner")
    await agent.press("Butler Zhou")
    clock.advance(4 * HOUR + MIN)
    await sweep(bot)  # the 4-hour period passed silently: one missed update
    await press_k(butler, "resolve")
    await butler.send("Cleaned")
    await press_k(alice, "answer", "no")
    await press_k(butler, "resolve")
    await butler.send("Cleaned again")
    await press_k(alice, "answer", "yes")
    # B: a suggestion
    await file_complaint(alice, "More benches", kind="suggestion", subject="greening")
    # C: class 3 after 20 min, closed as referred
    c = await file_complaint(alice, "Street lamp", subject="facilities", where="public")
    clock.advance(20 * MIN)
    await take_in_group(fake_tg, bot, agent.user, c)
    await press_k(agent, "classify", "3")
    await agent.send("City lighting")
    await agent.send("District office")
    # D: class 2 after 30 min, liaison form awaiting a reply
    d = await file_complaint(alice, "Wall crack", subject="building")
    clock.advance(30 * MIN)
    await take_in_group(fake_tg, bot, agent.user, d)
    await press_k(agent, "classify", "2")
    for answer in ("Developer's defect", "Evergreen", "Repair the crack", "2026-11-30"):
        await agent.send(answer)
    assert load(bot, d).status == "in_progress"
    out = BytesIO()
    with bot.services.db.read_only() as session:
        write_monthly_workbook(
            session, "2026-11", bot.services.desk.timezone, "en", out, now=bot.services.clock()
        )
    sheet = load_workbook(BytesIO(out.getvalue()))["Complaints"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    values = {r[0]: r[1] for r in rows if r and r[0] is not None}
    assert values["Complaints"] == 3 and values["Suggestions"] == 1
    assert values["Class 1: property service at fault"] == 1
    assert values["Class 2: developer / building quality"] == 1
    assert values["Class 3: outside our jurisdiction"] == 1
    assert values["Cleaning"] == 1 and values["Greening"] == 1 and values["Facilities"] == 1
    assert values["Building quality"] == 1
    assert values["Resolved, confirmed by the owner"] == 1 and values["Referred (class 3)"] == 1
    assert 19 <= values["Median time to classify (minutes)"] <= 22  # 10, 20, 30 minutes
    # closed: A after ~4 h 11 min, C after ~20 min → median of the two, in hours
    assert 2.1 <= values["Median time to close (hours)"] <= 2.4
    assert values["Missed progress updates (R33)"] == 1
    assert values["Reopenings"] == 1
    assert values["Liaison forms awaiting a reply"] == 1
    cells = " ".join(str(v) for r in rows for v in r if v is not None)
    assert "Alice" not in cells and "1-1-101" not in cells


async def test_complaint_summary_reaches_managers_on_the_25th(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, clock: FakeClock
) -> None:
    """R35: on the 25th at 09:00 the month's complaint summary goes to managers, once; not on
    the 24th."""
    number, staff = await taken_class_one(fake_tg, bot, alice, anonymous=True)
    mgr = staff["mgr"]
    times = ReportTimes(bot.services.desk.timezone)
    tz = bot.services.desk.timezone
    on_24th = datetime(2026, 11, 24, 9, 0, tzinfo=tz)
    on_25th = datetime(2026, 11, 25, 9, 0, tzinfo=tz)
    with bot.services.db.unit_of_work() as uow:
        assert COMPLAINT_SUMMARY not in " ".join(plan_reports(uow.session, on_24th, times))
        uow.commit()
    for _ in range(2):  # the cron job and a second worker both ask
        with bot.services.db.unit_of_work() as uow:
            plan_reports(uow.session, on_25th, times)
            uow.commit()
    clock.advance(2 * DAY)
    await sweep(bot)
    summaries = said_to(fake_tg, mgr.chat_id, "Complaint summary 2026-11")
    assert len(summaries) == 1
    text = summaries[0]
    assert "Complaints: 1 · suggestions: 0" in text
    assert "Class 1: property service at fault 1" in text and "Cleaning 1" in text
    assert number not in text and "Alice" not in text
    assert not said_to(fake_tg, staff["agent"].chat_id, "Complaint summary")
