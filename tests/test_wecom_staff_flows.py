"""Staff on WeCom (issue 13), the rest of the Telegram staff transcripts: an off-list quote
approved by the supervisor (R5), the payment follow-up after the fifth reminder (R26) and the
arrears list with Mark paid (R10, R27), and card presses for another department refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from store.models import Bill, Order, Payment
from tests import test_wecom
from tests.fake_telegram import FakeTelegram, TgUser
from tests.fake_wecom import Card, WeComStaff
from tests.harness import FakeClock, Owner, sweep, told
from tests.test_jobs import submit_urgent_public_repair
from tests.test_payment_reminders import REMINDER
from tests.test_promises import said_to
from tests.test_quotes import on_site_order
from tests.test_repair import quick_order, register
from tests.test_wecom import Desk, _card_for, _key, _order

desk, fake_wc = test_wecom.desk, test_wecom.fake_wc  # its fixtures

ZHANG = TgUser(5001, "Zhang", "zh")
ALICE = TgUser(5002, "Alice", "en")


def _held(staff: WeComStaff, action: str) -> tuple[Card, str]:
    """The newest message to `staff` with a button for `action`: its card and the key."""
    for message in reversed(staff.received()):
        for _label, key in message["buttons"]:
            if f"|{action}|" in key:
                return message["card"], key
    raise AssertionError(f"{staff.userid} has no {action} button")


async def _do(staff: WeComStaff, action: str) -> list[dict[str, Any]]:
    """Press the newest button for `action` on the staff member's cards."""
    card, key = _held(staff, action)
    return await staff.press_key(card, key)


async def _claimed(desk: Desk, staff: WeComStaff, number: str) -> None:
    card = _card_for(desk.fake, staff.userid, number)
    await staff.press_key(card, _key(card, "claim"))
    assert _order(desk.bot, number).status == "claimed"


def _bill(desk: Desk, number: str) -> tuple[int, str, int, bool, list[tuple[int, str]]]:
    """paid, status, reminders sent, on the follow-up list, payments (amount, method)."""
    with desk.bot.services.db.unit_of_work() as uow:
        bill = uow.session.scalars(select(Bill).join(Order).where(Order.number == number)).one()
        pays = uow.session.scalars(select(Payment).where(Payment.bill_id == bill.id))
        return (
            bill.paid_fen,
            bill.status,
            bill.reminders_sent,
            bill.follow_up_since is not None,
            [(p.amount_fen, p.method) for p in pays],
        )


async def test_off_list_quote_approved_by_a_supervisor_on_wecom(
    fake_tg: FakeTelegram, desk: Desk, clock: FakeClock
) -> None:
    """R5 on WeCom: the engineer quotes an amount not on the list from the WeCom app; the
    engineering supervisor gets it as a card with Approve / Reject; approving sends the quote
    to the owner (on Telegram); the cleaning supervisor's forged press of it is refused; a
    second press is out of date; neither changes anything."""
    wang = await desk.join("wanggong", "engineer", "engineering", "王工")
    zhao = await desk.join("zhaozhuguan", "supervisor", "engineering", "赵主管")
    zhang = Owner(fake_tg, desk.bot, ZHANG)
    number = await on_site_order(zhang)
    await _claimed(desk, wang, number)
    await _do(wang, "depart")
    await _do(wang, "arrive")
    replies = await _do(wang, "quote")
    # more than a card's 6 buttons: numbered lines, answered by typing the number
    line = next(x for x in replies[-1]["text"].split("\n") if "标准外金额" in x)
    await wang.send(line.split()[1])
    await wang.send("350")
    replies = await wang.send("更换锈蚀的管段")
    assert any("350.00" in m["text"] and "主管" in m["text"] for m in replies), wang.texts()
    assert _order(desk.bot, number).status == "arrived"

    ma = await desk.join("mazhuguan", "supervisor", "cleaning", "马主管")
    card, approve = _held(zhao, "qok")
    assert not [m for m in ma.received() if number in m["text"]]  # not their department
    replies = await ma.press_key(card, approve)  # forged: refused, nothing changes
    assert ma.texts(replies) == ["抱歉，只有本部门主管可以审批报价。"]
    assert _order(desk.bot, number).status == "arrived"
    request = f"{card.title}\n{card.text}"
    assert "¥350.00" in request and "锈蚀" in request and "王工" in request, request
    assert any("|qno|" in key for _label, key in card.buttons)
    replies = await zhao.press_key(card, approve)
    assert replies and "350.00" in replies[-1]["text"], zhao.texts()
    order = _order(desk.bot, number)
    assert order.status == "quoted"
    assert any("350.00" in m["text"] for m in wang.received()[-2:])
    offer = told(zhang)[-1]
    assert "¥350.00" in offer and "锈蚀" in offer and number in offer

    clock.advance(timedelta(seconds=5))  # within one second it would be one press (update id)
    replies = await zhao.press_key(card, approve)  # a second press of the same card
    assert zhao.texts(replies) == ["这个按钮已失效，未做任何更改。"]
    assert _order(desk.bot, number).status == "quoted"


async def test_payment_follow_up_and_arrears_on_wecom(
    fake_tg: FakeTelegram, desk: Desk, clock: FakeClock
) -> None:
    """R26 on WeCom: a fee left unpaid by the WeCom engineer is reminded five times to the
    owner; then the agents on WeCom are asked to call (with the phone); the agent's Arrears
    list shows it marked 📞 without Mark paid; finance on WeCom marks it paid (R10, R27) and
    the owner gets the receipt; the old button again records nothing."""
    wang = await desk.join("wanggong", "engineer", "engineering", "王工")
    sun = await desk.join("sunkefu", "agent", None, "孙客服")
    xu = await desk.join("xucaiwu", "finance", None, "徐财务")
    zhang = Owner(fake_tg, desk.bot, ZHANG)
    await register(zhang)
    await quick_order(zhang)
    with desk.bot.services.db.unit_of_work() as uow:
        number = uow.session.scalars(select(Order.number).order_by(Order.id.desc())).first()
    assert number is not None
    await _claimed(desk, wang, number)
    await _do(wang, "arrive")
    await _do(wang, "complete")
    await _do(wang, "later")
    assert _bill(desk, number)[:4] == (0, "unpaid", 0, False)

    clock.advance(timedelta(hours=10, minutes=30))  # Monday 20:00
    await sweep(desk.bot)
    for _n in range(4):
        clock.advance(timedelta(days=3))
        await sweep(desk.bot)
    assert len(said_to(fake_tg, zhang.chat_id, REMINDER, number)) == 5
    assert not [m for m in sun.received() if number in m["text"]]
    clock.advance(timedelta(days=3))
    await sweep(desk.bot)
    asks = [m for m in sun.received() if number in m["text"] and "138 1234 5678" in m["text"]]
    assert len(asks) == 1, sun.texts(sun.received())
    assert _bill(desk, number)[2:4] == (5, True)
    assert not [m for m in xu.received() if number in m["text"]]  # agents only (R26)

    # the agent opens the arrears list from the follow-up: 📞, and no Mark paid for agents
    sun.seen = len(sun.received())
    replies = await _do(sun, "arrears")
    listing = [m for m in replies if f"📞 {number}" in m["text"]]
    assert len(listing) == 1 and not listing[0]["buttons"], replies

    # finance types the short command, presses Mark paid, then the method
    replies = await xu.send("/arrears")
    listing = [m for m in replies if number in m["text"]]
    assert len(listing) == 1 and "30.00" in listing[0]["text"], xu.texts()
    await _do(xu, "paybill")
    card, wechat_pay = next(
        (m["card"], key)
        for m in reversed(xu.received())
        for _label, key in m["buttons"]
        if "|paymethod|" in key and key.endswith(":wechat")
    )
    replies = await xu.press_key(card, wechat_pay)
    assert any("30.00" in m["text"] for m in replies), xu.texts()
    paid, status, _sent, _follow, pays = _bill(desk, number)
    assert (paid, status, pays) == (3000, "paid", [(3000, "wechat")])
    assert any("30.00" in t for t in told(zhang)[-2:])
    replies = await xu.send("/arrears")
    assert replies and number not in replies[-1]["text"]
    clock.advance(timedelta(seconds=5))  # within one second it would be one press (update id)
    replies = await xu.press_key(card, wechat_pay)  # the old button again
    assert xu.texts(replies) == ["该账单已结清，本次未做任何更改。"]
    assert _bill(desk, number)[4] == [(3000, "wechat")]


async def test_card_presses_for_another_department_are_refused(
    fake_tg: FakeTelegram, desk: Desk
) -> None:
    """Buttons are untrusted: a cleaner, a gardener and the cleaning supervisor pressing Claim
    or Assign of an engineering card (a card for a department they are not in, forged into
    their own app chat) are refused politely, get no owner details and change nothing."""
    wang = await desk.join("wanggong", "engineer", "engineering", "王工")
    chen = await desk.join("chenbaojie", "cleaner", "cleaning", "陈保洁")
    zhou = await desk.join("zhouyuanding", "gardener", "greening", "周园丁")
    ma = await desk.join("mazhuguan", "supervisor", "cleaning", "马主管")
    alice = Owner(fake_tg, desk.bot, ALICE)
    number = await submit_urgent_public_repair(alice)
    card = _card_for(desk.fake, wang.userid, number)
    claim, assign = _key(card, "claim"), _key(card, "assign")
    before = _order(desk.bot, number)

    for presser in (chen, zhou, ma):
        for key in (claim, assign):
            presser.seen = len(presser.received())
            replies = await presser.press_key(card, key)
            refusal = {
                claim: "抱歉，只有工程部的同事可以接这张工单。",
                assign: "抱歉，只有工程部主管或经理可以指派此工单。",
            }[key]
            assert presser.texts(replies) == [refusal], (presser.userid, key)
            assert all("139 0000 1111" not in m["text"] for m in replies)
    after = _order(desk.bot, number)
    assert (after.status, after.assignee_id, after.version) == (
        before.status,
        before.assignee_id,
        before.version,
    )
    assert not desk.fake.ok("message/update_template_card")
    # the card is still open to its department
    await wang.press_key(card, claim)
    assert _order(desk.bot, number).status == "claimed"
    others = chen.received() + zhou.received() + ma.received()
    assert not [m for m in others if "详细信息" in m["text"] or "|depart|" in str(m["buttons"])]
