"""Pending owner registrations reach agents, who approve or reject once (R1)."""

from __future__ import annotations

from sqlalchemy import select

from store.models import Identity, Person
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, Owner, staff_member


async def _agent(fake: FakeTelegram, bot: Bot) -> Owner:
    return await staff_member(fake, bot, TgUser(4501, "Agent Liu", "en"), "agent")


async def _pending(owner: Owner) -> None:
    await owner.send("/start")
    await owner.send("Li Na")
    await owner.send("1-1-101")
    await owner.send("13911112222")


def _status(owner: Owner) -> str | None:
    with owner.bot.services.db.unit_of_work() as uow:
        person = uow.session.scalar(
            select(Person).join(Identity).where(Identity.external_id == str(owner.user.id))
        )
        return person.owner_status if person else None


async def test_agent_approves_and_the_owner_is_told(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """The agent gets Approve / Reject; approving verifies the owner and tells them."""
    agent = await _agent(fake_tg, bot)
    await _pending(alice)
    assert _status(alice) == "pending"
    message, data = agent.find_button("Approve")
    assert "1-1-101" in message["text"] and "139****2222" in message["text"]
    replies = await agent.press_data(data, message)
    assert "Approved" in agent.texts(replies)[-1]
    assert _status(alice) == "verified"
    assert any("is confirmed" in t for t in fake_tg.messages_to(alice.chat_id))
    replies = await agent.press_data(data.replace("approve", "reject"), message)
    assert agent.refused(replies, "already handled")  # issue 11.5
    assert _status(alice) == "verified"


async def test_rejected_owner_cannot_report_and_others_cannot_decide(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, zhang: Owner
) -> None:
    """Only agents decide; a rejected owner is told to see the office, nothing is stored."""
    agent = await _agent(fake_tg, bot)
    await _pending(alice)
    message, data = agent.find_button("Reject")
    replies = await zhang.press_data(
        data, {**message, "chat": {"id": zhang.chat_id, "type": "private"}}
    )
    assert _status(alice) == "pending"
    await agent.press_data(data, message)
    assert _status(alice) == "rejected"
    replies = await alice.send("/repair")
    assert "could not be confirmed" in alice.texts(replies)[-1]
