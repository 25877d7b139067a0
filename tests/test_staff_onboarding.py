"""Staff join by a one-time, expiring invitation link; roles are listed and revoked (R6)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import EXIT_FAILED, EXIT_OK, main
from store.models import PersonRole
from store.staff import create_invite
from tests.fake_telegram import FakeTelegram, TgChat, TgUser
from tests.harness import STAFF_GROUP, Bot, FakeClock, Owner


def _invite(bot: Bot, role: str, department: str | None = None) -> str:
    with bot.services.db.unit_of_work() as uow:
        invite = create_invite(uow.session, role, department, bot.services.clock())
        uow.commit()
        return invite.code


def _roles(bot: Bot, user_id: int) -> set[tuple[str, str | None]]:
    from store.people import person_by_identity

    with bot.services.db.unit_of_work() as uow:
        person = person_by_identity(uow.session, "telegram", str(user_id))
        if person is None:
            return set()
        rows = uow.session.scalars(select(PersonRole).where(PersonRole.person_id == person.id))
        return {(r.role, r.department) for r in rows}


async def test_invite_link_binds_once(fake_tg: FakeTelegram, bot: Bot) -> None:
    """The first person to open the link becomes an engineer; the second gets a polite no."""
    code = _invite(bot, "engineer", "engineering")
    wang = Owner(fake_tg, bot, TgUser(id=3001, first_name="Wang", language_code="en"))
    replies = await wang.send(f"/start {code}")
    assert "registered as engineer (engineering)" in wang.texts(replies)[0]
    assert _roles(bot, 3001) == {("engineer", "engineering")}

    other = Owner(fake_tg, bot, TgUser(id=3002, first_name="Zhao", language_code="zh-hans"))
    replies = await other.send(f"/start {code}")
    assert "邀请" in other.texts(replies)[0]
    assert _roles(bot, 3002) == set()


async def test_expired_and_unknown_codes_change_nothing(
    fake_tg: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    """After 72 hours the link is dead; a made-up code never works."""
    code = _invite(bot, "agent")
    clock.advance(timedelta(hours=72, minutes=1))
    late = Owner(fake_tg, bot, TgUser(id=3003, first_name="Late", language_code="en"))
    replies = await late.send(f"/start {code}")
    assert "not valid" in late.texts(replies)[0]
    replies = await late.send("/start " + "x" * 24)  # shaped like a code (issue 11.7)
    assert "not valid" in late.texts(replies)[0]
    assert _roles(bot, 3003) == set()


async def test_staff_in_the_staff_group_are_not_treated_as_strangers(
    fake_tg: FakeTelegram, bot: Bot
) -> None:
    """Staff chatting in their group get no "this group is for staff" reply."""
    code = _invite(bot, "engineer", "engineering")
    wang = Owner(fake_tg, bot, TgUser(id=3004, first_name="Wang", language_code="en"))
    await wang.send(f"/start {code}")
    in_group = Owner(
        fake_tg, bot, wang.user, chat=TgChat(id=STAFF_GROUP, type="supergroup", title="Staff")
    )
    replies = await in_group.send("on my way to building 3")
    assert replies == []


def test_cli_invite_list_revoke(
    fake_tg: FakeTelegram,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`propdesk staff invite` prints a t.me deep link; list and revoke manage roles."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROPDESK_DATABASE_URL", db_url)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:CLI")
    monkeypatch.setenv("PROPDESK_TELEGRAM_API_BASE_URL", fake_tg.base_url)
    assert main(["staff", "invite", "--role", "manager"]) == EXIT_OK
    link = capsys.readouterr().out.strip()
    assert link.startswith("https://t.me/propdesk_test_bot?start=")
    code = link.rsplit("=", 1)[1]

    from store.clock import system_clock
    from store.db import Database
    from store.people import add_person
    from store.staff import redeem_invite

    db = Database(db_url, system_clock)  # the CLI made the invitation on the machine's clock
    with db.unit_of_work() as uow:
        person = add_person(
            uow.session, channel="telegram", external_id="42", name="Boss", language="zh"
        )
        assert redeem_invite(uow.session, code, person, db.clock()) is not None
        uow.commit()
        person_id = person.id
    db.dispose()
    assert main(["staff", "list"]) == EXIT_OK
    assert "Boss" in capsys.readouterr().out
    assert main(["staff", "revoke", str(person_id)]) == EXIT_OK
    assert main(["staff", "revoke", str(person_id)]) == EXIT_FAILED
    with pytest.raises(SystemExit) as bad_role:
        main(["staff", "invite", "--role", "wizard"])
    assert bad_role.value.code == 2
