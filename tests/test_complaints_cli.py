"""`propdesk complaint show`: a complaint and its history; an anonymous complainant stays
hidden (R30) unless a manager reveals them with --reveal --by, which is logged as an event."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from store.models import Identity
from tests.fake_telegram import FakeTelegram
from tests.harness import Bot, Owner
from tests.test_complaints import load, press_k, taken_class_one


def person_id(bot: Bot, person: Owner) -> int:
    """The person id behind a Telegram account."""
    with bot.services.db.unit_of_work() as uow:
        found = uow.session.scalar(
            select(Identity.person_id).where(Identity.external_id == str(person.user.id))
        )
        assert found is not None
        return found


async def test_complaint_show_hides_an_anonymous_complainant_unless_a_manager_reveals(
    fake_tg: FakeTelegram,
    bot: Bot,
    alice: Owner,
    db_url: str,
    monkeypatch: Any,
    tmp_path: Any,
    capsys: Any,
) -> None:
    """Plain show: no name, phone or room; --reveal by an agent: refused, nothing logged;
    --reveal by a manager: named, and the reveal is in the history."""
    number, staff = await taken_class_one(fake_tg, bot, alice, anonymous=True)
    await press_k(staff["butler"], "progress")
    await staff["butler"].send("Cleaners booked for this afternoon")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROPDESK_DATABASE_URL", db_url)
    capsys.readouterr()
    assert main(["complaint", "show", number]) == EXIT_OK
    out = capsys.readouterr().out
    assert number in out and "anonymous" in out and "Cleaners booked" in out
    assert "Butler Zhou" in out and "class_1" in out and "complainant" in out
    for secret in ("Alice", "13900001111", "1-1-101"):
        assert secret not in out
    agent_id = person_id(bot, staff["agent"])
    assert main(["complaint", "show", number, "--reveal", "--by", str(agent_id)]) == EXIT_USAGE
    assert "Alice" not in capsys.readouterr().out
    assert main(["complaint", "show", number, "--reveal"]) == EXIT_USAGE
    assert "reveal" not in [e.action for e in load(bot, number).events]
    manager_id = person_id(bot, staff["mgr"])
    assert main(["complaint", "show", number, "--reveal", "--by", str(manager_id)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Alice Li" in out and "+8613900001111" in out and "1-1-101" in out
    [reveal] = [e for e in load(bot, number).events if e.action == "reveal"]
    assert reveal.actor_id == manager_id
    assert main(["complaint", "show", "C-19990101-0001"]) == EXIT_FAILED
