"""The scheduled reports reach their readers: the daily digest (text, then a PNG chart) to
managers (R52) and the monthly workbook to managers and finance (R51), once each."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from scheduler.plan import ReportTimes, plan_reports
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, Owner, staff_member, sweep
from tests.test_engineer import WANG, claimed_by
from tests.test_jobs import submit_urgent_public_repair
from tests.test_promises import said_to


async def test_digest_and_monthly_report_are_sent_once(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """Planned at 09:30 on Monday 23 Nov: Sunday's digest and October's workbook go out."""
    number = await submit_urgent_public_repair(alice)
    await claimed_by(fake_tg, bot, WANG, number)
    mgr = await staff_member(fake_tg, bot, TgUser(5501, "Manager Qian", "en"), "manager")
    fin = await staff_member(fake_tg, bot, TgUser(5502, "财务 徐", "zh"), "finance")
    times = ReportTimes(bot.services.desk.timezone)
    for _ in range(2):  # the cron job and a restart's catch-up both ask
        with bot.services.db.unit_of_work() as uow:
            plan_reports(uow.session, bot.services.clock(), times)
            uow.commit()
        await sweep(bot)
    to_manager = fake_tg.sent(mgr.chat_id)
    digests = [m for m in to_manager if "2026-11-22" in (m.get("text") or "")]
    assert len(digests) == 1
    charts = [m for m in to_manager if m.get("photo")]
    assert len(charts) == 1 and "2026-11-22" in charts[0]["caption"]
    png = fake_tg.uploaded(charts[0]["photo"][-1]["file_id"])
    assert png is not None and png.startswith(b"\x89PNG")
    for person, caption in ((mgr, "Monthly report 2026-10"), (fin, "2026-10 月度报表")):
        docs = [m for m in fake_tg.sent(person.chat_id) if m.get("document")]
        assert len(docs) == 1 and caption in docs[0]["caption"]
        assert docs[0]["document"]["file_name"] == "propdesk-2026-10.xlsx"
        data = fake_tg.uploaded(docs[0]["document"]["file_id"])
        assert data is not None
        book = load_workbook(io.BytesIO(data), read_only=True)
        assert len(book.sheetnames) >= 4
    assert not said_to(fake_tg, fin.chat_id, "2026-11-22")  # the digest is for managers
