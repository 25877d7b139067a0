"""The WeChat webhook: verification, plain and safe mode, passive replies, each security case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from store.models import OutboxMessage, ProcessedUpdate, WeChatFollower
from tests.fake_telegram import FakeTelegram
from tests.fake_wechat import (
    SERVER_TOKEN,
    FakeWeChat,
    WeChatPhone,
    WeChatSide,
    event_xml,
    signature,
    start_wechat,
    text_xml,
    wechat_settings,
)
from tests.harness import Bot, FakeClock, seed_examples, start_bot

OPENID = "oWx_webhook_test_user_0000001"


async def _running(
    fake_tg: FakeTelegram, fake_wx: FakeWeChat, db_url: str, clock: FakeClock, **extra: Any
) -> tuple[Bot, WeChatSide]:
    encrypted = extra.pop("encrypted", True)
    extra.setdefault("default_language", "en")
    bot = await start_bot(fake_tg, db_url, clock, **wechat_settings(fake_wx, encrypted, **extra))
    seed_examples(bot.services)
    return bot, await start_wechat(bot, fake_wx)


@pytest.fixture
async def safe(
    fake_tg: FakeTelegram, fake_wx: FakeWeChat, db_url: str, clock: FakeClock
) -> AsyncIterator[tuple[Bot, WeChatPhone]]:
    """The desk in safe mode (AES), and WeChat's side posting encrypted messages."""
    bot, side = await _running(fake_tg, fake_wx, db_url, clock)
    try:
        yield bot, WeChatPhone(side.url, clock, encrypted=True)
    finally:
        await side.stop()
        await bot.stop()


@pytest.fixture
async def plain(
    fake_tg: FakeTelegram, fake_wx: FakeWeChat, db_url: str, clock: FakeClock
) -> AsyncIterator[tuple[Bot, WeChatPhone]]:
    """The desk in plain mode (no EncodingAESKey)."""
    bot, side = await _running(fake_tg, fake_wx, db_url, clock, encrypted=False)
    try:
        yield bot, WeChatPhone(side.url, clock, encrypted=False)
    finally:
        await side.stop()
        await bot.stop()


def _count(bot: Bot, model: Any) -> int:
    with bot.services.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def test_url_verification_echoes_echostr(safe: tuple[Bot, WeChatPhone]) -> None:
    """GET with the right signature echoes echostr; a wrong one gets 403."""
    _, phone = safe
    stamp, nonce = str(phone.now()), "12345"
    good = {"signature": signature(SERVER_TOKEN, stamp, nonce), "timestamp": stamp}
    async with httpx.AsyncClient() as client:
        ok = await client.get(phone.url, params={**good, "nonce": nonce, "echostr": "e-42"})
        bad = await client.get(phone.url, params={**good, "nonce": "other", "echostr": "e-42"})
    assert (ok.status_code, ok.text) == (200, "e-42")
    assert bad.status_code == 403


async def test_plain_mode_passive_reply(plain: tuple[Bot, WeChatPhone]) -> None:
    """A plain-mode message is answered in the HTTP response, and not sent a second time."""
    bot, phone = plain
    status, reply = await phone.post(text_xml(OPENID, "/start", 1001, phone.now()))
    assert status == 200
    assert reply is not None and "What is your name?" in reply
    assert "Welcome to the property service desk" in reply
    with bot.services.db.unit_of_work() as uow:
        statuses = set(uow.session.scalars(select(OutboxMessage.status)))
    assert statuses == {"sent"}


async def test_safe_mode_encrypted_round_trip(
    safe: tuple[Bot, WeChatPhone], fake_wx: FakeWeChat
) -> None:
    """An AES message built by WeChatCrypto is decrypted, answered encrypted, nothing resent."""
    _bot, phone = safe
    status, reply = await phone.post(text_xml(OPENID, "/start", 1002, phone.now()))
    assert status == 200 and reply is not None and "What is your name?" in reply
    assert fake_wx.sent("custom/send") == []


async def test_plain_message_refused_in_safe_mode(safe: tuple[Bot, WeChatPhone]) -> None:
    """With an EncodingAESKey configured, unencrypted messages are refused."""
    bot, phone = safe
    plain = WeChatPhone(phone.url, phone.clock, encrypted=False)
    status, _ = await plain.post(text_xml(OPENID, "/start", 1003, phone.now()))
    assert status == 403
    assert _count(bot, ProcessedUpdate) == 0


async def test_bad_signature_is_403(safe: tuple[Bot, WeChatPhone]) -> None:
    """A wrong signature is refused before anything is read."""
    bot, phone = safe
    params, body = phone.request(text_xml(OPENID, "/start", 1004, phone.now()))
    params["signature"] = "0" * 40
    status, _ = await phone.post_raw(params, body)
    assert status == 403
    assert _count(bot, ProcessedUpdate) == 0


async def test_bad_message_signature_is_403(safe: tuple[Bot, WeChatPhone]) -> None:
    """In safe mode the encrypted body's msg_signature must match too."""
    bot, phone = safe
    params, body = phone.request(text_xml(OPENID, "/start", 1005, phone.now()))
    params["msg_signature"] = "f" * 40
    status, _ = await phone.post_raw(params, body)
    assert status == 403
    assert _count(bot, ProcessedUpdate) == 0


async def test_replayed_msgid_is_ignored(safe: tuple[Bot, WeChatPhone]) -> None:
    """The same MsgId again (a retry or a replay) is answered "success" and changes nothing."""
    bot, phone = safe
    xml = text_xml(OPENID, "/start", 1006, phone.now())
    _, first = await phone.post(xml)
    rows = _count(bot, OutboxMessage)
    status, again = await phone.post(xml)
    assert first is not None and status == 200 and again is None
    assert _count(bot, OutboxMessage) == rows
    assert _count(bot, ProcessedUpdate) == 1


@pytest.mark.parametrize("skew", [-330, 330])
async def test_timestamp_more_than_5_minutes_off_is_rejected(
    safe: tuple[Bot, WeChatPhone], skew: int
) -> None:
    """A correctly signed message stamped more than 5 minutes from now is refused."""
    bot, phone = safe
    at = phone.now() + skew
    status, _ = await phone.post(text_xml(OPENID, "/start", 1007, at), timestamp=at)
    assert status == 403
    assert _count(bot, ProcessedUpdate) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName>x</ToUserName><FromUserName>",
        b"not xml at all",
        b"<other><MsgType>text</MsgType></other>",
        b"\xff\xfe\x00garbage",
    ],
)
async def test_malformed_xml_is_400(plain: tuple[Bot, WeChatPhone], body: bytes) -> None:
    """Malformed or non-message XML gets 400, and the server keeps working."""
    _bot, phone = plain
    params, _ = phone.request("")
    status, _ = await phone.post_raw(params, body)
    assert status == 400
    status, reply = await phone.post(text_xml(OPENID, "/start", 1008, phone.now()))
    assert status == 200 and reply is not None


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName>"
    "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol2;</Content>"
    "<MsgId>1009</MsgId></xml>"
)


async def test_dtd_and_entities_are_rejected_plain(plain: tuple[Bot, WeChatPhone]) -> None:
    """A DTD with entities is refused before parsing, never expanded."""
    bot, phone = plain
    status, _ = await phone.post(BILLION_LAUGHS)
    assert status == 400
    assert _count(bot, ProcessedUpdate) == 0


async def test_dtd_inside_encrypted_message_is_rejected(safe: tuple[Bot, WeChatPhone]) -> None:
    """The decrypted message is checked the same way: entities inside AES are refused too."""
    bot, phone = safe
    status, _ = await phone.post(BILLION_LAUGHS)
    assert status == 400
    assert _count(bot, ProcessedUpdate) == 0


async def test_body_over_limit_is_413(safe: tuple[Bot, WeChatPhone]) -> None:
    """A body over PROPDESK_WECHAT_MAX_BODY is refused with 413."""
    bot, phone = safe
    params, _ = phone.request("")
    status, _ = await phone.post_raw(params, b"<xml>" + b"a" * 70_000 + b"</xml>")
    assert status == 413
    assert _count(bot, ProcessedUpdate) == 0


async def test_slow_answer_goes_out_by_customer_service_api(
    fake_tg: FakeTelegram, fake_wx: FakeWeChat, db_url: str, clock: FakeClock
) -> None:
    """When the handler misses the reply budget: "success" now, then message/custom/send."""
    bot, side = await _running(fake_tg, fake_wx, db_url, clock, wechat_reply_seconds=0.001)
    try:
        phone = WeChatPhone(side.url, clock)
        status, reply = await phone.post(text_xml(OPENID, "/start", 1010, phone.now()))
        assert status == 200 and reply is None
        from tests.harness import settle

        await settle(bot, "1010")
        texts = [c.body["text"]["content"] for c in fake_wx.sent("custom/send", OPENID)]
        assert any("What is your name?" in t for t in texts)
        assert all(c.query["access_token"] == "GIVEN-ACCESS-TOKEN" for c in fake_wx.calls)
    finally:
        await side.stop()
        await bot.stop()


async def test_subscribe_welcomes_and_unsubscribe_is_recorded(
    safe: tuple[Bot, WeChatPhone],
) -> None:
    """Following the account starts registration; unfollowing is recorded."""
    bot, phone = safe
    status, reply = await phone.post(event_xml(OPENID, "subscribe", phone.now()))
    assert status == 200 and reply is not None and "What is your name?" in reply
    status, reply = await phone.post(event_xml(OPENID, "unsubscribe", phone.now() + 1))
    assert status == 200 and reply is None
    with bot.services.db.unit_of_work() as uow:
        follower = uow.session.get(WeChatFollower, OPENID)
        assert follower is not None and not follower.subscribed
        assert follower.unsubscribed_at is not None


async def test_menu_number_and_words_choose_a_button(
    fake_tg: FakeTelegram, fake_wx: FakeWeChat, db_url: str, clock: FakeClock
) -> None:
    """Buttons are a numbered menu; "1" or the option's words press it, even after a restart."""
    bot, side = await _running(fake_tg, fake_wx, db_url, clock)
    phone = WeChatPhone(side.url, clock)
    try:
        now = phone.now()
        await phone.post(text_xml(OPENID, "/start", 1011, now))
        await phone.post(text_xml(OPENID, "Li Na", 1012, now))
        _, reply = await phone.post(text_xml(OPENID, "1-1-101", 1013, now))
        assert reply is not None and "mobile number" in reply
        assert reply.endswith("Wrong room?\n\nReply 1 for « Back")
        _, reply = await phone.post(text_xml(OPENID, "1", 1014, now))
        assert reply is not None and reply.startswith("Which home")
        # a new process: the menu is in the database, not in memory
        await side.stop()
        side = await start_wechat(bot, fake_wx)
        phone = WeChatPhone(side.url, clock)
        _, reply = await phone.post(text_xml(OPENID, "1-1-101", 1015, now))
        _, reply = await phone.post(text_xml(OPENID, "back", 1016, now))
        assert reply is not None and reply.startswith("Which home")
        _, reply = await phone.post(text_xml(OPENID, "7", 1017, now))  # not an option: text
        assert reply is not None and "could not find 7" in reply
    finally:
        await side.stop()
        await bot.stop()
