"""Supervisors assign jobs from the card and reassign them from the board (R6)."""

from __future__ import annotations

from sqlalchemy import select

from store.models import Person
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import STAFF_GROUP, Bot, Owner
from tests.test_engineer import claimed_by, load, state
from tests.test_jobs import join, submit_urgent_public_repair

WANG = TgUser(3601, "Wang", "en")
ZHOU = TgUser(3602, "Zhou", "en")
BOSS = TgUser(3603, "Boss", "en")


def person_id(bot: Bot, name: str) -> int:
    """The id of the person called `name`."""
    with bot.services.db.unit_of_work() as uow:
        return uow.session.scalars(select(Person.id).where(Person.name == name)).one()


def card_of(fake: FakeTelegram, number: str) -> dict[str, object]:
    """The newest job card of an order in the staff group."""
    return [m for m in fake.sent(STAFF_GROUP) if number in (m.get("text") or "")][-1]


async def test_supervisor_assigns_from_the_card(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """Assign → a private list of the department's people → the chosen one gets the job."""
    number = await submit_urgent_public_repair(alice)
    await join(fake_tg, bot, WANG, "engineer", "engineering")
    boss_group = await join(fake_tg, bot, BOSS, "supervisor", "engineering")
    boss = Owner(fake_tg, bot, BOSS)
    card = card_of(fake_tg, number)
    assert Owner.buttons(card) == ["🙋 接单", "👤 指派"]
    message, data = boss_group.find_button("指派")
    replies = await boss_group.press_data(data, message)
    assert replies == []  # the list goes to the supervisor's private chat, not the group
    offer = fake_tg.sent(BOSS.id)[-1]
    assert offer["text"] == f"Who should take {number}?"
    assert Owner.buttons(offer) == ["Wang", "Boss"]
    boss.seen = len(fake_tg.sent(BOSS.id))
    replies = await boss.press("Wang")
    assert f"Done: {number} is assigned to Wang." in boss.texts(replies)

    order = load(bot, number)
    assert order.status == "claimed" and order.assignee is not None
    assert order.assignee.name == "Wang" and order.version == 1
    event = order.events[-1]
    assert (event.action, event.actor_id, event.note) == ("assign", person_id(bot, "Boss"), "Wang")
    edited = fake_tg.message(STAFF_GROUP, int(str(card["message_id"])))
    assert edited is not None and "Boss 于" in edited["text"] and "指派给 Wang" in edited["text"]
    details = [m for m in fake_tg.sent(WANG.id) if number in (m.get("text") or "")][-1]
    assert details["text"].startswith(f"Boss assigned {number} to you.")
    assert "Li Na" in details["text"] and "On my way" in " ".join(Owner.buttons(details))
    assert any("Wang has taken your request" in t for t in fake_tg.messages_to(alice.chat_id))
    wang = Owner(fake_tg, bot, WANG)
    await wang.press("On my way")
    assert state(bot, number)[0] == "on_the_way"

    replies = await boss.press_data(offer["reply_markup"]["inline_keyboard"][1][0]["callback_data"],
                                    offer)
    assert boss.refused(replies, "already taken by Wang")  # issue 11.5
    assert load(bot, number).assignee_id == person_id(bot, "Wang")


async def test_only_supervisors_assign(fake_tg: FakeTelegram, bot: Bot, alice: Owner) -> None:
    """An engineer pressing Assign, or forging a choice, is refused and nothing changes."""
    number = await submit_urgent_public_repair(alice)
    zhou_group = await join(fake_tg, bot, ZHOU, "engineer", "engineering")
    message, data = zhou_group.find_button("指派")
    replies = await zhou_group.press_data(data, message)  # on the button, not in the group
    assert zhou_group.refused(replies, "only the engineering supervisor or a manager")
    order_id = load(bot, number).id
    zhou = Owner(fake_tg, bot, ZHOU)
    forged = f"o0|assignto|{order_id}-{person_id(bot, 'Zhou')}"
    replies = await zhou.press_data(forged, {"message_id": 1, "chat": {"id": ZHOU.id,
                                                                        "type": "private"}})
    assert zhou.refused(replies, "can assign this job")
    assert state(bot, number) == ("submitted", 0, ["submitted"])


async def test_reassign_from_the_board(fake_tg: FakeTelegram, bot: Bot, alice: Owner) -> None:
    """The board lists Wang's job; Reassign → Zhou: status kept, Wang's buttons go stale."""
    number = await submit_urgent_public_repair(alice)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    await join(fake_tg, bot, ZHOU, "engineer", "engineering")
    await join(fake_tg, bot, BOSS, "supervisor", None)
    boss = Owner(fake_tg, bot, BOSS)
    text = boss.texts(await boss.send("/board"))[-1]
    assert f"• {number} · Wang · " in text
    replies = await boss.press("Reassign")
    assert boss.texts(replies) == [f"Who should take {number}?"]
    assert boss.buttons(replies[0]) == ["Zhou", "Boss"]
    replies = await boss.press("Zhou")
    assert boss.texts(replies)[-1] == f"Done: {number} is now with Zhou (was Wang)."

    order = load(bot, number)
    assert order.status == "claimed" and order.version == 2 and order.assignee is not None
    assert order.assignee.name == "Zhou"
    event = order.events[-1]
    assert (event.action, event.note) == ("reassign", "Wang -> Zhou")
    assert event.actor_id == person_id(bot, "Boss")
    assert "handed" in fake_tg.messages_to(WANG.id)[-1]
    told = [t for t in fake_tg.messages_to(ZHOU.id) if t.startswith(f"Boss handed {number}")]
    assert len(told) == 1 and "Li Na" in told[0]
    assert "Zhou will now take care" in fake_tg.messages_to(alice.chat_id)[-1]
    message, data = wang.find_button("On my way")
    replies = await wang.press_data(data, message)
    assert wang.refused(replies, "only the engineer who took")
    message, data = boss.find_button("Zhou", as_drawn=True)  # the spent choice, edited away
    replies = await boss.press_data(data, message)
    assert boss.refused(replies, "out of date")
    zhou = Owner(fake_tg, bot, ZHOU)
    await zhou.press("On my way")
    assert state(bot, number)[0] == "on_the_way"
