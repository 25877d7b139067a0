"""Telegram's command lists per scope and language (issue 11.10): owners see theirs in every
private chat, each staff member sees their roles' commands in their own chat (set again when they
join), and groups are offered none (commands there only get "use our private chat")."""

from __future__ import annotations

from typing import Any

from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import STAFF_GROUP, Bot, Owner, staff_member

PRIVATE = {"type": "all_private_chats"}


def names(commands: list[dict[str, Any]]) -> list[str]:
    """The command words of a list."""
    return [c["command"] for c in commands]


async def listed(fake: FakeTelegram, scope: dict[str, Any], language: str = "") -> list[str]:
    """The command words set for a scope, once the background task has set them."""
    found = await fake.await_for(lambda _: fake.commands(scope, language) or None, timeout=10)
    return names(found)


async def test_owner_commands_in_private_chats_in_both_languages(
    fake_tg: FakeTelegram, bot: Bot
) -> None:
    """At start-up: zh, en and the desk's default; no staff command; nothing for groups."""
    owner = ["repair", "requests", "complaint", "language", "cancel", "help"]
    assert await listed(fake_tg, PRIVATE, "en") == owner
    assert await listed(fake_tg, PRIVATE, "zh") == owner
    assert await listed(fake_tg, PRIVATE) == owner
    zh = fake_tg.commands(PRIVATE, "zh")
    en = fake_tg.commands(PRIVATE, "en")
    assert zh[0]["description"] == "报修" and en[0]["description"] == "Report a repair"
    assert fake_tg.commands({"type": "default"}) == []
    assert fake_tg.commands({"type": "chat", "chat_id": STAFF_GROUP}) == []


async def test_staff_get_their_roles_commands_when_they_join(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """A supervisor's chat lists /board, finance's /arrears and /paid, in their language; an
    owner's chat keeps the common list only."""
    await listed(fake_tg, PRIVATE, "en")
    supervisor = await staff_member(fake_tg, bot, TgUser(3801, "Zhao", "en"), "supervisor",
                                    "engineering")
    finance = await staff_member(fake_tg, bot, TgUser(3802, "徐", "zh-hans"), "finance")
    sup = await listed(fake_tg, {"type": "chat", "chat_id": supervisor.chat_id})
    assert "board" in sup and "arrears" not in sup and "paid" not in sup and "repair" not in sup
    fin = fake_tg.commands({"type": "chat", "chat_id": finance.chat_id})
    fin = fin or await fake_tg.await_for(
        lambda _: fake_tg.commands({"type": "chat", "chat_id": finance.chat_id}) or None
    )
    assert names(fin)[:2] == ["arrears", "paid"] and "board" not in names(fin)
    assert fin[0]["description"] == "未付账单"
    await alice.send("/start")
    assert fake_tg.commands({"type": "chat", "chat_id": alice.chat_id}) == []


async def test_start_up_sets_the_staff_chats_from_the_database(
    fake_tg: FakeTelegram, bot: Bot
) -> None:
    """Start-up's lists come from the database: staff who joined before get theirs again."""
    supervisor = await staff_member(fake_tg, bot, TgUser(3811, "Zhao", "en"), "supervisor",
                                    "engineering")
    scope = {"type": "chat", "chat_id": supervisor.chat_id}
    await listed(fake_tg, scope)
    fake_tg._commands.clear()  # what a fresh bot token would hold
    bot.desk.commands.publish()  # what start() does, in the background
    assert "board" in await listed(fake_tg, scope)
    assert await listed(fake_tg, PRIVATE, "zh")
