"""Names that are not names (issue 11.3): a phone number, a room number, one character or
digits only are refused with a polite question in the person's language; nothing is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from handlers.i18n import translator
from store.models import Conversation, Person
from tests.harness import Owner
from tests.test_repair import both_channels

NOT_NAMES = {
    "13812345678": "looks like a phone number",
    "+86 139 0000 1111": "looks like a phone number",
    "3-2-1201": "looks like a room number",
    "3栋2单元1201": "looks like a room number",
    "A": "does not look like a name",
    "张": "does not look like a name",
    "12345": "does not look like a name",
    "007 9": "does not look like a name",
    "!!": "does not look like a name",
}


def _people(owner: Owner) -> int:
    with owner.bot.services.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Person)) or 0)


def _draft(owner: Owner) -> tuple[str, dict[str, object]]:
    with owner.bot.services.db.unit_of_work() as uow:
        convo = uow.session.scalar(
            select(Conversation).where(Conversation.chat_id == str(owner.chat_id))
        )
        assert convo is not None
        return convo.step, dict(convo.data or {})


@both_channels
async def test_not_a_name_is_asked_again(alice: Owner) -> None:
    """Each not-a-name gets its own polite question; the dialog stays at the name."""
    await alice.send("/start")
    for text, reason in NOT_NAMES.items():
        replies = await alice.send(text)
        assert len(replies) == 1 and reason in alice.texts(replies)[0], text
        assert "please type your name" in alice.texts(replies)[0].lower()
        assert _draft(alice) == ("reg_name", {}) and _people(alice) == 0
    replies = await alice.send("Li\n  Na")  # a name is one line
    assert "Which home" in alice.texts(replies)[0]
    assert _draft(alice) == ("reg_room", {"name": "Li Na"})


@pytest.mark.parametrize("channel", ["telegram", "wechat", "web"])
async def test_not_a_name_in_chinese(zhang: Owner) -> None:
    """The same question in Chinese for a Chinese speaker; a two-character name is fine."""
    _ = translator("zh")
    await zhang.send("/start")
    replies = await zhang.send("13812345678")
    assert zhang.texts(replies) == [
        _(
            "That looks like a phone number; I will ask for it in a moment. First, please "
            "type your name, for example Li Na or 张伟."
        )
    ]
    assert "电话" in zhang.texts(replies)[0]
    replies = await zhang.send("伟")
    assert "姓名" in zhang.texts(replies)[0] and _people(zhang) == 0
    replies = await zhang.send("张伟")
    assert _draft(zhang) == ("reg_room", {"name": "张伟"})
