"""Staff on WeCom (企业微信, issue 13): join with an invitation, job cards as interactive
template cards to the department, the first Claim wins (R6) and every copy of the card is
updated in place, the claimer gets the owner's details privately; the callback URL's security."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from store.models import Identity, Order, OrderEvent, Person, PersonRole, ProcessedUpdate
from store.staff import create_invite
from tests.fake_telegram import FakeTelegram, TgUser
from tests.fake_wecom import (
    AES_KEY,
    CALLBACK_TOKEN,
    CORP_ID,
    Card,
    FakeWeCom,
    WeComPhone,
    WeComSide,
    WeComStaff,
    start_wecom,
    text_xml,
    wecom_settings,
)
from tests.harness import Bot, FakeClock, Owner, seed_examples, settle, start_bot
from tests.test_cli import env_db  # noqa: F401
from tests.test_jobs import submit_urgent_public_repair


@dataclass
class Desk:
    """A running bot whose staff work in WeCom."""

    bot: Bot
    side: WeComSide

    @property
    def fake(self) -> FakeWeCom:
        """The fake WeCom API."""
        return self.side.fake

    async def join(self, userid: str, role: str, department: str | None, name: str) -> WeComStaff:
        """A WeCom user who sent a fresh invitation code to the app."""
        services = self.bot.services
        with services.db.unit_of_work() as uow:
            code = create_invite(uow.session, role, department, services.clock(), name=name).code
            uow.commit()
        staff = WeComStaff(self.bot, self.side, userid)
        await staff.send(f"/start {code}")
        return staff


@pytest.fixture
def fake_wc() -> Iterator[FakeWeCom]:
    """A fake WeCom API server on 127.0.0.1."""
    with FakeWeCom() as fake:
        yield fake


@pytest.fixture
async def desk(
    fake_tg: FakeTelegram, fake_wc: FakeWeCom, db_url: str, clock: FakeClock
) -> AsyncIterator[Desk]:
    """Owners on Telegram, staff on WeCom (PROPDESK_STAFF_CHANNEL=wecom), a group robot."""
    bot = await start_bot(
        fake_tg, db_url, clock, **wecom_settings(fake_wc, wecom_robot_url=fake_wc.robot_url)
    )
    seed_examples(bot.services)
    side = await start_wecom(bot, fake_wc)
    try:
        yield Desk(bot, side)
    finally:
        await side.stop()
        await bot.stop()


def _card_for(fake: FakeWeCom, userid: str, number: str) -> Card:
    cards = [c for c in fake.cards_of(userid) if number in c.title + c.text]
    assert cards, f"{userid} got no card for {number}"
    return cards[-1]


def _key(card: Card, action: str) -> str:
    keys = [key for _text, key in card.buttons if f"|{action}|" in key]
    assert keys, card.buttons
    return keys[0]


def _order(bot: Bot, number: str) -> Order:
    with bot.services.db.unit_of_work() as uow:
        order = uow.session.scalars(select(Order).where(Order.number == number)).one()
        uow.session.expunge(order)
        return order


async def test_invitation_makes_a_wecom_user_staff(desk: Desk) -> None:
    """The same invitation codes work in the WeCom app; the userid becomes an identity of a
    staff person (channel "wecom") with the invitation's role, name and the desk's language."""
    wang = await desk.join("wanggong", "engineer", "engineering", "王工")
    assert (
        wang.texts() == ["欢迎加入，王工！您已登记为工程师（工程部）。"]
        or "王工" in wang.texts()[0]
    )
    with desk.bot.services.db.unit_of_work() as uow:
        identity = uow.session.scalars(
            select(Identity).where(Identity.channel == "wecom", Identity.external_id == "wanggong")
        ).one()
        person = uow.session.get(Person, identity.person_id)
        assert person is not None and person.name == "王工" and person.language == "zh"
        roles = uow.session.execute(
            select(PersonRole.role, PersonRole.department).where(PersonRole.person_id == person.id)
        ).all()
        assert roles == [("engineer", "engineering")]

    # a used or unknown code changes nothing and says so
    stranger = WeComStaff(desk.bot, desk.side, "stranger")
    replies = await stranger.send("/start " + "x" * 24)  # shaped like a code, unknown
    assert "无效" in replies[0]["text"] or "not valid" in replies[0]["text"]
    with desk.bot.services.db.unit_of_work() as uow:
        assert not uow.session.scalar(
            select(func.count())
            .select_from(PersonRole)
            .join(Identity, Identity.person_id == PersonRole.person_id)
            .where(Identity.external_id == "stranger")
        )


async def test_two_claims_first_wins_every_card_updated(fake_tg: FakeTelegram, desk: Desk) -> None:
    """R6 on WeCom: an owner on Telegram files a repair; the card reaches the engineering
    department's WeCom staff (not the cleaners); two press Claim at once and exactly one wins;
    every copy of the card shows the winner; the other is told; the winner gets the owner's
    details privately with the engineer actions; the owner hears who is coming."""
    wang = await desk.join("wanggong", "engineer", "engineering", "王工")
    li = await desk.join("ligong", "engineer", "engineering", "李工")
    zhao = await desk.join("zhaozhuguan", "supervisor", None, "赵主管")
    chen = await desk.join("chenbaojie", "cleaner", "cleaning", "陈保洁")
    alice = Owner(fake_tg, desk.bot, TgUser(5002, "Alice", "en"))
    number = await submit_urgent_public_repair(alice)

    fake = desk.fake
    cards = {s.userid: _card_for(fake, s.userid, number) for s in (wang, li, zhao)}
    assert not [c for c in fake.cards_of(chen.userid) if number in c.title + c.text]
    assert len({c.task_id for c in cards.values()}) == 1  # one message to the department
    card = cards["wanggong"]
    assert [text for text, _key in card.buttons] == ["🙋 接单", "👤 指派"]
    assert "1-1 附近" in card.text and "13900001111" not in card.title + card.text
    mirrored = [c.body["text"]["content"] for c in fake.ok("webhook/send")]
    assert any(number in m for m in mirrored) and not any("13900001111" in m for m in mirrored)

    claim = _key(card, "claim")
    await asyncio.gather(
        wang.press_key(cards["wanggong"], claim), li.press_key(cards["ligong"], claim)
    )
    order = _order(desk.bot, number)
    assert order.status == "claimed"
    with desk.bot.services.db.unit_of_work() as uow:
        winner_person = uow.session.get(Person, order.assignee_id)
        assert winner_person is not None
        winner_name = winner_person.name
    winner, loser = (wang, li) if winner_name == "王工" else (li, wang)

    updates = fake.ok("message/update_template_card")
    assert len(updates) == 1 and updates[0].body["atall"] == 1
    for userid, held in cards.items():
        replaced = next(c for c in fake.cards_of(userid) if c.task_id == held.task_id).replaced
        assert replaced is not None and f"{winner_name} 已于" in replaced, (userid, replaced)

    told_loser = [m["text"] for m in loser.received() if "已被" in m["text"]]
    assert told_loser == [f"{number} 已被 {winner_name} 接单。"]
    private = [m for m in winner.received() if number in m["text"] and "详细信息" in m["text"]]
    assert len(private) == 1
    details = private[0]
    assert "139 0000 1111" in details["text"] and "Li Na" in details["text"]
    assert any("|depart|" in key for _label, key in details["buttons"])  # 🚗 出发了
    assert any(
        f"{winner_name} has taken your request" in t for t in fake_tg.messages_to(alice.chat_id)
    )

    # a late press (the card's buttons are gone, but a forged event comes anyway) changes nothing
    zhao.seen = len(zhao.received())
    late = await zhao.press_key(cards["zhaozhuguan"], claim)
    assert [m["text"] for m in late] == [f"{number} 已被 {winner_name} 接单。"]
    assert _order(desk.bot, number).assignee_id == order.assignee_id

    # the winner goes on from the private card: the owner hears of it
    await winner.press("出发")
    assert _order(desk.bot, number).status == "on_the_way"


async def test_outsiders_and_other_departments_are_refused(
    fake_tg: FakeTelegram, desk: Desk
) -> None:
    """A card event from a userid who is not staff, and a cleaner pressing an engineering
    card, are refused politely; the order stays unclaimed."""
    wang = await desk.join("wanggong", "engineer", "engineering", "王工")
    chen = await desk.join("chenbaojie", "cleaner", "cleaning", "陈保洁")
    alice = Owner(fake_tg, desk.bot, TgUser(5002, "Alice", "en"))
    number = await submit_urgent_public_repair(alice)
    card = _card_for(desk.fake, wang.userid, number)
    claim = _key(card, "claim")

    for presser in (chen, WeComStaff(desk.bot, desk.side, "outsider")):
        replies = await presser.press_key(card, claim)
        assert replies and "只有工程部的同事可以接这张工单" in replies[-1]["text"], replies
    order = _order(desk.bot, number)
    assert order.status == "submitted" and order.assignee_id is None


# --- the callback URL's security -------------------------------------------------------------


async def _processed(desk: Desk) -> int:
    with desk.bot.services.db.unit_of_work() as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(ProcessedUpdate)
                .where(ProcessedUpdate.channel == "wecom")
            )
            or 0
        )


async def test_url_verification(desk: Desk) -> None:
    """WeCom's check when the URL is saved: the decrypted echostr, or 403 for a forgery."""
    phone = WeComPhone(desk.side.url, desk.bot.services.clock)
    stamp, nonce = str(int(desk.bot.services.clock().timestamp())), "123456"
    envelope = phone.crypto.encrypt_message("<xml/>", nonce, stamp)  # any payload
    import xmltodict

    echo = xmltodict.parse(envelope)["xml"]
    # an echostr is the encrypted random string; reuse the envelope's Encrypt and its signature
    params = {
        "msg_signature": echo["MsgSignature"],
        "timestamp": stamp,
        "nonce": nonce,
        "echostr": echo["Encrypt"],
    }
    async with httpx.AsyncClient() as client:
        good = await client.get(desk.side.url, params=params)
        bad = await client.get(desk.side.url, params=dict(params, msg_signature="0" * 40))
    assert good.status_code == 200 and good.text == "<xml/>"
    assert bad.status_code == 403


async def test_forged_replayed_old_malformed_and_oversized_callbacks(desk: Desk) -> None:
    """Bad signature 403; wrong key 403; old timestamp 403; the same MsgId twice is handled
    once; malformed or entity-laden XML 400; a body over the limit 413. Nothing is stored."""
    clock = desk.bot.services.clock
    phone = WeComPhone(desk.side.url, clock)
    now = int(clock().timestamp())
    xml = text_xml("wanggong", "/help", 8_200_000_000_001, now)

    params, body = phone.request(xml)
    assert await phone.post_raw(dict(params, msg_signature="f" * 40), body) == 403
    forger = WeComPhone(desk.side.url, clock, token="guessed", key=AES_KEY, corp_id=CORP_ID)
    assert await forger.post(xml) == 403
    other_corp = WeComPhone(desk.side.url, clock, token=CALLBACK_TOKEN, key="A" * 43)
    assert await other_corp.post(xml) in (400, 403)
    assert await phone.post(xml, timestamp=now - 3600) == 403
    assert await _processed(desk) == 0

    # a replay of a genuine message (WeCom retries after 5 s): handled once
    assert await phone.post(xml) == 200
    assert await phone.post(xml) == 200
    await settle(desk.bot, "8200000000001")
    assert await _processed(desk) == 1
    helps = [m for m in desk.fake.messages_to("wanggong")]
    assert len(helps) == 1

    for bad in ("<xml><MsgType>text", "not xml at all"):
        assert await phone.post(bad) == 400
    entity = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>'
        "<xml><FromUserName>&e;</FromUserName><MsgType>text</MsgType></xml>"
    )
    assert await phone.post(entity) == 400  # inside the encrypted message
    params, body = phone.request(xml)
    outer = b'<!DOCTYPE x [<!ENTITY e "boom">]>' + body
    assert await phone.post_raw(params, outer) == 400  # around it, before any parsing
    other_app = xml.replace("<AgentID>1000002</AgentID>", "<AgentID>1000099</AgentID>")
    assert await phone.post(other_app.replace("8200000000001", "8200000000003")) == 403
    params, body = phone.request(text_xml("wanggong", "x" * 80_000, 8_200_000_000_002, now))
    assert await phone.post_raw(params, body) == 413
    assert await _processed(desk) == 1


async def test_token_is_fetched_once_and_again_when_refused(
    fake_tg: FakeTelegram, fake_wc: FakeWeCom, db_url: str, clock: FakeClock
) -> None:
    """Without a given token the app's token is fetched once and shared through the database
    (wechat_tokens, its own row); when WeCom says it expired, it is fetched once more."""
    settings = wecom_settings(fake_wc, wecom_access_token="")
    bot = await start_bot(fake_tg, db_url, clock, **settings)
    seed_examples(bot.services)
    side = await start_wecom(bot, fake_wc)
    try:
        wang = WeComStaff(bot, side, "wanggong")
        await wang.send("/help")
        await wang.send("/help")
        assert fake_wc.token_fetches == 1
        fake_wc.expire("WTOKEN-1")
        replies = await wang.send("/help")
        assert replies and fake_wc.token_fetches == 2
        with bot.services.db.unit_of_work() as uow:
            from store.models import WeChatToken

            row = uow.session.get(WeChatToken, f"wecom:{CORP_ID}:1000002")
            assert row is not None and row.access_token == "WTOKEN-2"
    finally:
        await side.stop()
        await bot.stop()


async def test_twenty_simultaneous_claims_one_winner(fake_tg: FakeTelegram, desk: Desk) -> None:
    """20 engineers press Claim on their copies at once: exactly one holds the order, the card
    is updated once for all 20, and the 19 others are each told who has it (R6)."""
    crew = [
        await desk.join(f"eng{n:02d}", "engineer", "engineering", f"工程师{n:02d}")
        for n in range(20)
    ]
    alice = Owner(fake_tg, desk.bot, TgUser(5002, "Alice", "en"))
    number = await submit_urgent_public_repair(alice)
    cards = [_card_for(desk.fake, s.userid, number) for s in crew]
    claim = _key(cards[0], "claim")
    await asyncio.gather(*(s.press_key(c, claim) for s, c in zip(crew, cards, strict=True)))

    order = _order(desk.bot, number)
    with desk.bot.services.db.unit_of_work() as uow:
        holder = uow.session.get(Person, order.assignee_id)
        assert holder is not None
        name = holder.name
        claims = uow.session.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.action == "claim")
        )
    assert order.status == "claimed" and claims == 1
    assert len(desk.fake.ok("message/update_template_card")) == 1
    for staff, card in zip(crew, cards, strict=True):
        copy = next(c for c in desk.fake.cards_of(staff.userid) if c.task_id == card.task_id)
        assert copy.replaced is not None and name in copy.replaced
    told = [s for s in crew if any(f"已被 {name} 接单" in m["text"] for m in s.received())]
    assert len(told) == 19 and all(s.userid != "" for s in told)


async def test_supervisor_assigns_from_the_card(fake_tg: FakeTelegram, desk: Desk) -> None:
    """Assign on a supervisor's card: a private list of who may take it; choosing one gives
    them the job with the details, and every copy of the card shows it."""
    wang = await desk.join("wanggong", "engineer", "engineering", "王工")
    zhao = await desk.join("zhaozhuguan", "supervisor", "engineering", "赵主管")
    alice = Owner(fake_tg, desk.bot, TgUser(5002, "Alice", "en"))
    number = await submit_urgent_public_repair(alice)
    card = _card_for(desk.fake, zhao.userid, number)

    # an engineer may not assign
    replies = await wang.press_key(_card_for(desk.fake, wang.userid, number), _key(card, "assign"))
    assert replies and _order(desk.bot, number).assignee_id is None

    await zhao.press_key(card, _key(card, "assign"))
    await zhao.press("王工")
    order = _order(desk.bot, number)
    assert order.status == "claimed"
    with desk.bot.services.db.unit_of_work() as uow:
        holder = uow.session.get(Person, order.assignee_id)
        assert holder is not None and holder.name == "王工"
    details = [m["text"] for m in wang.received() if "139 0000 1111" in m["text"]]
    assert len(details) == 1
    copies = [c for c in desk.fake.cards if c.task_id == card.task_id]
    assert {c.userid for c in copies} == {"wanggong", "zhaozhuguan"}
    assert all(c.replaced is not None and "王工" in c.replaced for c in copies)


async def test_digest_and_workbook_reach_managers_on_wecom(
    fake_tg: FakeTelegram, desk: Desk
) -> None:
    """With staff on WeCom the daily digest (text and chart) and the monthly workbook go to the
    managers' WeCom chats, the files uploaded as WeCom media (R51, R52)."""
    from scheduler.plan import ReportTimes, plan_reports
    from tests.harness import sweep

    boss = await desk.join("qianjingli", "manager", None, "钱经理")
    times = ReportTimes(desk.bot.services.desk.timezone)
    with desk.bot.services.db.unit_of_work() as uow:
        plan_reports(uow.session, desk.bot.services.clock(), times)
        uow.commit()
    await sweep(desk.bot)

    got = boss.received()
    assert any("2026-11-22" in m["text"] for m in got)
    kinds = sorted(kind for kind, _size in desk.fake.uploads)
    assert kinds == ["file", "image"], desk.fake.uploads
    assert all(size > 1000 for _kind, size in desk.fake.uploads)
    assert [m for m in got if m.get("image")] and [m for m in got if m.get("file")]


def test_staff_invite_prints_a_wecom_code(
    env_db: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`propdesk staff invite` with WeCom configured prints what to send in the WeCom app."""
    from bot.cli import EXIT_OK, main

    with FakeWeCom() as fake:
        for name, value in wecom_settings(fake).items():
            monkeypatch.setenv(f"PROPDESK_{name.upper()}", str(value))
        assert main(["staff", "invite", "--role", "engineer", "--department", "engineering"]) == (
            EXIT_OK
        )
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("WeCom"))
    assert (
        line.startswith("WeCom (企业微信), send in the app: /start ") and len(line.split()[-1]) > 16
    )


async def test_whole_repair_owner_on_wechat_staff_on_wecom(
    fake_tg: FakeTelegram, fake_wc: FakeWeCom, db_url: str, clock: FakeClock
) -> None:
    """An owner on the WeChat Official Account, the engineer on WeCom: report, card, claim,
    on my way, arrived, done, accepted and rated, nobody on Telegram (R6, R9)."""
    from tests.fake_wechat import FakeWeChat, start_wechat, wechat_owner, wechat_settings

    with FakeWeChat() as fake_wx:
        settings = {**wechat_settings(fake_wx, default_language="en"), **wecom_settings(fake_wc)}
        bot = await start_bot(fake_tg, db_url, clock, **settings)
        seed_examples(bot.services)
        bot.wechat = await start_wechat(bot, fake_wx)
        side = await start_wecom(bot, fake_wc, wechat=bot.wechat.desk)
        try:
            desk = Desk(bot, side)
            wang = await desk.join("wanggong", "engineer", "engineering", "王工")
            alice = wechat_owner(bot, TgUser(5002, "Alice", "en"))
            number = await submit_urgent_public_repair(alice)
            card = _card_for(fake_wc, "wanggong", number)
            await wang.press_key(card, _key(card, "claim"))
            assert any(
                "王工 has taken your request" in m["text"] for m in alice.view.sent(alice.chat_id)
            )
            for step in ("depart", "arrive", "complete"):
                held = [
                    m for m in wang.received() if any(f"|{step}|" in k for _l, k in m["buttons"])
                ]
                assert held, (step, [m["text"][:40] for m in wang.received()])
                message = held[-1]
                key = next(k for _l, k in message["buttons"] if f"|{step}|" in k)
                await wang.press_key(message["card"], key)
            await alice.press("Accept")
            await alice.press("Satisfied")
            await alice.press("No comment")
            order = _order(bot, number)
            assert order.status == "accepted" and order.rating == "satisfied"
            assert not [c for c in fake_tg.calls_of("sendMessage")]  # nobody on Telegram
        finally:
            await side.stop()
            await bot.wechat.stop()
            await bot.stop()


def test_run_without_telegram(
    fake_wc: FakeWeCom, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`propdesk run` with only WeChat and WeCom settings (no TELEGRAM_BOT_TOKEN) says which
    channels are on, serves the WeCom callback (a staff member joins) and stops on SIGTERM."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time as wall

    from bot.cli import main
    from tests.fake_wechat import FakeWeChat, wechat_settings
    from tests.harness import MONDAY_MORNING
    from tests.harness import FakeClock as Clock

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    monkeypatch.setenv("PROPDESK_DATABASE_URL", db_url)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    with FakeWeChat() as fake_wx:
        values = {**wechat_settings(fake_wx), **wecom_settings(fake_wc)}
        env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
        env.update({f"PROPDESK_{k.upper()}": str(v) for k, v in values.items()})
        env.update(
            PROPDESK_DATABASE_URL=db_url,
            PROPDESK_WEBHOOK_LISTEN="127.0.0.1",
            PROPDESK_WEBHOOK_PORT=str(port),
            PROPDESK_OUTBOX_POLL_SECONDS="0.1",
        )
        from store.db import Database

        db = Database(db_url, Clock(MONDAY_MORNING))
        with db.unit_of_work() as uow:
            from store.clock import system_clock

            code = create_invite(uow.session, "engineer", "engineering", system_clock(), "王工")
            code_text = code.code
            uow.commit()
        db.dispose()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = wall.monotonic() + 30
            while wall.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    wall.sleep(0.1)
            phone = WeComPhone(f"{base}/wecom", system_clock)
            at = int(system_clock().timestamp())
            xml = text_xml("wanggong", f"/start {code_text}", 8_300_000_000_001, at)
            assert asyncio.run(phone.post(xml)) == 200
            while wall.monotonic() < deadline and not fake_wc.messages_to("wanggong"):
                wall.sleep(0.1)
            assert "王工" in fake_wc.messages_to("wanggong")[0]["text"]
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "running without Telegram: owners on WeChat Official Account at /wechat" in out
    assert "staff on WeCom at /wecom" in out


async def test_timers_reach_wecom_staff(
    fake_tg: FakeTelegram, desk: Desk, clock: FakeClock
) -> None:
    """R6 and R3 on WeCom: an unclaimed urgent job is re-announced as a new card after 5 min,
    the supervisor is alerted after 10 (with Assign), supervisor and manager at 30 (R3)."""
    from tests.harness import sweep

    minute = timedelta(minutes=1)
    await desk.join("wanggong", "engineer", "engineering", "王工")
    zhao = await desk.join("zhaozhuguan", "supervisor", "engineering", "赵主管")
    qian = await desk.join("qianjingli", "manager", None, "钱经理")
    alice = Owner(fake_tg, desk.bot, TgUser(5002, "Alice", "en"))
    number = await submit_urgent_public_repair(alice)
    clock.advance(5 * minute)
    await sweep(desk.bot)
    wang_cards = [c for c in desk.fake.cards_of("wanggong") if number in c.title + c.text]
    assert len(wang_cards) == 2 and "仍在等待接单" in wang_cards[1].title
    assert len({c.task_id for c in wang_cards}) == 2
    clock.advance(5 * minute)
    await sweep(desk.bot)
    alert = [m for m in zhao.received() if f"{number}（" in m["text"] and "无人接单" in m["text"]]
    assert len(alert) == 1
    clock.advance(20 * minute)
    await sweep(desk.bot)
    for boss in (zhao, qian):
        urgent = [m for m in boss.received() if f"紧急工单 {number}" in m["text"]]
        assert len(urgent) == 1, boss.userid


async def test_owner_approval_by_an_agent_on_wecom(fake_tg: FakeTelegram, desk: Desk) -> None:
    """R1 on WeCom: a registration with an unproven phone reaches the agent as a card with
    Approve / Reject; approving verifies the owner (on Telegram), who is told."""
    liu = await desk.join("liuzhuli", "agent", None, "刘助理")
    alice = Owner(fake_tg, desk.bot, TgUser(5002, "Alice", "en"))
    await alice.send("/start")
    await alice.send("Li Na")
    await alice.send("1-1-101")
    await alice.send("13911112222")
    card, key = liu.find("通过")
    assert "1-1-101" in card.title + card.text and "139****2222" in card.title + card.text
    await liu.press_key(card, key)
    with desk.bot.services.db.unit_of_work() as uow:
        person = uow.session.scalar(
            select(Person).join(Identity).where(Identity.external_id == str(alice.user.id))
        )
        assert person is not None and person.owner_status == "verified"
    assert any("is confirmed" in t for t in fake_tg.messages_to(alice.chat_id))


async def test_used_card_code_falls_back_to_text(fake_tg: FakeTelegram, desk: Desk) -> None:
    """When WeCom refuses the card update (its response_code used or past 72 h), every
    recipient gets the card's news as text instead; nothing is lost."""
    wang = await desk.join("wanggong", "engineer", "engineering", "王工")
    li = await desk.join("ligong", "engineer", "engineering", "李工")
    alice = Owner(fake_tg, desk.bot, TgUser(5002, "Alice", "en"))
    number = await submit_urgent_public_repair(alice)
    card = _card_for(desk.fake, wang.userid, number)
    desk.fake.fail("update_template_card", 40199)
    await wang.press_key(card, _key(card, "claim"))
    for staff in (wang, li):
        news = [m["text"] for m in staff.received() if "王工 已于" in m["text"]]
        assert len(news) == 1 and number in news[0], staff.userid
    assert not desk.fake.ok("message/update_template_card")


async def test_mixed_wecom_and_telegram_claims_one_winner(
    fake_tg: FakeTelegram, desk: Desk
) -> None:
    """10 engineers on WeCom press Claim while 10 on Telegram send the same button from their
    private chats: the database still gives exactly one winner, and every WeCom copy of the
    card shows that winner (R6)."""
    from tests.harness import staff_member

    wecom = [
        await desk.join(f"eng{n:02d}", "engineer", "engineering", f"工程师{n:02d}")
        for n in range(10)
    ]
    telegram = [
        await staff_member(
            fake_tg, desk.bot, TgUser(6100 + n, f"Tg{n:02d}", "en"), "engineer", "engineering"
        )
        for n in range(10)
    ]
    alice = Owner(fake_tg, desk.bot, TgUser(5002, "Alice", "en"))
    number = await submit_urgent_public_repair(alice)
    cards = [_card_for(desk.fake, s.userid, number) for s in wecom]
    claim = _key(cards[0], "claim")
    presses = [s.press_key(c, claim) for s, c in zip(wecom, cards, strict=True)]
    presses += [t.press_data(claim, fake_tg.sent(t.chat_id)[-1]) for t in telegram]
    await asyncio.gather(*presses)

    order = _order(desk.bot, number)
    with desk.bot.services.db.unit_of_work() as uow:
        holder = uow.session.get(Person, order.assignee_id)
        assert holder is not None
        name = holder.name
        claims = uow.session.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.action == "claim")
        )
    assert order.status == "claimed" and claims == 1
    for staff, card in zip(wecom, cards, strict=True):
        copy = next(c for c in desk.fake.cards_of(staff.userid) if c.task_id == card.task_id)
        assert copy.replaced is not None and name in copy.replaced
    losers_tg = [t for t in telegram if t.user.first_name != name]
    for t in losers_tg:  # told on the button, privately (issue 11.5), not in the group
        notice = t.notice or ""
        assert "already taken by" in notice or "已被" in notice, notice
        assert not any("already taken by" in x for x in fake_tg.messages_to(t.chat_id))


async def test_board_and_reassign_by_typed_numbers(fake_tg: FakeTelegram, desk: Desk) -> None:
    """Short commands in the app chat: /board shows a supervisor the open work with Reassign;
    typing the option's number works like pressing it (the menu is kept in the database);
    the new holder gets the details, the card shows the change."""
    wang = await desk.join("wanggong", "engineer", "engineering", "王工")
    li = await desk.join("ligong", "engineer", "engineering", "李工")
    zhao = await desk.join("zhaozhuguan", "supervisor", "engineering", "赵主管")
    alice = Owner(fake_tg, desk.bot, TgUser(5002, "Alice", "en"))
    number = await submit_urgent_public_repair(alice)
    card = _card_for(desk.fake, wang.userid, number)
    await wang.press_key(card, _key(card, "claim"))

    board = await zhao.send("/board")
    assert any(number in m["text"] for m in board)
    offer = next(m for m in board if any("|reassign|" in k for _l, k in m["buttons"]))
    pick = [k for _l, k in offer["buttons"]].index(_key(offer["card"], "reassign")) + 1
    people = await zhao.send(str(pick))
    assert people and any("李工" in label for label, _k in people[-1]["buttons"])
    names = [label for label, _k in people[-1]["buttons"]]
    await zhao.send(str(names.index(next(n for n in names if "李工" in n)) + 1))
    order = _order(desk.bot, number)
    with desk.bot.services.db.unit_of_work() as uow:
        holder = uow.session.get(Person, order.assignee_id)
        assert holder is not None and holder.name == "李工"
    assert any("139 0000 1111" in m["text"] for m in li.received())


async def _work_through(staff: WeComStaff, steps: tuple[str, ...]) -> None:
    """The holder presses each engineer action in turn on their private cards."""
    for step in steps:
        held = [m for m in staff.received() if any(f"|{step}|" in k for _l, k in m["buttons"])]
        assert held, step
        key = next(k for _l, k in held[-1]["buttons"] if f"|{step}|" in k)
        await staff.press_key(held[-1]["card"], key)


async def test_poor_rating_call_taken_by_an_agent_on_wecom(
    fake_tg: FakeTelegram, desk: Desk
) -> None:
    """R22, R24 on WeCom: the owner rates 不满意; the agents get the call with Take; the first
    taker sees the owner's phone, the second is told it is taken."""
    from tests.harness import sweep

    wang = await desk.join("wanggong", "engineer", "engineering", "王工")
    sun = await desk.join("sunkefu", "agent", None, "孙客服")
    li = await desk.join("likefu", "agent", None, "李客服")
    alice = Owner(fake_tg, desk.bot, TgUser(5002, "Alice", "en"))
    number = await submit_urgent_public_repair(alice)
    card = _card_for(desk.fake, wang.userid, number)
    await wang.press_key(card, _key(card, "claim"))
    await _work_through(wang, ("depart", "arrive", "complete"))
    await alice.press("Accept")
    await alice.press("Unsatisfied")
    await sweep(desk.bot)
    for agent in (sun, li):
        assert [m for m in agent.received() if number in m["text"] and m["buttons"]], agent.userid
    replies = await sun.press("接手")
    assert "139 0000 1111" in replies[-1]["text"] and "Li Na" in replies[-1]["text"]
    replies = await li.press("接手")
    assert "孙客服" in replies[-1]["text"]
