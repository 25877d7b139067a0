"""WeChat delivery: customer-service messages in the 48-hour window, templates outside it,
error handling, and one access token shared by every worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.bootstrap import Services, bootstrap
from bot.config import Settings
from bot.outbox import Delivered, RetryLater, Undeliverable
from bot.wechat.api import WeChatApi
from bot.wechat.delivery import WeChatDelivery
from bot.wechat.token import TokenKeeper
from handlers.messages import Button, Outbound
from store import wechat as store
from store.db import Database
from store.models import WeChatToken
from tests.fake_wechat import APP_ID, APP_SECRET, GIVEN_TOKEN, FakeWeChat, wechat_settings
from tests.harness import MONDAY_MORNING, FakeClock

OPENID = "oWx_delivery_test_user_00001"


@pytest.fixture
def services(fake_wx: FakeWeChat, db_url: str) -> Iterator[Services]:
    """A migrated database and settings for the WeChat channel."""
    values: dict[str, Any] = wechat_settings(fake_wx, default_language="en")
    settings = Settings(_env_file=None, database_url=db_url, **values)  # type: ignore[call-arg]
    running = bootstrap(settings, clock=FakeClock(MONDAY_MORNING))
    try:
        yield running
    finally:
        running.close()


def _delivery(
    services: Services, fake_wx: FakeWeChat, fixed: str = GIVEN_TOKEN, templates: Any = None
) -> tuple[WeChatDelivery, WeChatApi]:
    api = WeChatApi(fake_wx.base_url)
    tokens = TokenKeeper(services.db, api, services.clock, APP_ID, APP_SECRET, fixed=fixed)
    delivery = WeChatDelivery(
        services.db,
        api,
        tokens,
        services.clock,
        templates={"notice": "TPL-NOTICE"} if templates is None else templates,
        default_language="en",
        timezone=ZoneInfo("Asia/Shanghai"),
    )
    return delivery, api


@pytest.fixture
async def delivery(services: Services, fake_wx: FakeWeChat) -> AsyncIterator[WeChatDelivery]:
    """A delivery with the given access token and a "notice" template."""
    sender, api = _delivery(services, fake_wx)
    try:
        yield sender
    finally:
        await api.close()


def _last_message(services: Services, ago: timedelta) -> None:
    with services.db.unit_of_work() as uow:
        store.record_inbound(uow.session, OPENID, services.clock() - ago)
        uow.commit()


QUOTE = Outbound(
    OPENID,
    "Replace tap: ¥30.00. Do you agree?",
    [[Button("✅ Agree", "1|quote|agree"), Button("❌ Decline", "1|quote|decline")]],
)


async def test_inside_the_window_a_customer_service_message(
    services: Services, fake_wx: FakeWeChat, delivery: WeChatDelivery
) -> None:
    """Within 48 h of the owner's last message: message/custom/send, buttons numbered."""
    _last_message(services, timedelta(hours=47))
    assert await delivery.deliver(QUOTE) == Delivered(None)
    (call,) = fake_wx.sent("custom/send", OPENID)
    assert call.body["text"]["content"] == (
        "Replace tap: ¥30.00. Do you agree?\n\nReply 1 for ✅ Agree\nReply 2 for ❌ Decline"
    )
    assert call.query["access_token"] == GIVEN_TOKEN
    with services.db.unit_of_work() as uow:
        assert store.menu_of(uow.session, OPENID) == [
            ("✅ Agree", "1|quote|agree"),
            ("❌ Decline", "1|quote|decline"),
        ]


async def test_outside_the_window_a_template_message(
    services: Services, fake_wx: FakeWeChat, delivery: WeChatDelivery
) -> None:
    """After 48 h (reminders, callbacks, status changes): message/template/send."""
    _last_message(services, timedelta(hours=49))
    result = await delivery.deliver(QUOTE)
    assert isinstance(result, Delivered) and result.external_id
    assert fake_wx.sent("custom/send") == []
    (call,) = fake_wx.sent("template/send", OPENID)
    assert call.body["template_id"] == "TPL-NOTICE"
    assert call.body["data"]["first"]["value"].startswith("Replace tap: ¥30.00.")
    assert call.body["data"]["keyword1"]["value"] == "2026-11-23 09:30"


async def test_never_wrote_means_template(fake_wx: FakeWeChat, delivery: WeChatDelivery) -> None:
    """A person who never wrote (only linked) has no open window."""
    await delivery.deliver(Outbound(OPENID, "Your request R-20261123-0001 is done."))
    assert len(fake_wx.sent("template/send", OPENID)) == 1


@pytest.mark.parametrize("errcode", [45015, 45047])
async def test_window_refusal_falls_back_to_template(
    services: Services, fake_wx: FakeWeChat, delivery: WeChatDelivery, errcode: int
) -> None:
    """WeChat says the window is closed (45015) or too many unanswered messages (45047)."""
    _last_message(services, timedelta(hours=1))
    fake_wx.fail("custom/send", errcode)
    assert isinstance(await delivery.deliver(QUOTE), Delivered)
    assert len(fake_wx.sent("template/send", OPENID)) == 1


async def test_no_template_for_the_kind_is_undeliverable(
    services: Services, fake_wx: FakeWeChat
) -> None:
    """Outside the window without a configured template: failed, with the setting named."""
    sender, api = _delivery(services, fake_wx, templates={})
    try:
        result = await sender.deliver(QUOTE)
    finally:
        await api.close()
    assert isinstance(result, Undeliverable)
    assert "PROPDESK_WECHAT_TEMPLATES" in result.error


@pytest.mark.parametrize(
    ("errcode", "kind"), [(43004, Undeliverable), (-1, RetryLater), (45009, RetryLater)]
)
async def test_errors_are_classified(
    services: Services, fake_wx: FakeWeChat, delivery: WeChatDelivery, errcode: int, kind: type
) -> None:
    """Unsubscribed → failed for good; system busy or limits → retried later."""
    _last_message(services, timedelta(hours=1))
    fake_wx.fail("custom/send", errcode)
    assert isinstance(await delivery.deliver(QUOTE), kind)


async def test_photo_goes_as_image_message(
    services: Services, fake_wx: FakeWeChat, delivery: WeChatDelivery
) -> None:
    """A photo is sent by its MediaId after the caption text."""
    _last_message(services, timedelta(hours=1))
    await delivery.deliver(Outbound(OPENID, "Photo 1 of R-1", photo="MEDIA-1"))
    kinds = [c.body["msgtype"] for c in fake_wx.sent("custom/send", OPENID)]
    assert kinds == ["text", "image"]
    assert fake_wx.sent("custom/send", OPENID)[1].body["image"] == {"media_id": "MEDIA-1"}


async def test_refused_token_is_refreshed_once(services: Services, fake_wx: FakeWeChat) -> None:
    """Without a given token the desk fetches one, stores it, and fetches anew on 42001."""
    sender, api = _delivery(services, fake_wx, fixed="")
    try:
        _last_message(services, timedelta(hours=1))
        assert isinstance(await sender.deliver(QUOTE), Delivered)
        assert fake_wx.token_fetches == 1
        assert isinstance(await sender.deliver(QUOTE), Delivered)
        assert fake_wx.token_fetches == 1  # the stored token is reused
        fake_wx.expire("TOKEN-1")
        assert isinstance(await sender.deliver(QUOTE), Delivered)
        assert fake_wx.token_fetches == 2
        tokens = [c.query["access_token"] for c in fake_wx.sent("custom/send")]
        assert tokens == ["TOKEN-1", "TOKEN-1", "TOKEN-2"]
    finally:
        await api.close()
    with services.db.unit_of_work() as uow:
        row = uow.session.get(WeChatToken, APP_ID)
        assert row is not None and row.access_token == "TOKEN-2"


async def test_workers_share_one_token(
    services: Services, fake_wx: FakeWeChat, db_url: str
) -> None:
    """Four workers (own connections) asking at once: one fetch, the same token for all."""
    fake_wx.token_delay = 0.3
    dbs = [Database(db_url, services.clock) for _ in range(4)]
    api = WeChatApi(fake_wx.base_url)
    try:
        keepers = [TokenKeeper(db, api, services.clock, APP_ID, APP_SECRET) for db in dbs]
        tokens = await asyncio.gather(*(k.token() for k in keepers))
    finally:
        await api.close()
        for db in dbs:
            db.dispose()
    assert tokens == ["TOKEN-1"] * 4
    assert fake_wx.token_fetches == 1


async def test_expired_stored_token_is_refreshed(services: Services, fake_wx: FakeWeChat) -> None:
    """A token close to its expiry (5 minutes) is replaced before use."""
    api = WeChatApi(fake_wx.base_url)
    clock = services.clock
    keeper = TokenKeeper(services.db, api, clock, APP_ID, APP_SECRET)
    try:
        assert await keeper.token() == "TOKEN-1"
        assert isinstance(clock, FakeClock)
        clock.advance(timedelta(seconds=7200 - 200))
        assert await keeper.token() == "TOKEN-2"
    finally:
        await api.close()


async def test_template_per_kind_of_message(services: Services, fake_wx: FakeWeChat) -> None:
    """Sign-off requests use their own template; anything else the "notice" one."""
    templates = {"notice": "TPL-NOTICE", "signoff": "TPL-SIGNOFF", "visit": "TPL-VISIT"}
    sender, api = _delivery(services, fake_wx, templates=templates)
    signoff = Outbound(
        OPENID,
        "The engineer says R-20261123-0001 is done. Is it fixed?",
        [[Button("✅ Accept", "o3|accept|1"), Button("❌ Not fixed", "o3|reject|1")]],
    )
    reminder = Outbound(OPENID, "A friendly reminder: ¥30.00 for R-20261123-0001 is unpaid.")
    callback = Outbound(OPENID, "How was the repair?", [[Button("满意", "c0|cbans|4-good")]])
    try:
        for message in (signoff, reminder, callback):
            assert isinstance(await sender.deliver(message), Delivered)
    finally:
        await api.close()
    used = [c.body["template_id"] for c in fake_wx.sent("template/send", OPENID)]
    assert used == ["TPL-SIGNOFF", "TPL-NOTICE", "TPL-NOTICE"]  # no "callback" template: notice
