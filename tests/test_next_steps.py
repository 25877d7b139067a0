"""Owners are told what happens next (issue 11.9): who calls after a poor rating and by when
(R22), how and where to pay a fee left unpaid (R10, R27); payments and receipts are lines of
the order's history (R50) in My requests and in `propdesk order show`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, FakeClock, Owner, staff_member, told
from tests.test_engineer import WANG, claimed_by, load_number, state
from tests.test_repair import both_channels, quick_order, register


async def _done_unpaid(fake_tg: FakeTelegram, bot: Bot, zhang: Owner) -> str:
    """A list-price repair finished with the fee left unpaid; the owner's done message read."""
    await register(zhang)
    await quick_order(zhang)
    number = load_number(bot)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    await wang.press("Arrived")
    await wang.press("Done")
    await wang.press("Owner pays later")
    return number


@both_channels
async def test_owner_pays_later_is_told_amount_ways_and_where(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """R10, R27: the done message says the amount, the ways to pay and where."""
    number = await _done_unpaid(fake_tg, bot, zhang)
    done = told(zhang)[-1]
    assert "¥30.00" in done and "欠费" in done
    assert "物业服务中心" in done and "微信支付" in done and "支付宝" in done
    assert "银行转账" in done and number in done


@both_channels
async def test_poor_rating_says_who_calls_and_by_when(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """R22: after 不满意 the owner hears that customer service will call, on which number, and
    by when (an hour from now in the callback hours: 09:30 + 1 h)."""
    await _done_unpaid(fake_tg, bot, zhang)
    await zhang.press("验收通过")
    replies = await zhang.press("不满意")
    texts = zhang.texts(replies)
    promise = next(t for t in texts if "致电" in t)
    assert "客服" in promise and "138 1234 5678" in promise
    assert "10:3" in promise or "10:4" in promise  # the clock flows a few seconds per step
    assert "补充" in texts[-1]  # then the comment, as before


@both_channels
async def test_an_average_rating_late_in_the_day_promises_the_next_morning(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner, clock: FakeClock
) -> None:
    """R22 at 21:30: nobody calls at night, so the promise is the next morning, 10:00."""
    await _done_unpaid(fake_tg, bot, zhang)
    clock.advance(timedelta(hours=12))
    await zhang.press("验收通过")
    replies = await zhang.press("一般")
    promise = next(t for t in zhang.texts(replies) if "致电" in t)
    assert "11月24日" in promise and "10:00" in promise


@both_channels
async def test_payments_and_receipts_are_in_the_history(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner, db_url: str, monkeypatch: Any,
    tmp_path: Any, capsys: Any,
) -> None:
    """R50: a part payment and the rest, each with its receipt, in My requests and order show;
    recording money does not make the owner's sign-off buttons stale."""
    number = await _done_unpaid(fake_tg, bot, zhang)
    version = state(bot, number)[1]
    fin = await staff_member(fake_tg, bot, TgUser(4701, "Finance Xu", "en"), "finance")
    await fin.send(f"/paid {number} 10 wechat")
    await fin.send(f"/paid {number} 20 cash")
    _status, after, actions = state(bot, number)
    assert after == version  # the owner's Accept / Not fixed stay valid
    assert actions[-4:] == ["payment", "receipt", "payment", "receipt"]
    assert any("全部结清" in t for t in told(zhang))
    await zhang.press("验收通过")  # still valid after the payments
    assert state(bot, number)[0] == "accepted"

    await zhang.send("/requests")
    detail = zhang.texts(await zhang.press(number))[-1]
    assert "已收款 ¥10.00（微信支付）" in detail or "已收款 ¥10.00 (微信支付)" in detail
    assert "已收款 ¥20.00" in detail and detail.count("已向业主发送收据") == 2

    from bot.cli import EXIT_OK, main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROPDESK_DATABASE_URL", db_url)
    capsys.readouterr()
    assert main(["order", "show", number]) == EXIT_OK
    out = capsys.readouterr().out
    assert "Finance Xu" in out and "payment 10.00 yuan wechat" in out
    assert "payment 20.00 yuan cash" in out and out.count("receipt") == 2

