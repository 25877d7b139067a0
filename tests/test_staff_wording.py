"""Staff wording (issue 11.10): a staff menu by role, the commands named to those who may use
them; a public-area card names the building, not a flat; "per item", not "per each"."""

from __future__ import annotations

from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, Owner, staff_member
from tests.test_jobs import submit_urgent_public_repair
from tests.test_repair import both_channels, desc_to_phone, register, tap, to_desc


async def test_staff_menu_by_role(fake_tg: FakeTelegram, bot: Bot) -> None:
    """Finance sees the arrears and /paid, not the board nor the owner's repair menu; a
    supervisor sees /board; an owner sees none of it."""
    fin = await staff_member(fake_tg, bot, TgUser(4801, "Finance Xu", "en"), "finance")
    menu = (await fin.send("/menu"))[-1]
    labels = fin.buttons(menu)
    assert "💰 Arrears" in labels and "🏠 Register my home" in labels
    assert "🔧 Report a repair" not in labels and "📋 My requests" not in labels
    assert "/arrears /paid" in menu["text"] and "/board" not in menu["text"]
    await fin.press("Arrears")
    assert "No unpaid bills" in fin.texts(fin.last)[-1]

    boss = await staff_member(fake_tg, bot, TgUser(4802, "Boss Zhao", "en"), "supervisor")
    menu = (await boss.send("/menu"))[-1]
    assert "📊 Board" in boss.buttons(menu) and "/board" in menu["text"]
    assert "/paid" not in menu["text"]


async def test_public_area_card_names_the_building(fake_tg: FakeTelegram, bot: Bot,
                                                   alice: Owner) -> None:
    """A lobby leak reported by the owner of 1-1-101 is "near 1-1", never "room 1-1-101"."""
    number = await submit_urgent_public_repair(alice)
    card = next(m["text"] for m in fake_tg.sent() if number in (m.get("text") or "")
                and "新工单" in (m.get("text") or ""))
    assert "1-1 附近的公共区域" in card and "1-1-101" not in card


@both_channels
async def test_list_price_reads_per_item(alice: Owner) -> None:
    """The quote says "¥30.00 per item" (the English copy said "per each")."""
    await register(alice)
    await to_desc(alice)
    await desc_to_phone(alice)
    replies = await tap(alice, "phone", "mine")
    text = alice.texts(replies)[-1]
    assert "¥30.00 per item" in text and "per each" not in text
