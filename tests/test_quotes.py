"""Quote on site (R5) and materials (R8), as transcripts over the fake Bot API."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from store.models import Bill, Conversation, Order
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, Owner, paragraphs, told
from tests.test_engineer import WANG, _refused, claimed_by, load, load_number, state
from tests.test_jobs import join
from tests.test_repair import both_channels, desc_to_phone, quick_order, register, tap, to_desc

SUN = TgUser(3501, "Sun", "en")  # engineering supervisor
ZHOU = TgUser(3402, "Zhou", "en")  # another engineer


async def on_site_order(owner: Owner) -> str:
    """A leaking pipe inside the home: no list price, so it is quoted on site."""
    await register(owner)
    await to_desc(owner, item="PL07")
    await desc_to_phone(owner, "The pipe under the sink leaks")
    await tap(owner, "phone", "mine")
    await tap(owner, "quote", "ack")
    await tap(owner, "submit")
    return load_number(owner.bot)


async def staff(fake: FakeTelegram, bot: Bot, user: TgUser, role: str) -> Owner:
    """A staff member of engineering, in their private chat."""
    await join(fake, bot, user, role, "engineering")
    return Owner(fake, bot, user)


def action_data(person: Owner, action: str) -> tuple[dict[str, Any], str]:
    """The newest message to the person with an order button for `action`, and its data."""
    for message in reversed(person.fake.sent(person.chat_id)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button["callback_data"].split("|")[1] == action:
                    return message, button["callback_data"]
    raise AssertionError(f"no {action} button")


async def press_action(person: Owner, action: str) -> list[dict[str, Any]]:
    """Press the newest order button for `action`."""
    message, data = action_data(person, action)
    return await person.press_data(data, message)


async def arrived(fake: FakeTelegram, bot: Bot, zhang: Owner) -> tuple[str, Owner]:
    """An on-site order, claimed by Wang, who is now on site."""
    number = await on_site_order(zhang)
    wang = await claimed_by(fake, bot, WANG, number)
    replies = await wang.press("Arrived")
    assert "💬 Quote on site" in wang.buttons(replies[0])
    return number, wang


def bills(bot: Bot, number: str) -> list[tuple[int, int, str]]:
    """The order's bills as (amount, paid, status)."""
    with bot.services.db.unit_of_work() as uow:
        rows = uow.session.scalars(select(Bill).join(Order).where(Order.number == number))
        return [(b.amount_fen, b.paid_fen, b.status) for b in rows]


@both_channels
async def test_off_list_quote_approved_agreed_and_paid(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """Off-list amount → supervisor approves → owner agrees → done, cash: paid for the quote."""
    sun = await staff(fake_tg, bot, SUN, "supervisor")
    number, wang = await arrived(fake_tg, bot, zhang)
    replies = await wang.press("Quote on site")
    assert "Amount not on the list" in wang.buttons(replies[0])[-1]
    assert any("Replace tap" in b for b in wang.buttons(replies[0]))
    await wang.press("Amount not on the list")
    await wang.send("350")
    replies = await wang.send("Replace the corroded pipe section")
    assert wang.texts(replies) == [
        f"Your quote of ¥350.00 for {number} was sent to the supervisor for approval."
    ]
    order = load(bot, number)
    assert order.status == "arrived"
    assert (order.events[-1].action, order.events[-1].amount_fen) == ("quote_proposed", 35000)

    request = fake_tg.messages_to(SUN.id)[-1]
    assert "¥350.00" in request and "corroded pipe" in request and "Wang" in request
    replies = await sun.press("Approve")
    assert "sent to the owner" in sun.texts(replies)[-1]
    assert state(bot, number)[0] == "quoted"
    assert "approved ¥350.00" in fake_tg.messages_to(WANG.id)[-1]
    offer = told(zhang)[-1]
    assert "¥350.00" in offer and "corroded pipe" in offer and number in offer
    replies = await sun.press_again("Approve")  # pressed twice: stale
    assert sun.refused(replies, "out of date")

    await press_action(zhang, "qagree")
    order = load(bot, number)
    assert (order.status, order.quoted_fen) == ("in_progress", 35000)
    assert (order.events[-1].action, order.events[-1].amount_fen) == ("agree", 35000)
    assert order.events[-1].actor_id == order.owner_id
    assert "agreed to ¥350.00" in fake_tg.messages_to(WANG.id)[-1]

    replies = await wang.press("Done")
    assert wang.texts(replies)[-1] == f"How was the fee of ¥350.00 for {number} settled?"
    await wang.press("Cash collected")
    order = load(bot, number)
    assert order.status == "done"
    assert [e.action for e in order.events][-6:] == [
        "arrive",
        "quote_proposed",
        "quote",
        "agree",
        "complete",
        "fee_cash",
    ]
    assert order.events[-4].actor_id != order.assignee_id  # the supervisor approved
    assert bills(bot, number) == [(35000, 35000, "paid")]


async def test_declined_quote_closes_with_callout_fee(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """The owner declines: the order closes and the configured call-out fee is billed, unpaid."""
    bot.services.desk = replace(bot.services.desk, callout_fee_fen=2000)
    sun = await staff(fake_tg, bot, SUN, "supervisor")
    number, wang = await arrived(fake_tg, bot, zhang)
    await wang.press("Quote on site")
    await wang.press("Amount not on the list")
    await wang.send("800.5")
    await wang.send("Replace the whole drain pipe")
    await sun.press("Approve")
    replies = await press_action(zhang, "qdecline")
    assert "¥20.00" in zhang.texts(replies)[-1]
    order = load(bot, number)
    assert order.status == "closed"
    assert [(e.action, e.amount_fen) for e in order.events[-2:]] == [
        ("decline", 80050),
        ("callout_fee", 2000),
    ]
    assert bills(bot, number) == [(2000, 0, "unpaid")]
    assert "declined" in fake_tg.messages_to(WANG.id)[-1]


@both_channels
async def test_list_item_quote_needs_no_approval(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """A price-list item goes straight to the owner; declined without a fee: no bill."""
    await staff(fake_tg, bot, SUN, "supervisor")
    number, wang = await arrived(fake_tg, bot, zhang)
    await wang.press("Quote on site")
    replies = await wang.press("Replace angle valve")
    assert wang.texts(replies) == [f"Your quote of ¥20.00 for {number} was sent to the owner."]
    assert not any("|qok|" in str(m.get("reply_markup")) for m in fake_tg.sent(SUN.id))
    order = load(bot, number)
    assert order.status == "quoted" and order.price_item_id is not None
    assert (order.events[-1].action, order.events[-1].amount_fen) == ("quote", 2000)
    assert "更换角阀" in told(zhang)[-1]
    await press_action(zhang, "qdecline")
    assert state(bot, number)[0] == "closed"
    assert bills(bot, number) == []


def _step(bot: Bot, user: TgUser) -> str:
    with bot.services.db.unit_of_work() as uow:
        convo = uow.session.scalars(
            select(Conversation).where(Conversation.chat_id == str(user.id))
        ).one()
        return convo.step


@both_channels
async def test_bad_amounts_change_nothing(fake_tg: FakeTelegram, bot: Bot, zhang: Owner) -> None:
    """Text, negative, zero, absurd or over-precise amounts get a clear reply; Back and cancel."""
    number, wang = await arrived(fake_tg, bot, zhang)
    await wang.press("Quote on site")
    await wang.press("Amount not on the list")
    before = state(bot, number)
    for bad in ("a lot", "-5", "0", "100001", "1.234"):
        replies = await wang.send(bad)
        assert "Please type an amount in yuan" in wang.texts(replies)[0], bad
        assert state(bot, number) == before and _step(bot, WANG) == "quote_amount"
    replies = await wang.press("Back")
    assert "choose the price-list item" in wang.texts(replies)[-1]
    await wang.press("Amount not on the list")
    await wang.send("120")
    replies = await wang.send("/cancel")
    assert paragraphs(wang.texts(replies))[0] == "Quote cancelled; nothing was changed."
    assert state(bot, number) == before and _step(bot, WANG) == "idle"


async def test_outsiders_are_refused(fake_tg: FakeTelegram, bot: Bot, zhang: Owner) -> None:
    """Another engineer on the quote buttons, a non-supervisor on Approve, a stranger on Agree."""
    sun = await staff(fake_tg, bot, SUN, "supervisor")
    zhou = await staff(fake_tg, bot, ZHOU, "engineer")
    eve = Owner(fake_tg, bot, TgUser(3404, "Eve", "en"))
    await eve.send("/help")
    number, wang = await arrived(fake_tg, bot, zhang)
    await wang.press("Quote on site")
    before = state(bot, number)
    for action in ("quote", "qitem", "qfree"):
        await _refused(zhou, action_data(wang, action)[1], "only the engineer who took")
    assert state(bot, number) == before
    await wang.press("Amount not on the list")
    await wang.send("350")
    await wang.send("New pipe")
    before = state(bot, number)
    for person in (zhou, wang, zhang, eve):
        refusal = "只有本部门主管" if person is zhang else "only a supervisor"
        for action in ("qok", "qno"):
            await _refused(person, action_data(sun, action)[1], refusal)
    assert state(bot, number) == before
    await sun.press("Approve")
    before = state(bot, number)
    for person in (zhou, wang, sun, eve):
        for action in ("qagree", "qdecline"):
            await _refused(person, action_data(zhang, action)[1], "only the owner of")
    assert state(bot, number) == before


@both_channels
async def test_materials_from_stock_add_to_the_bill(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """R8: owner-supplied material is noted free; stock material adds to the fee at Done."""
    await register(zhang)
    await quick_order(zhang)
    number = load_number(bot)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    await wang.press("Arrived")
    await wang.press("Materials")
    await wang.press("Owner-supplied")
    replies = await wang.send("A new tap the owner bought")
    assert wang.texts(replies) == [f"Noted on {number}: owner-supplied A new tap the owner bought."]
    await wang.press("Materials")
    await wang.press("from stock")
    await wang.send("Rubber washers")
    before = state(bot, number)
    for bad in ("cheap", "-5", "0", "1.234"):
        replies = await wang.send(bad)
        assert "Please type an amount in yuan" in wang.texts(replies)[0], bad
    assert state(bot, number) == before
    replies = await wang.send("12.5")
    assert wang.texts(replies) == [f"Added to {number}: Rubber washers, ¥12.50 from stock."]
    assert "✅ Done" in wang.buttons(replies[0])
    replies = await wang.press("Done")
    assert wang.texts(replies) == [f"How was the fee of ¥42.50 for {number} settled?"]
    await wang.press("Owner pays later")
    order = load(bot, number)
    assert [(e.action, e.amount_fen) for e in order.events][-4:] == [
        ("materials_owner", None),
        ("materials_stock", 1250),
        ("complete", None),
        ("fee_unpaid", 4250),
    ]
    assert bills(bot, number) == [(4250, 0, "unpaid")]
    assert "¥42.50" in told(zhang)[-1]


@both_channels
async def test_rejected_quote_tells_the_engineer(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """The supervisor rejects: the order stays on site, the engineer may quote again."""
    sun = await staff(fake_tg, bot, SUN, "supervisor")
    number, wang = await arrived(fake_tg, bot, zhang)
    await wang.press("Quote on site")
    await wang.press("Amount not on the list")
    await wang.send("5000")
    await wang.send("Gold-plated pipe")
    replies = await sun.press("Reject")
    assert sun.texts(replies)[-1] == "Rejected; the engineer has been told."
    order = load(bot, number)
    assert order.status == "arrived" and order.quoted_fen is None
    assert (order.events[-1].action, order.events[-1].amount_fen) == ("quote_rejected", 500000)
    told = fake_tg.messages_to(WANG.id)[-1]
    assert "rejected" in told and "¥5000.00" in told
    replies = await wang.press("Quote on site")  # the fresh buttons work
    assert "choose the price-list item" in wang.texts(replies)[-1]
    assert not any("|qagree|" in str(m.get("reply_markup")) for m in fake_tg.sent(zhang.chat_id))
