"""Finance (R10, R27): the arrears list, paying in part or in full, receipts, refusals."""

from __future__ import annotations

from sqlalchemy import select

from store.finance import open_bill
from store.models import Bill, Order, Payment
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, Owner, staff_member, told
from tests.test_jobs import submit_urgent_public_repair
from tests.test_repair import both_channels


def _unpaid_bill(bot: Bot, number: str, fen: int) -> None:
    with bot.services.db.unit_of_work() as uow:
        order = uow.session.scalars(select(Order).where(Order.number == number)).one()
        open_bill(uow.session, order, fen, bot.services.clock())
        uow.commit()


def _bill(bot: Bot, number: str) -> tuple[int, str, list[tuple[int, str, int | None]]]:
    with bot.services.db.unit_of_work() as uow:
        bill = uow.session.scalars(select(Bill).join(Order).where(Order.number == number)).one()
        pays = [
            (p.amount_fen, p.method, p.recorded_by_id)
            for p in uow.session.scalars(select(Payment).where(Payment.bill_id == bill.id))
        ]
        return bill.paid_fen, bill.status, pays


@both_channels
async def test_mark_paid_from_the_arrears_list(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """Finance sees the bill with totals, marks it paid by WeChat; the owner gets a receipt."""
    number = await submit_urgent_public_repair(alice)
    _unpaid_bill(bot, number, 3000)
    fin = await staff_member(fake_tg, bot, TgUser(4601, "Finance Xu", "en"), "finance")
    replies = await fin.send("/arrears")
    text = fin.texts(replies)[-1]
    assert "Unpaid bills: 1, outstanding ¥30.00" in text and number in text
    await fin.press("Mark paid")
    replies = await fin.press("WeChat Pay")
    assert "Recorded ¥30.00" in fin.texts(replies)[-1]
    paid, status, pays = _bill(bot, number)
    assert (paid, status) == (3000, "paid") and pays[0][:2] == (3000, "wechat")
    assert pays[0][2] is not None  # who recorded it
    assert any("fully paid" in t for t in told(alice))
    assert "No unpaid bills" in fin.texts(await fin.send("/arrears"))[-1]
    # the old button again: nothing changes
    replies = await fin.press_again("WeChat Pay")
    assert fin.refused(replies, "already paid")  # on the button (issue 11.5)
    assert len(_bill(bot, number)[2]) == 1


@both_channels
async def test_partial_payment_and_bad_amounts(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """A partial payment leaves the rest outstanding; bad amounts record nothing."""
    number = await submit_urgent_public_repair(alice)
    _unpaid_bill(bot, number, 3000)
    fin = await staff_member(fake_tg, bot, TgUser(4602, "Finance Xu", "en"), "finance")
    replies = await fin.send(f"/paid {number} 10 cash")
    assert "Still outstanding: ¥20.00" in fin.texts(replies)[-1]
    assert any("Still to pay: ¥20.00" in t for t in told(alice))
    for bad in (
        f"/paid {number} 25 cash",
        f"/paid {number} -5 cash",
        f"/paid {number} abc cash",
        f"/paid {number} 0 cash",
        f"/paid {number} 5 bitcoin",
        "/paid R-19990101-0001 5 cash",
        "/paid",
        f"/paid {number} 999999999 cash",
    ):
        replies = await fin.send(bad)
        assert replies, bad
    assert _bill(bot, number)[:2] == (1000, "unpaid")
    replies = await fin.send(f"/paid {number} 20 alipay")
    assert "Still outstanding: ¥0.00" in fin.texts(replies)[-1]
    assert _bill(bot, number)[:2] == (3000, "paid")


@both_channels
async def test_only_finance_records_and_only_staff_see_arrears(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """Agents may look but not record; engineers and owners may do neither."""
    number = await submit_urgent_public_repair(alice)
    _unpaid_bill(bot, number, 3000)
    agent = await staff_member(fake_tg, bot, TgUser(4603, "Agent Liu", "en"), "agent")
    replies = await agent.send("/arrears")
    assert number in agent.texts(replies)[-1] and not agent.buttons(replies[-1])
    replies = await agent.send(f"/paid {number} 30 cash")
    assert "only finance staff" in agent.texts(replies)[-1]
    engineer = await staff_member(fake_tg, bot, TgUser(4604, "Wang", "en"), "engineer")
    assert "arrears list is for" in engineer.texts(await engineer.send("/arrears"))[-1]
    assert "arrears list is for" in alice.texts(await alice.send("/arrears"))[-1]
    assert "only finance staff" in alice.texts(await alice.send(f"/paid {number} 30 cash"))[-1]
    assert _bill(bot, number)[:2] == (0, "unpaid")
