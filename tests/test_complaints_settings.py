"""Complaint settings (issue 10): the agents' own group for complaint cards (R32) and the day
of the managers' monthly complaint summary (R35)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import ConfigError, load_settings
from scheduler.plan import COMPLAINT_SUMMARY, plan_reports
from store import migrate
from store.complaints.models import Complaint
from store.db import Database
from tests.fake_telegram import FakeTelegram, TgChat, TgUser
from tests.harness import STAFF_GROUP, FakeClock, Owner, seed_examples, staff_member, start_bot
from tests.test_complaints import file_complaint
from tests.test_repair import register

AGENTS_GROUP = -1009900


async def test_complaint_cards_go_to_the_agents_group_and_take_works_there(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """With PROPDESK_COMPLAINTS_GROUP_CHAT_ID the card reaches the agents' group, not the
    engineers' staff group, and an agent's Take there wins the complaint (首问负责制)."""
    bot = await start_bot(fake_tg, db_url, clock, complaints_group_chat_id=str(AGENTS_GROUP))
    seed_examples(bot.services)
    try:
        alice = Owner(fake_tg, bot, TgUser(5002, "Alice", "en"))
        await register(alice)
        agent = await staff_member(fake_tg, bot, TgUser(5301, "Agent Sun", "en"), "agent")
        number = await file_complaint(alice)
        card = next(m for m in fake_tg.sent(AGENTS_GROUP) if number in (m.get("text") or ""))
        assert not [m for m in fake_tg.sent(STAFF_GROUP) if number in (m.get("text") or "")]
        data = card["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        group = TgChat(id=AGENTS_GROUP, type="supergroup", title="Agents")
        await Owner(fake_tg, bot, agent.user, chat=group).press_data(data, card)
        with bot.services.db.unit_of_work() as uow:
            complaint = uow.session.scalars(
                select(Complaint).where(Complaint.number == number)
            ).one()
            assert complaint.agent_id is not None
    finally:
        await bot.stop()


def test_the_summary_day_is_a_setting(db_url: str) -> None:
    """PROPDESK_COMPLAINT_SUMMARY_DAY=20: the summary is planned on the 20th, not before."""
    settings = load_settings(_env_file=None, database_url=db_url, complaint_summary_day=20)
    times = settings.report_times
    tz = ZoneInfo(settings.timezone)
    migrate.upgrade(db_url)
    on_20th = datetime(2026, 11, 20, 9, 0, tzinfo=tz)
    db = Database(db_url, lambda: on_20th)
    try:
        with db.unit_of_work() as uow:
            early = plan_reports(uow.session, datetime(2026, 11, 19, 9, 0, tzinfo=tz), times)
            assert not [k for k in early if k.startswith(COMPLAINT_SUMMARY)]
            planned = plan_reports(uow.session, on_20th, times)
            assert [k for k in planned if k.startswith(COMPLAINT_SUMMARY)]
    finally:
        db.dispose()


@pytest.mark.parametrize("day", ["0", "29", "x"])
def test_a_bad_summary_day_stops_start_up_naming_the_setting(day: str) -> None:
    """Days 1–28 only (every month has them)."""
    with pytest.raises(ConfigError, match="PROPDESK_COMPLAINT_SUMMARY_DAY"):
        load_settings(_env_file=None, complaint_summary_day=day)
