"""Web-only parts of the owners' web chat (issue 12): the "share my phone" step, which no
browser can vouch for. What a property company expects: the number is typed (the page offers
a phone field the browser may fill in) and, like a typed number on WeChat, confirmed by an
agent before the registration is verified (R1); the owner may report repairs meanwhile. An
owner who already uses Telegram or WeChat signs in with /web instead and is verified there."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from store.models import Identity, Person
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, Owner
from tests.test_jobs import join

pytestmark = pytest.mark.parametrize("channel", ["web"])


def status_of(owner: Owner) -> str | None:
    """The owner's registration status."""
    with owner.bot.services.db.unit_of_work() as uow:
        person = uow.session.scalar(
            select(Person).join(Identity).where(
                Identity.channel == "web", Identity.external_id == owner.external_id
            )
        )
        return person.owner_status if person is not None else None


async def test_a_typed_phone_on_the_web_is_confirmed_by_an_agent(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """R1: the phone question carries the share label (the page draws a phone field for it);
    even the number on file, typed, leaves the registration pending; the menu comes at once;
    an agent's ✅ on Telegram verifies it and the owner hears it in the browser."""
    agent = await join(fake_tg, bot, TgUser(4001, "Li", "zh-hans"), "agent", None)
    await zhang.send("/start")
    await zhang.send("张伟")
    asked = await zhang.send("3-2-1201")
    assert "手机号码" in asked[0]["text"]
    assert asked[0]["ask_contact"] == "📱 发送我的手机号"
    replies = await zhang.contact("138 1234 5678")
    assert "需由工作人员核实" in zhang.texts(replies)[0]
    assert any("|repair|" in str(m.get("reply_markup")) for m in replies)  # the menu at once
    assert status_of(zhang) == "pending"

    private = Owner(fake_tg, bot, TgUser(4001, "Li", "zh-hans"))
    request = [m for m in fake_tg.sent(private.chat_id) if "张伟" in (m.get("text") or "")][-1]
    assert "138****5678" in request["text"]  # the agent sees the number masked until approved
    assert agent is not None
    await private.press("通过")
    told = await zhang.replies()
    assert any("3-2-1201" in t for t in zhang.texts(told)), zhang.texts(told)
    assert status_of(zhang) == "verified"


async def test_a_number_that_is_not_a_phone_is_asked_again(zhang: Owner) -> None:
    """Bad input in the phone field gets the polite line and changes nothing."""
    await zhang.send("/start")
    await zhang.send("张伟")
    await zhang.send("3-2-1201")
    replies = await zhang.contact("12345")
    assert "手机号" in zhang.texts(replies)[0]
    assert status_of(zhang) is None
