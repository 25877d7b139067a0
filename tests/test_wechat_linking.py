"""One person, two channels: /link in one app gives a code, /link CODE in the other joins it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from store.models import Identity, Person
from tests.fake_telegram import FakeTelegram, TgUser
from tests.fake_wechat import WeChatOwner, wechat_owner
from tests.harness import Bot, FakeClock, Owner
from tests.test_repair import ORDER_NUMBER, quick_order, register

pytestmark = pytest.mark.parametrize("channel", ["wechat"])  # the bot serves both channels
CODE = re.compile(r"Your link code is (\d{6})\.")


@pytest.fixture
def tg_alice(fake_tg: FakeTelegram, bot: Bot) -> Owner:
    """Alice on Telegram (1-1-101, registry phone 13900001111)."""
    return Owner(fake_tg, bot, TgUser(id=5002, first_name="Alice", language_code="en"))


@pytest.fixture
def wx_alice(bot: Bot) -> WeChatOwner:
    """Alice's WeChat account (another openid, no link yet)."""
    return wechat_owner(bot, TgUser(id=6002, first_name="Alice"))


async def _code(owner: Owner) -> str:
    replies = await owner.send("/link")
    found = CODE.search("\n".join(owner.texts(replies)))
    assert found, owner.texts(replies)
    return found.group(1)


def _people(bot: Bot) -> dict[str, int]:
    """Identity "channel:external id" → person id."""
    with bot.services.db.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Identity.channel, Identity.external_id, Identity.person_id)
        )
        return {f"{c}:{e}": p for c, e, p in rows}


async def test_wechat_joins_the_telegram_account(tg_alice: Owner, wx_alice: WeChatOwner) -> None:
    """A new follower types the code: same person, same requests, Telegram is told."""
    await register(tg_alice)
    replies = await quick_order(tg_alice)
    number = ORDER_NUMBER.search(tg_alice.texts(replies)[0])
    assert number
    code = await _code(tg_alice)

    replies = await wx_alice.subscribe()
    assert "What is your name?" in wx_alice.texts(replies)[-1]  # registration offered ...
    replies = await wx_alice.send(f"/link {code}")  # ... but not needed
    texts = wx_alice.texts(replies)
    assert "this chat now uses the account of Alice Li" in texts[0]
    assert "What can I do for you?" in texts[-1]
    people = _people(tg_alice.bot)
    assert people["telegram:5002"] == people[f"wechat:{wx_alice.chat_id}"]
    assert any(
        "WeChat account was just joined" in t for t in tg_alice.texts(tg_alice.fake.sent(5002))
    )

    replies = await wx_alice.press("My requests")
    assert any(number.group(0) in label for label in wx_alice.buttons(replies[0]))


async def test_code_is_single_use_and_expires(
    tg_alice: Owner, wx_alice: WeChatOwner, bot: Bot, clock: FakeClock
) -> None:
    """A used code, a code past 10 minutes, or a malformed one changes nothing."""
    await register(tg_alice)
    code = await _code(tg_alice)
    await wx_alice.send(f"/link {code}")
    stranger = wechat_owner(bot, TgUser(id=6666, first_name="X"))
    replies = await stranger.send(f"/link {code}")
    assert "not valid or has expired" in stranger.texts(replies)[0]

    late = await _code(tg_alice)
    clock.advance(timedelta(minutes=11))
    replies = await stranger.send(f"/link {late}")
    assert "not valid or has expired" in stranger.texts(replies)[0]
    replies = await stranger.send("/link 12ab")
    assert "6 digits" in stranger.texts(replies)[0]
    assert f"wechat:{stranger.chat_id}" not in _people(bot)


async def test_code_from_the_same_app_is_refused(tg_alice: Owner) -> None:
    """The code must be typed in the other app."""
    await register(tg_alice)
    code = await _code(tg_alice)
    replies = await tg_alice.send(f"/link {code}")
    assert "from your other app" in tg_alice.texts(replies)[0]


async def test_owners_of_different_homes_are_not_merged(
    tg_alice: Owner, wx_alice: WeChatOwner, bot: Bot
) -> None:
    """Both accounts registered as owners of different homes: refused, nothing changes."""
    await register(tg_alice)
    await wx_alice.send("/start")
    await wx_alice.send("Zhang Wei")
    await wx_alice.send("3-2-1201")
    await wx_alice.send("13812345678")
    before = _people(bot)
    code = await _code(tg_alice)
    replies = await wx_alice.send(f"/link {code}")
    assert "registered for different homes" in wx_alice.texts(replies)[0]
    assert _people(bot) == before


async def test_bare_registration_of_the_same_home_is_merged(
    tg_alice: Owner, wx_alice: WeChatOwner, bot: Bot
) -> None:
    """The same owner registered twice (no requests on WeChat yet): one person remains."""
    await register(tg_alice)
    await wx_alice.send("/start")
    await wx_alice.send("Alice")
    await wx_alice.send("1-1-101")
    await wx_alice.send("13900001111")
    with bot.services.db.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Person)) == 2
    code = await _code(tg_alice)
    replies = await wx_alice.send(f"/link {code}")
    assert "now uses the account of Alice Li" in wx_alice.texts(replies)[0]
    people = _people(bot)
    assert people["telegram:5002"] == people[f"wechat:{wx_alice.chat_id}"]
    with bot.services.db.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Person)) == 1


async def test_account_with_requests_is_not_merged(
    tg_alice: Owner, wx_alice: WeChatOwner, bot: Bot
) -> None:
    """An account with its own requests is never re-attributed automatically."""
    await register(tg_alice)
    wx_alice.user = TgUser(id=5002, first_name="Alice")  # PROFILES: Alice's home and phone
    wx_alice.seen = len(wx_alice.view.sent(wx_alice.chat_id))
    await register(wx_alice)
    await quick_order(wx_alice)
    before = _people(bot)
    code = await _code(tg_alice)
    replies = await wx_alice.send(f"/link {code}")
    assert "records of its own" in wx_alice.texts(replies)[0]
    assert _people(bot) == before
