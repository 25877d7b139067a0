"""Staff without a home cannot file repairs (issue 11.4, R1: a repair is for a home): no
"report a repair" in their menu, a refusal naming the way out, and registering their own home
keeps their roles; staff who also own a flat keep both."""

from __future__ import annotations

from sqlalchemy import func, select

from store.models import Order, Person
from store.people import roles_of
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, Owner, staff_member
from tests.test_repair import both_channels, quick_order, register

WANG = TgUser(3401, "Wang", "en")


def _orders(bot: Bot) -> int:
    with bot.services.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Order)) or 0)


def _datas(messages: list[dict[str, object]]) -> list[str]:
    return [
        b["callback_data"]
        for m in messages
        for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])  # type: ignore[union-attr]
        for b in row
    ]


async def test_staff_only_cannot_file_a_repair(fake_tg: FakeTelegram, bot: Bot) -> None:
    """An engineer with no home: no repair in the menu; /repair and a forged menu press are
    refused with a way to register a home; no order is made."""
    wang = await staff_member(fake_tg, bot, WANG, "engineer", "engineering")
    replies = await wang.send("/menu")
    assert not any("|repair|" in d for d in _datas(replies))
    assert "🏠 Register my home" in wang.buttons(replies[-1])
    replies = await wang.send("/repair")
    assert "no home is registered for you" in wang.texts(replies)[0]
    pressed = replies[-1]
    replies = await wang.press_data("g|repair|", pressed)
    # the answer replaces the pressed message (issue 11.6); it said so already: not modified
    now = fake_tg.message(wang.chat_id, pressed["message_id"])
    assert now is not None and "no home is registered for you" in now["text"]
    assert not any("|repair|" in d for d in _datas(replies))
    assert _orders(bot) == 0


async def test_staff_registers_a_home_and_keeps_the_role(fake_tg: FakeTelegram, bot: Bot) -> None:
    """The engineer registers the flat they own: the same person, still an engineer, can
    now report repairs."""
    wang = await staff_member(fake_tg, bot, WANG, "engineer", "engineering")
    await wang.send("/menu")
    replies = await wang.press("Register my home")
    assert "Which home" in wang.texts(replies)[-1]
    await wang.send("3-2-1201")
    replies = await wang.contact("+8613812345678")
    assert "registered for 3-2-1201" in wang.texts(replies)[0]
    assert "|repair|" in " ".join(_datas(replies))
    with bot.services.db.unit_of_work() as uow:
        [person] = uow.session.scalars(select(Person)).all()
        assert person.unit is not None and person.unit.code == "3-2-1201"
        assert person.owner_status == "verified" and person.name == "Wang"
        assert roles_of(uow.session, person.id) == {"engineer"}
    await quick_order(wang)
    assert _orders(bot) == 1


@both_channels
async def test_an_owner_who_becomes_staff_keeps_both(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """An owner who opens a staff invitation keeps the owner menu and files repairs."""
    await register(alice)
    from store.staff import create_invite

    with bot.services.db.unit_of_work() as uow:
        code = create_invite(uow.session, "agent", None, bot.services.clock()).code
        uow.commit()
    await alice.send(f"/start {code}")
    replies = await alice.send("/menu")
    assert "|repair|" in " ".join(_datas(replies))
    await quick_order(alice)
    assert _orders(bot) == 1
