"""The web chat channel and the sandbox, over real HTTP (issue 12): transcripts through the
same inbox and outbox as Telegram and WeChat, catch-up by message id, identity from signed
session tokens only, polite answers to bad input, the sandbox's skip-ahead clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.webchat.sandbox import GROUP, STAFF
from bot.webchat.session import Sessions
from store.models import Identity, Order, OutboxMessage, PersonRole, ProcessedUpdate
from tests.harness import FakeClock
from tests.webchat_harness import PNG, Desk, WebPerson, catch_up, running_sandbox


@pytest.fixture
async def desk(db_url: str, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Desk]:
    """The sandbox on the test database, served on 127.0.0.1."""
    async with running_sandbox(db_url, clock, tmp_path / "files") as running:
        yield running


def count(desk: Desk, model: type, *where: object) -> int:
    """Rows of a table (matching `where`)."""
    with desk.sandbox.services.db.unit_of_work() as uow:
        query = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
        return int(uow.session.scalar(query) or 0)


async def register(owner: WebPerson, name: str, room: str, phone: str) -> list[dict[str, object]]:
    """Register in the pane as an owner types it (no contact button on the web)."""
    await owner.send("/start")
    await owner.send(name)
    await owner.send(room)
    return await owner.send(phone)


async def public_repair(owner: WebPerson, words: str = "楼道灯不亮了") -> list[dict[str, object]]:
    """A free public-area repair with one photo, "come now", the phone on file; submitted."""
    await owner.tap("repair")
    await owner.tap("where", "public")
    await owner.tap("cat", "electrical")
    await owner.send(words)
    response = await owner.upload(PNG)
    assert response.status_code == 200, response.text
    await owner.replies()
    await owner.tap("photos_done")
    await owner.tap("when", "now")
    await owner.tap("phone", "mine")
    return await owner.tap("submit")


async def test_staff_of_the_sandbox_joined_through_real_invitations(desk: Desk) -> None:
    """Every staff pane's person holds their role by a redeemed invitation and was welcomed;
    preparing the sandbox again adds nobody."""
    for persona in STAFF:
        person = WebPerson(desk, persona.key)
        welcome = await person.replies()
        assert any(w in welcome[0]["text"] for w in ("Welcome to the team", "欢迎加入")), welcome
    assert count(desk, PersonRole) == len(STAFF)
    assert await asyncio.to_thread(desk.sandbox.prepare) == []
    assert count(desk, PersonRole) == len(STAFF)
    assert count(desk, Identity, Identity.channel == "web") == len(STAFF)


async def test_register_file_a_repair_and_the_engineer_claims_it(desk: Desk) -> None:
    """R1, R6: an owner registers in the web pane (typed phone: the agent approves), files a
    public repair with a photo; the card reaches the web staff group without the owner's name
    or phone; the engineer's Claim there wins; the owner is told, the engineer gets the
    details and the photo privately."""
    owner, agent = WebPerson(desk, "owner"), WebPerson(desk, "agent")
    engineer = WebPerson(desk, "engineer")
    group = WebPerson(desk, "group", chat=GROUP)  # pressing as the first staff member

    replies = await register(owner, "张伟", "3-2-1201", "13812345678")
    assert "需由工作人员核实" in replies[0]["text"]
    await agent.replies()
    assert "张伟" in agent.seen[-1]["text"] and "138****5678" in agent.seen[-1]["text"]
    await agent.press("通过")
    told = await owner.replies()
    assert any("3-2-1201" in e["text"] for e in told), told

    submitted = await public_repair(owner)
    assert "R-20261123-" in submitted[0]["text"]
    (card,) = [e for e in await group.replies() if "R-20261123-" in e["text"]]
    assert "张伟" not in card["text"]
    assert "13812345678" not in card["text"] and "138 1234 5678" not in card["text"]
    assert "楼道灯不亮了" in card["text"]

    await engineer.replies()
    claimed = await group.press("接单")
    assert any(e["edit"] and e["id"] == card["id"] for e in claimed)  # the card shows who
    assert "王师傅" in group.seen[-1]["text"] or any("王师傅" in e["text"] for e in claimed)
    details = await engineer.replies()
    assert any("138 1234 5678" in e["text"] for e in details), WebPerson.texts(details)
    (photo,) = [e["photo"] for e in details if e["photo"]]
    coming = await owner.replies()
    assert any("王师傅" in e["text"] for e in coming), WebPerson.texts(coming)

    async with httpx.AsyncClient(base_url=desk.base_url) as client:
        shown = await client.get(f"/web/photo/{photo}", headers=engineer.headers())
        assert shown.status_code == 200 and shown.content == PNG
        assert shown.headers["content-type"] == "image/png"
        assert (await client.get(f"/web/photo/{photo}")).status_code == 401
        mine = await client.get(f"/web/photo/{photo}", headers=owner.headers())
        assert mine.status_code == 200  # the owner who sent it
        for other in ("owner2", "supervisor"):  # not shown to them: it does not exist
            look = await client.get(f"/web/photo/{photo}", headers=WebPerson(desk, other).headers())
            assert look.status_code == 404
    with desk.sandbox.services.db.unit_of_work() as uow:
        (order,) = uow.session.scalars(select(Order)).all()
        assert order.status == "claimed"


async def test_a_reloaded_page_catches_up_by_message_id(desk: Desk) -> None:
    """A page that comes back with the id of the last message it showed gets exactly what
    came after; a new page gets the whole chat; an open page gets new messages live."""
    owner = WebPerson(desk, "owner")
    await owner.send("/start")
    first = list(owner.seen)
    await owner.send("张伟")
    later = owner.seen[len(first) :]
    assert later
    again = await catch_up(desk, owner.token, "me", first[-1]["cursor"])
    assert [e["id"] for e in again] == [e["id"] for e in later]
    fresh = await catch_up(desk, owner.token, "me", None)
    assert [e["id"] for e in fresh] == [e["id"] for e in owner.seen]
    assert await catch_up(desk, owner.token, "me", owner.seen[-1]["cursor"]) == []

    async with httpx.AsyncClient(base_url=desk.base_url, timeout=20) as client:
        params = {"chat": "me", "since": owner.seen[-1]["cursor"]}
        headers = {"X-Propdesk-Session": owner.token}
        async with client.stream("GET", "/web/events", params=params, headers=headers) as live:
            lines = live.aiter_lines()
            assert await anext(lines) == ": caught up"
            await owner.post({"text": "3-2-1201"})
            event = None
            async for line in lines:
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    break
    assert event is not None and "3-2-1201" in event["text"]


async def test_forged_and_missing_identities_are_refused(desk: Desk) -> None:
    """The page never names its person: no token → 401, a forged one → 401 (even for a real
    person's id), an owner cannot write to or read the staff group, nor press a button of
    another person's message; ids in the body are ignored; nothing is stored."""
    owner, owner2 = WebPerson(desk, "owner"), WebPerson(desk, "owner2")
    await owner.send("/start")
    updates = count(desk, ProcessedUpdate)
    body = {"chat": "me", "nonce": "abcdefgh01", "text": "hello"}
    async with httpx.AsyncClient(base_url=desk.base_url) as client:
        bare = await client.post("/web/send", json=body, headers={"X-Propdesk-Request": "1"})
        assert bare.status_code == 401 and "登录" in bare.json()["error"]  # no person: zh
        forged = Sessions(b"not the sandbox's secret key!!!").mint("sandbox-manager")
        for token in (forged, "sandbox-manager", owner.token[:-2] + "xx", "x" * 300):
            headers = {"X-Propdesk-Session": token, "X-Propdesk-Request": "1"}
            assert (await client.post("/web/send", json=body, headers=headers)).status_code == 401
            events = await client.get("/web/events", headers=headers)
            assert events.status_code == 401
        events = await client.get(
            "/web/events", params={"chat": GROUP}, headers={"X-Propdesk-Session": owner.token}
        )
        assert events.status_code == 403
    assert (await owner.post({"text": "hi", "chat": GROUP})).status_code == 403
    # a button of the manager's welcome (a real id, real data) pressed from owner2's session
    manager = WebPerson(desk, "manager")
    await manager.replies()
    await owner.send("张伟")
    await owner.send("3-2-1201")
    message, data = owner.find(lambda _, d: "|back|" in d)
    stolen = await owner2.post({"button": data, "message": message["id"]})
    assert stolen.status_code == 409
    assert "not from your chat" in stolen.json()["error"]  # owner2's pane speaks English
    # ids in the body mean nothing: this is owner2 writing in owner2's own chat
    sent = await owner2.post({"text": "/start", "user_id": "sandbox-owner", "chat": "me"})
    assert sent.status_code == 200
    with desk.sandbox.services.db.unit_of_work() as uow:
        newest = select(ProcessedUpdate).order_by(ProcessedUpdate.id.desc()).limit(1)
        row = uow.session.scalars(newest).one()
        assert row.update_id.startswith("sandbox-owner2:")
    assert count(desk, ProcessedUpdate) == updates + 3  # 张伟, 3-2-1201, owner2's /start


async def test_bad_input_gets_a_polite_answer_and_changes_nothing(desk: Desk) -> None:
    """Empty, too long, malformed, without the request header, a picture that is not one, a
    picture too large: a clear answer in the person's language, and nothing stored; the same
    message sent twice is handled once."""
    owner, owner2 = WebPerson(desk, "owner"), WebPerson(desk, "owner2")
    await owner.send("/start")
    updates, outbox = count(desk, ProcessedUpdate), count(desk, OutboxMessage)

    empty = await owner.post({"text": "   "})
    assert empty.status_code == 400 and "消息是空的" in empty.json()["error"]
    long = await owner2.post({"text": "x" * 2001})
    assert long.status_code == 413 and "too long" in long.json()["error"]
    nobody = await owner2.post({"text": "hi"}, **{"X-Propdesk-Request": "0"})
    assert nobody.status_code == 403
    async with httpx.AsyncClient(base_url=desk.base_url) as client:
        broken = await client.post("/web/send", content=b"{not json", headers=owner2.headers())
        assert broken.status_code == 400 and "could not be read" in broken.json()["error"]
        listed = await client.post("/web/send", json=[1, 2], headers=owner2.headers())
        assert listed.status_code == 400
        odd = await client.post(
            "/web/send", json={"text": 5, "nonce": "abcdefgh99"}, headers=owner2.headers()
        )
        assert odd.status_code == 400
    bad_nonce = await owner2.post({"text": "hi", "nonce": "../../x"})
    assert bad_nonce.status_code == 400
    text_file = await owner.upload(b"just some text, not a picture", "image/png")
    assert text_file.status_code == 415 and "JPEG" in text_file.json()["error"]
    huge = await owner2.upload(PNG + b"\0" * (5 * 1024 * 1024))
    assert huge.status_code == 413 and "too large" in huge.json()["error"]
    assert (count(desk, ProcessedUpdate), count(desk, OutboxMessage)) == (updates, outbox)
    assert not list((desk.sandbox.web.files).glob("*"))

    once = {"text": "张伟", "nonce": "same-nonce-1"}
    assert (await owner.post(once)).json() == {"ok": True, "duplicate": False}
    assert (await owner.post(once)).json() == {"ok": True, "duplicate": True}
    replies = await owner.replies()
    assert len([e for e in replies if "请问您住在哪一户" in e["text"]]) == 1


async def test_skip_ahead_moves_the_desk_clock_and_runs_what_fell_due(desk: Desk) -> None:
    """R6: a job nobody claims is posted again in the group after 10 minutes; skipping 30
    minutes ahead shows it at once. Only 30 min, 2 h and 1 day are offered."""
    owner, group = WebPerson(desk, "owner"), WebPerson(desk, "group", chat=GROUP)
    await register(owner, "张伟", "3-2-1201", "13812345678")
    await public_repair(owner)
    before = [e for e in await group.replies() if "R-20261123-" in e["text"]]
    assert len(before) == 1
    start = desk.clock()
    async with httpx.AsyncClient(base_url=desk.base_url, timeout=60) as client:
        headers = {"X-Propdesk-Request": "1"}
        refused = await client.post("/sandbox/skip", json={"minutes": 7}, headers=headers)
        assert refused.status_code == 400
        assert (await client.post("/sandbox/skip", json={"minutes": 30})).status_code == 403
        # the first sweep also makes the reports that fell due (a digest, October's workbook)
        skipped = await client.post("/sandbox/skip", json={"minutes": 30}, headers=headers)
        assert skipped.status_code == 200, skipped.text
        assert skipped.json()["now"].startswith("2026-11-23 10:")
    assert desk.clock() - start >= timedelta(minutes=30)
    after = [e for e in await group.replies() if "R-20261123-" in e["text"]]
    assert after, "the unclaimed job was not posted again"


async def test_the_sandbox_page_names_no_one_by_id(desk: Desk) -> None:
    """The page is a sandbox and says so; its panes carry session tokens that the server
    signed, one per person, and the staff group."""
    async with httpx.AsyncClient(base_url=desk.base_url) as client:
        page = await client.get("/")
        assert page.status_code == 200 and "SANDBOX" in page.text and "沙盒" in page.text
        assert (await client.get("/web/static/chat.js")).status_code == 200
        chat = await client.get("/web/chat")
        assert chat.status_code == 200
        cookie = chat.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    keys = [pane["key"] for pane in desk.sandbox.panes()]
    assert keys == [
        "owner", "owner2", "engineer", "supervisor", "agent", "finance", "manager", "group",
    ]  # fmt: skip


async def test_skip_ahead_two_hours_brings_the_callback_survey(desk: Desk) -> None:
    """R9, R20: the engineer arrives and completes the job in his pane, the owner accepts in
    hers; "+2 h" in the sandbox brings the owner the callback survey (回访) at once."""
    owner, engineer = WebPerson(desk, "owner"), WebPerson(desk, "engineer")
    group = WebPerson(desk, "group", chat=GROUP)
    await register(owner, "张伟", "3-2-1201", "13812345678")
    await public_repair(owner)
    await group.replies()
    await group.press("接单")
    await engineer.replies()
    await engineer.press("已到达")
    await engineer.press("完工")
    await owner.replies()
    await owner.press("验收通过")
    surveys = [e for e in owner.seen if any("|cbans|" in d for r in e["buttons"] for _, d in r)]
    assert surveys == []
    async with httpx.AsyncClient(base_url=desk.base_url, timeout=60) as client:
        skipped = await client.post(
            "/sandbox/skip", json={"minutes": 120}, headers={"X-Propdesk-Request": "1"}
        )
        assert skipped.status_code == 200, skipped.text
    later = await owner.replies()
    survey = [e for e in later if any("|cbans|" in d for r in e["buttons"] for _, d in r)]
    assert survey, WebPerson.texts(later)
    assert "R-20261123-0001" in survey[0]["text"]


async def test_the_agent_pane_files_a_repair_for_a_caller(desk: Desk) -> None:
    """R1 in the web chat: the agent's pane approves the owner, then "New request for an
    owner" → the room → at the counter → the owner's own public-repair steps; the order is
    the owner's, its card reaches the staff group pane, the owner's pane is told."""
    owner, agent = WebPerson(desk, "owner"), WebPerson(desk, "agent")
    group = WebPerson(desk, "group", chat=GROUP)
    await register(owner, "张伟", "3-2-1201", "13812345678")
    await agent.replies()
    await agent.press("通过")
    await owner.replies()

    await agent.send("/menu")
    await agent.tap("fdnew")
    chosen = await agent.send("3-2-1201")
    assert "张伟" in chosen[-1]["text"], WebPerson.texts(chosen)
    await agent.tap("fdvia", "counter")
    await agent.tap("where", "public")
    await agent.tap("cat", "electrical")
    await agent.send("大堂的灯闪烁")
    await agent.tap("photos_done")
    await agent.tap("when", "now")
    await agent.tap("phone", "mine")
    done = await agent.tap("submit")
    assert any("R-20261123-" in e["text"] and "张伟" in e["text"] for e in done), done

    heard = [e["text"] for e in await owner.replies() if "R-20261123-" in e["text"]]
    assert heard and "物业服务台已为您登记请求" in heard[-1], heard
    cards = [e for e in await group.replies() if "大堂的灯闪烁" in e["text"]]
    assert len(cards) == 1 and "张伟" not in cards[0]["text"]
    with desk.sandbox.services.db.unit_of_work() as uow:
        (order,) = uow.session.scalars(select(Order)).all()
        owner_id = uow.session.scalar(
            select(Identity.person_id).where(Identity.external_id == owner.user_id)
        )
        assert order.owner_id == owner_id
        assert (order.events[0].action, order.events[0].note) == ("submitted", "counter")
