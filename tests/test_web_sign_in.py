"""One-time sign-in links to the web chat (issue 12.3): /web in Telegram or WeChat gives a
registered owner a link that signs one browser in, once, within 15 minutes on the desk's
clock, as the same person (the same requests); the session lives on the server and its
cookie is HttpOnly, SameSite and Secure over https. Forged, expired and reused links are
refused, and one owner's session cannot read or press another's messages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from store.models import Identity, Order, WebSession, WebSignIn
from store.web_sign_in import digest, revoke_sessions
from tests.fake_telegram import FakeTelegram, TgUser
from tests.fake_web import WebOwner, WebView, reserve_port, start_web, web_settings
from tests.fake_wechat import FakeWeChat, start_wechat, wechat_owner, wechat_settings
from tests.harness import Bot, FakeClock, Owner, seed_examples, staff_member, start_bot
from tests.test_repair import register, tap

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/web/chat)#signin=([A-Za-z0-9_-]+)")
HEADERS = {"X-Propdesk-Request": "1"}


@pytest.fixture
async def desk(
    fake_tg: FakeTelegram, fake_wx: FakeWeChat, db_url: str, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Bot]:
    """Owners on Telegram and WeChat; the web chat served and configured at a public URL."""
    sock = reserve_port()
    extra = {**wechat_settings(fake_wx, default_language="zh"), **web_settings(tmp_path, sock)}
    bot = await start_bot(fake_tg, db_url, clock, **extra)
    seed_examples(bot.services)
    bot.wechat = await start_wechat(bot, fake_wx)
    bot.web = await start_web(bot, sock)
    try:
        yield bot
    finally:
        await bot.web.stop()
        await bot.wechat.stop()
        await bot.stop()


def zhang_on_telegram(fake_tg: FakeTelegram, bot: Bot) -> Owner:
    """张伟 of 3-2-1201 on Telegram, in Chinese."""
    return Owner(fake_tg, bot, TgUser(id=5001, first_name="伟", language_code="zh-hans"))


async def link_for(owner: Owner) -> tuple[str, str]:
    """Send /web; the link's page and token."""
    replies = await owner.send("/web")
    found = LINK.search(owner.texts(replies)[-1])
    assert found is not None, owner.texts(replies)
    return found.group(1), found.group(2)


async def sign_in(client: httpx.AsyncClient, token: str, **headers: str) -> httpx.Response:
    """What the page's script does with the token after '#signin='."""
    return await client.post("/web/sign-in", json={"token": token}, headers=HEADERS | headers)


def browser(bot: Bot, client: httpx.AsyncClient, user_id: int) -> WebOwner:
    """A signed-in browser as a transcript owner."""
    user = TgUser(id=user_id, first_name="web", language_code="zh-hans")
    with bot.services.db.unit_of_work() as uow:
        token = digest(session_cookie(client))
        web_id = uow.session.scalar(select(WebSession.web_id).where(WebSession.token_hash == token))
    return WebOwner(WebView(bot), bot, user, client=client, web_id=web_id)


def session_cookie(client: httpx.AsyncClient) -> str:
    """The session token the browser holds."""
    return client.cookies.get("propdesk_web") or ""


async def test_a_telegram_owner_signs_in_on_the_web_as_the_same_person(
    fake_tg: FakeTelegram, desk: Bot
) -> None:
    """R1: /web gives a one-time link; redeeming it makes a server-side session (HttpOnly,
    SameSite=Lax cookie, no plain token in the database) for a web identity of the same
    person; the web chat greets them by name and shows the order filed on Telegram; the
    Telegram chat is told a browser signed in."""
    zhang = zhang_on_telegram(fake_tg, desk)
    await register(zhang)
    await tap(zhang, "repair")
    await tap(zhang, "where", "public")
    await tap(zhang, "cat", "electrical")
    await zhang.send("楼道灯不亮了")
    await tap(zhang, "photos_done")
    await tap(zhang, "when", "now")
    await tap(zhang, "phone", "mine")
    filed = await tap(zhang, "submit")
    number = re.search(r"R-20261123-\d{4}", zhang.texts(filed)[0])
    assert number is not None

    page, token = await link_for(zhang)
    assert page == desk.services.settings.web_chat_url
    assert "15 分钟内有效" in zhang.texts(zhang.last)[-1]
    async with httpx.AsyncClient(base_url=desk.web.base_url, timeout=30) as client:
        assert (await client.get("/web/events", params={"chat": "me"})).status_code == 401
        assert (await client.get("/web/chat")).status_code == 200  # the page, before its script
        answer = await sign_in(client, token)
        assert answer.status_code == 200, answer.text
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        assert "secure" not in cookie  # plain http, PROPDESK_WEB_CHAT_SECURE_COOKIE=false
        secret = session_cookie(client)
        with desk.services.db.unit_of_work() as uow:
            (row,) = uow.session.scalars(select(WebSession)).all()
            assert row.token_hash == digest(secret) and secret not in {row.token_hash, row.web_id}
            people = {
                i.channel: i.person_id for i in uow.session.scalars(select(Identity)).all()
            }
            assert people["web"] == people["telegram"]
            assert row.web_id in {i.external_id for i in uow.session.scalars(select(Identity))}

        web = browser(desk, client, 5001)
        greeting = await web.replies()
        assert "您已以 张伟 的身份登录" in greeting[0]["text"], web.texts(greeting)
        await web.press("菜单")
        listed = await tap(web, "requests")
        labels = [label for message in listed for label in web.buttons(message)]
        assert any(number.group(0) in label for label in labels), labels

    assert any("刚刚有一个浏览器以您的身份登录了网页客服" in t for t in fake_tg.messages_to(5001))


async def test_reused_expired_forged_and_superseded_links_are_refused(
    fake_tg: FakeTelegram, desk: Bot, clock: FakeClock
) -> None:
    """A link works once; it expires 15 minutes later on the desk's clock; a forged or
    malformed token, a link superseded by a newer /web, and a post without the page's header
    are refused with a polite line, and no session is made."""
    zhang = zhang_on_telegram(fake_tg, desk)
    await register(zhang)
    _, first = await link_for(zhang)
    _, second = await link_for(zhang)  # the newer link replaces the first
    async with httpx.AsyncClient(base_url=desk.web.base_url, timeout=30) as client:
        refused = await sign_in(client, first)
        assert refused.status_code == 401
        assert "登录链接无效" in refused.json()["error"]
        no_header = await client.post("/web/sign-in", json={"token": second})
        assert no_header.status_code == 403  # another site's form cannot use it up
        for forged in ("A" * 43, second[:-1] + ("A" if second[-1] != "A" else "B"), "x", ""):
            assert (await sign_in(client, forged)).status_code == 401
        assert (await sign_in(client, second, **{"X-Propdesk-Language": "en"})).status_code == 200
        again = await sign_in(client, second, **{"X-Propdesk-Language": "en"})
        assert again.status_code == 401 and "expired or was used" in again.json()["error"]

        _, third = await link_for(zhang)
        clock.advance(timedelta(minutes=15))
        late = await sign_in(client, third)
        assert late.status_code == 401
    with desk.services.db.unit_of_work() as uow:
        assert len(uow.session.scalars(select(WebSession)).all()) == 1
        used = uow.session.scalars(select(WebSignIn).where(WebSignIn.used_at.is_not(None))).all()
        assert len(used) == 1


async def test_a_session_ends_when_revoked_or_expired(
    fake_tg: FakeTelegram, desk: Bot, clock: FakeClock
) -> None:
    """No cookie, a revoked session and one past its 30 days get 401 and the line that says
    to send /web again (not "reload", which would not help); the chat page mints no new
    account over a signed-in cookie."""
    zhang = zhang_on_telegram(fake_tg, desk)
    await register(zhang)
    async with httpx.AsyncClient(base_url=desk.web.base_url, timeout=30) as client:
        _, token = await link_for(zhang)
        assert (await sign_in(client, token)).status_code == 200
        secret = session_cookie(client)
        web = browser(desk, client, 5001)
        await web.replies()
        with desk.services.db.unit_of_work() as uow:
            (row,) = uow.session.scalars(select(WebSession)).all()
            assert revoke_sessions(uow.session, row.web_id, clock()) == 1
            uow.commit()
        ended = await client.get("/web/events", params={"chat": "me"})
        assert ended.status_code == 401 and "/web" in ended.json()["error"]
        sent = await client.post(
            "/web/send", json={"chat": "me", "nonce": "n-00000001", "text": "hi"}, headers=HEADERS
        )
        assert sent.status_code == 401
        page = await client.get("/web/chat")
        assert page.status_code == 200 and "set-cookie" not in page.headers
        assert session_cookie(client) == secret

        _, token = await link_for(zhang)
        assert (await sign_in(client, token)).status_code == 200
        await web.replies()  # signed in again
        clock.advance(timedelta(days=30))
        expired = await client.post(
            "/web/send", json={"chat": "me", "nonce": "n-00000002", "text": "hi"}, headers=HEADERS
        )
        assert expired.status_code == 401


async def test_one_owners_session_cannot_read_or_press_anothers_messages(
    fake_tg: FakeTelegram, desk: Bot
) -> None:
    """Two owners signed in from two browsers: neither can read the other's chat (403), post
    in it (403) or press a button shown to the other (409); nothing is handled."""
    zhang = zhang_on_telegram(fake_tg, desk)
    alice = Owner(fake_tg, desk, TgUser(id=5002, first_name="Alice", language_code="en"))
    await register(zhang)
    await register(alice)
    async with (
        httpx.AsyncClient(base_url=desk.web.base_url, timeout=30) as one,
        httpx.AsyncClient(base_url=desk.web.base_url, timeout=30) as two,
    ):
        assert (await sign_in(one, (await link_for(zhang))[1])).status_code == 200
        assert (await sign_in(two, (await link_for(alice))[1])).status_code == 200
        zhang_web, alice_web = browser(desk, one, 5001), browser(desk, two, 5002)
        await zhang_web.replies()
        await alice_web.replies()
        with desk.services.db.unit_of_work() as uow:
            ids = dict(
                uow.session.execute(
                    select(WebSession.token_hash, WebSession.web_id)
                ).all()
            )
        zhang_id = ids[digest(session_cookie(one))]
        assert zhang_id != ids[digest(session_cookie(two))]

        read = await two.get("/web/events", params={"chat": zhang_id})
        assert read.status_code == 403
        posted = await two.post(
            "/web/send", json={"chat": zhang_id, "nonce": "n-00000003", "text": "hi"},
            headers=HEADERS,
        )
        assert posted.status_code == 403
        message, data = zhang_web.find_button("菜单")
        pressed = await two.post(
            "/web/send",
            json={"chat": "me", "nonce": "n-00000004", "button": data,
                  "message": message["message_id"]},
            headers=HEADERS,
        )
        assert pressed.status_code == 409
        wanted = [{"pane": "me", "token": "S" + "x" * 43, "chat": "me"}]  # a guessed session
        streamed = await two.post("/web/stream", json=wanted, headers=HEADERS)
        assert streamed.status_code == 401
    with desk.services.db.unit_of_work() as uow:
        assert len(uow.session.scalars(select(Order)).all()) == 0


async def test_web_from_wechat_and_the_polite_refusals(
    fake_tg: FakeTelegram, desk: Bot, fake_wx: FakeWeChat
) -> None:
    """/web works from WeChat too; an unregistered person is asked to register first; in the
    web chat itself /web says you are already there."""
    stranger = Owner(fake_tg, desk, TgUser(id=5009, first_name="Zhao", language_code="en"))
    assert stranger.texts(await stranger.send("/web")) == [
        "Please register first (send /start); then send /web for a link to the web chat."
    ]
    wx = wechat_owner(desk, TgUser(id=5001, first_name="伟", language_code="zh-hans"))
    await register(wx)
    _, token = await link_for(wx)
    async with httpx.AsyncClient(base_url=desk.web.base_url, timeout=30) as client:
        assert (await sign_in(client, token)).status_code == 200
        web = browser(desk, client, 5001)
        await web.replies()
        assert web.texts(await web.send("/web")) == ["您已经在网页客服中了。"]
    with desk.services.db.unit_of_work() as uow:
        people = {i.channel: i.person_id for i in uow.session.scalars(select(Identity)).all()}
        assert people["web"] == people["wechat"]


async def test_web_chat_not_configured(fake_tg: FakeTelegram, bot: Bot) -> None:
    """Without a web chat (no PROPDESK_WEB_CHAT_URL) /web says so politely and makes no link."""
    zhang = zhang_on_telegram(fake_tg, bot)
    await register(zhang)
    replies = await zhang.send("/web")
    assert zhang.texts(replies) == [
        "网页客服暂未开通。请继续使用这个对话，所有功能在这里都可以使用。"
    ]
    with bot.services.db.unit_of_work() as uow:
        assert uow.session.scalars(select(WebSignIn)).all() == []


async def test_staff_without_a_home_and_rejected_owners_get_no_link(
    fake_tg: FakeTelegram, desk: Bot
) -> None:
    """The web chat is for owners: an engineer with no home of their own, and an owner whose
    registration staff rejected, are told so and no link is made."""
    engineer = await staff_member(
        fake_tg, desk, TgUser(4701, "Engineer Wu", "en"), "engineer", "engineering"
    )
    agent = await staff_member(fake_tg, desk, TgUser(4702, "Agent Liu", "en"), "agent")
    lu = Owner(fake_tg, desk, TgUser(id=5003, first_name="Lu", language_code="en"))
    await lu.send("/start")
    await lu.send("Lu Tao")
    await lu.send("3-1-101")
    await lu.send("13900009999")  # not the number on file: staff decide
    await agent.press("Reject")
    refusal = "The web chat is for registered owners."
    for someone in (engineer, lu):
        replies = await someone.send("/web")
        assert any(refusal in t for t in someone.texts(replies)), someone.texts(replies)
    with desk.services.db.unit_of_work() as uow:
        assert uow.session.scalars(select(WebSignIn)).all() == []
