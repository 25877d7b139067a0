"""The front desk files for callers (R1): an agent enters a repair on an owner's behalf, the
order is the owner's, the history says who entered it and how it came in, the owner is told."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from store.complaints.models import Complaint
from store.models import Conversation, Identity
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, Owner, drain, staff_member, told
from tests.test_repair import (
    ORDER_NUMBER,
    TOMORROW,
    convo_state,
    count_orders,
    item_id,
    orders_of,
    register,
    session_of,
    tap,
)

COMPLAINT_NUMBER = re.compile(r"C-\d{8}-\d{4}")


def _person_id(someone: Owner) -> int:
    with session_of(someone) as session:
        found = session.scalar(
            select(Identity.person_id).where(
                Identity.channel == someone.channel, Identity.external_id == someone.external_id
            )
        )
    assert found is not None
    return found


@pytest.mark.parametrize("channel", ["telegram", "wechat", "web"])  # the owner's channel
async def test_agent_files_a_list_price_repair_for_a_caller(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """R1: 客服 takes a phoned-in repair for 3-2-1201; 张伟 owns the order and hears of it,
    in whichever app he uses (on WeChat or the web his typed phone is approved by the agent
    first: the desk files only for confirmed owners)."""
    agent = await staff_member(fake_tg, bot, TgUser(4601, "Agent Liu", "en"), "agent")
    await register(zhang)
    if zhang.channel != "telegram":
        await agent.press("Approve")
    await agent.send("/menu")
    await tap(agent, "fdnew")
    replies = await agent.send("3-2-1210")  # a near miss: suggestions, nothing chosen
    assert "Did you mean" in agent.texts(replies)[-1]
    await tap(agent, "cancel")
    assert convo_state(agent)[0] == "idle"
    await tap(agent, "fdnew")
    replies = await agent.send("3栋2单元1201")
    assert "张伟" in agent.texts(replies)[-1] and "3-2-1201" in agent.texts(replies)[-1]
    await tap(agent, "fdvia", "phone")
    assert convo_state(agent)[0] == "rep_where"
    await tap(agent, "where", "home")
    await tap(agent, "cat", "plumbing")
    await tap(agent, "item", str(item_id(agent, "PL01")))
    await agent.send("The kitchen tap drips")
    await tap(agent, "photos_done")
    await tap(agent, "when", "book")
    await tap(agent, "date", TOMORROW)
    await tap(agent, "slot", TOMORROW + "1000")
    phone_prompt = agent.texts(agent.last)[-1]
    assert "phone" in phone_prompt
    replies = await tap(agent, "phone", "mine")  # the owner's phone on file, masked
    await tap(agent, "quote", "agree")
    replies = await tap(agent, "submit")
    done = agent.texts(replies)
    number = ORDER_NUMBER.search(" ".join(done))
    assert number is not None and any("registered for 张伟" in t for t in done), done
    await drain(bot)

    orders = orders_of(zhang)
    assert [o.number for o in orders] == [number.group()]
    order = orders[0]
    assert order.contact_phone == "+8613812345678" and order.unit.code == "3-2-1201"
    submitted = order.events[0]
    assert submitted.action == "submitted" and submitted.note == "phone"
    assert submitted.actor_id == _person_id(agent) != order.owner_id
    assert order.owner_id == _person_id(zhang)
    heard = [t for t in told(zhang) if number.group() in t]
    assert heard and "物业服务台已为您登记请求" in heard[-1] and "电话" in heard[-1]
    assert convo_state(agent)[0] == "idle" and not orders_of(agent)


async def test_only_agents_may_file_for_owners(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """An engineer sees no such menu item; a forged "new request for an owner" button from an
    engineer or an owner is refused and changes nothing."""
    await register(zhang)
    engineer = await staff_member(
        fake_tg, bot, TgUser(4602, "Engineer Wu", "en"), "engineer", "engineering"
    )
    menu = (await engineer.send("/menu"))[-1]
    assert "📞 New request for an owner" not in engineer.buttons(menu)
    before = count_orders(engineer)
    for someone in (engineer, zhang):
        step, data, _version = convo_state(someone)
        own = someone.fake.sent(someone.chat_id)[-1]
        replies = await someone.press_data("g|fdnew|", own)
        assert any(
            "only front-desk agents" in t or "只有客服" in t for t in someone.texts(replies)
        ), someone.texts(replies)
        assert convo_state(someone)[:2] == (step, data)
        replies = await someone.send("3-2-1201")  # no room step was opened
        assert not any("How did the request come in" in t for t in someone.texts(replies))
    assert count_orders(engineer) == before
    with session_of(engineer) as session:
        assert not session.scalars(select(Conversation).where(Conversation.step.like("fd_%"))).all()


@pytest.mark.parametrize("channel", ["telegram", "wechat"])  # the owner's channel
async def test_agent_files_a_complaint_for_a_caller(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """R1, R30: a complaint phoned in for 3-2-1201 is 张伟's (not anonymous: he spoke to the
    desk), the history says the agent took it by phone, the card reaches staff, and 张伟 is told
    in his own app; the agent gets the number and no complaint of his own."""
    agent = await staff_member(fake_tg, bot, TgUser(4603, "Agent Ma", "en"), "agent")
    await register(zhang)
    if zhang.channel != "telegram":
        await agent.press("Approve")
    await agent.send("/menu")
    replies = await tap(agent, "fdcmp")
    assert "New complaint for an owner" in agent.texts(replies)[-1]
    await agent.send("3-2-1201")
    await tap(agent, "fdvia", "phone")
    assert convo_state(agent)[0] == "cmp_type"
    await tap(agent, "type", "complaint")
    await tap(agent, "subj", "noise")
    await agent.send("Drilling upstairs every night after 22:00")
    await tap(agent, "photos_done")
    replies = await tap(agent, "where", "home")
    done = agent.texts(replies)
    number = next((m.group() for t in done if (m := COMPLAINT_NUMBER.search(t))), None)
    assert number is not None and any("registered for 张伟" in t for t in done), done
    await drain(bot)

    owner_id, agent_id = _person_id(zhang), _person_id(agent)
    with session_of(agent) as session:
        complaint = session.scalars(select(Complaint).where(Complaint.number == number)).one()
        submitted = complaint.events[0]
        assert complaint.owner_id == owner_id and not complaint.anonymous
        assert submitted.action == "submitted" and submitted.note == "phone"
        assert submitted.actor_id == agent_id
        assert complaint.description.startswith("Drilling upstairs")
        assert not session.scalars(select(Complaint).where(Complaint.owner_id == agent_id)).all()
    heard = [t for t in told(zhang) if number in t]
    assert heard and "物业服务台已为您登记投诉" in heard[-1] and "电话" in heard[-1], heard
    assert convo_state(agent)[0] == "idle"


async def test_a_forged_complaint_for_an_owner_is_refused(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """A forged "new complaint for an owner" button from an owner changes nothing (R1)."""
    await register(zhang)
    step, data, _version = convo_state(zhang)
    own = zhang.fake.sent(zhang.chat_id)[-1]
    replies = await zhang.press_data("g|fdcmp|", own)
    said = " ".join(zhang.texts(replies)) + (zhang.notice or "")
    assert "只有客服" in said or "only front-desk agents" in said, said
    assert convo_state(zhang)[:2] == (step, data)
