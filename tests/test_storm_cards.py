"""Storm cards (issue 15.3, R6): while a group's job cards wait for Telegram's 20-a-minute limit,
new orders join the card not yet sent (up to 5), each with its own Claim; one claim edits the
card for that order, the others keep their buttons; re-posts and alerts stay per order."""

from __future__ import annotations

import asyncio
import csv
import re
import threading
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.outbox import Deliverer, DeliveryResult
from handlers.desk import Desk
from handlers.jobs import CARD_KEY, queue_job_card
from handlers.messages import Outbound
from store import outbox
from store.db import Database
from store.migrate import upgrade
from store.models import Order, OrderEvent, OutboxMessage, Person
from tests.fake_telegram import FakeTelegram, TgChat, TgUser
from tests.harness import (
    EXAMPLES,
    MONDAY_MORNING,
    STAFF_GROUP,
    Bot,
    FakeClock,
    Owner,
    drain,
    seed_examples,
    start_bot,
    sweep,
)
from tests.test_jobs import join

GROUP = TgChat(id=STAFF_GROUP, type="supergroup", title="Engineering")
NUMBER = re.compile(r"R-\d{8}-\d{4}")
SLOW_GROUP = {  # a group limit is on (so cards gather), and the group answers slowly
    "telegram_group_per_minute": 120.0,
    "default_language": "en",
}


def registry(count: int, skip: int = 0) -> list[tuple[str, str, str]]:
    """(name, room, phone) of the example estate's first homes: owners who can register."""
    with (EXAMPLES / "units.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[skip : skip + count]
    return [
        (r["owner_name"], f"{r['building']}-{r['unit']}-{r['room']}", r["phones"].split(";")[0])
        for r in rows
    ]


async def up_to_submit(owner: Owner, name: str, room: str, phone: str, problem: str) -> Any:
    """Register and fill in an urgent public-area repair; the Submit button, not pressed."""
    await owner.send("/start")
    await owner.send(name)
    await owner.send(room)
    await owner.contact(f"+86{phone}")
    await owner.press("Report a repair")
    await owner.press("Public area")
    await owner.press("Plumbing")
    await owner.send(problem)
    await owner.photo(f"AgACleak{owner.user.id}")
    await owner.press("Continue")
    await owner.press("Urgent")
    await owner.press("Use")
    return owner.find_button("Submit")


class SlowGroup:
    """The staff group takes its time: a message to it is on its way until `go` is set (as
    when the group's lane waits for Telegram's limit); every other chat is served at once."""

    def __init__(self, inner: Deliverer) -> None:
        self.inner = inner
        self.channel = inner.channel
        self.go = asyncio.Event()

    async def deliver(self, message: Outbound) -> DeliveryResult:
        """Hold the group's message until released, then send it."""
        if message.chat_id == str(STAFF_GROUP):
            await self.go.wait()
        return await self.inner.deliver(message)


async def ready_owners(
    fake: FakeTelegram, bot: Bot, count: int, user_base: int = 6100, language: str = "en"
) -> list[tuple[Owner, Any]]:
    """`count` owners of the example estate, each with a repair filled in up to Submit."""
    ready = []
    for i, (name, room, phone) in enumerate(registry(count)):
        owner = Owner(fake, bot, TgUser(user_base + i, name, language))
        problem = f"Leak number {i + 1}" if language == "en" else f"第 {i + 1} 处漏水"
        ready.append((owner, await up_to_submit(owner, name, room, phone, problem)))
    return ready


async def submit_all(fake: FakeTelegram, bot: Bot, ready: list[tuple[Owner, Any]]) -> list[str]:
    """The owners press Submit one after another while the group's first card is still on its
    way; each is answered at once. Their order numbers, in the order they submitted."""
    slow = SlowGroup(bot.desk.sender.deliverer)
    bot.desk.sender.deliverer = slow
    numbers = []
    for owner, (message, data) in ready:
        fake.user_press(owner.user, data, message)
        said = await fake.await_for(partial(_numbered_answer, fake, owner), 20)
        numbers.append(NUMBER.findall(said)[0])
    slow.go.set()
    await drain(bot)
    return numbers


def _numbered_answer(fake: FakeTelegram, owner: Owner, _calls: Any) -> str:
    """The answer naming the owner's first order ("" until it came)."""
    return next((t for t in fake.messages_to(owner.chat_id) if NUMBER.search(t)), "")


async def storm(fake: FakeTelegram, bot: Bot, count: int) -> list[str]:
    """`count` owners submit repairs while the group's first card is on its way."""
    return await submit_all(fake, bot, await ready_owners(fake, bot, count))


def group_cards(fake: FakeTelegram) -> list[dict[str, Any]]:
    """Job cards as the group holds them now (edits applied), in the order they were posted."""
    posted = [
        c.result["message_id"]
        for c in fake.calls_of("sendMessage", include_failed=False)
        if str(c.params.get("chat_id")) == str(STAFF_GROUP) and isinstance(c.result, dict)
    ]
    cards = [fake.message(STAFF_GROUP, m) for m in posted]
    return [c for c in cards if c is not None and NUMBER.search(c.get("text") or "")]


def claim_buttons(card: dict[str, Any]) -> dict[str, str]:
    """Order number → callback data of each Claim button left on a card."""
    found = {}
    for row in (card.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if "|claim|" in button["callback_data"]:
                # a card of one order keeps the plain "Claim" of before
                named = NUMBER.findall(button["text"]) or NUMBER.findall(card["text"])
                found[named[0]] = button["callback_data"]
    return found


async def test_a_storm_gathers_orders_on_fewer_cards_each_claimed_once(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """8 orders while the group's first card is on its way: far fewer group messages than
    orders, each order on exactly one card with its own Claim; a claim edits the card for that
    order only; every order can be claimed once; no owner's name or phone in the group."""
    bot = await start_bot(fake_tg, db_url, clock, **SLOW_GROUP)
    seed_examples(bot.services)
    try:
        numbers = await storm(fake_tg, bot, 8)
        cards = group_cards(fake_tg)
        on_cards = [NUMBER.findall(c["text"]) for c in cards]
        # the first card was on its way; the next five orders share one card, the rest another
        assert on_cards == [numbers[:1], numbers[1:6], numbers[6:]]
        assert sorted(n for found in on_cards for n in found) == sorted(numbers)
        assert all(1 <= len(found) <= 5 for found in on_cards)
        combined = next(c for c in cards if len(NUMBER.findall(c["text"])) > 1)
        assert combined["text"].startswith(f"📋 {len(NUMBER.findall(combined['text']))} jobs")
        assert sorted(claim_buttons(combined)) == sorted(NUMBER.findall(combined["text"]))
        for name, _room, phone in registry(8):
            assert all(name not in c["text"] and phone[-4:] not in c["text"] for c in cards)
        _every_order_knows_its_card(bot, cards)

        wang = await join(fake_tg, bot, TgUser(6201, "Wang", "en"), "engineer", "engineering")
        zhou = await join(fake_tg, bot, TgUser(6202, "Zhou", "en"), "engineer", "engineering")
        first, *rest = NUMBER.findall(combined["text"])
        await wang.press_data(claim_buttons(combined)[first], combined)
        await drain(bot)
        edited = fake_tg.message(STAFF_GROUP, combined["message_id"])
        assert edited is not None
        assert sorted(claim_buttons(edited)) == sorted(rest)  # the others keep their Claim
        entry = edited["text"].split("\n\n")[1]
        assert first in entry and "Taken by Wang" in entry
        assert "Taken by" not in edited["text"].split(first, 1)[1].split("\n\n", 1)[1]
        # the same Claim again, by someone else: refused, nothing changes
        await zhou.press_data(claim_buttons(combined)[first], combined)
        await drain(bot)
        # everything else, from whichever card it is on, once each
        for card in cards:
            for number in claim_buttons(fake_tg.message(STAFF_GROUP, card["message_id"]) or {}):
                now = fake_tg.message(STAFF_GROUP, card["message_id"])
                assert now is not None
                await zhou.press_data(claim_buttons(now)[number], now)
                await drain(bot)
        for card in cards:
            final = fake_tg.message(STAFF_GROUP, card["message_id"])
            assert final is not None and not claim_buttons(final)
            for number in NUMBER.findall(card["text"]):
                assert number in final["text"]
            assert final["text"].count("Taken by") == len(NUMBER.findall(card["text"]))
    finally:
        await bot.stop()
    with bot.services.db.unit_of_work() as uow:
        claims = dict(
            uow.session.execute(
                select(Order.number, func.count(OrderEvent.id))
                .join(OrderEvent, OrderEvent.order_id == Order.id)
                .where(OrderEvent.action == "claim")
                .group_by(Order.number)
            ).all()
        )
        holder = dict(
            uow.session.execute(
                select(Order.number, Person.name).join(Person, Person.id == Order.assignee_id)
            ).all()
        )
    assert claims == {n: 1 for n in numbers}
    assert holder[first] == "Wang" and all(holder[n] == "Zhou" for n in numbers if n != first)
    privately = " ".join(fake_tg.messages_to(6202))
    assert all(n in privately for n in numbers if n != first)  # each claim's details, in private


async def _handled(bot: Bot, update: dict[str, Any], timeout: float = 20.0) -> None:
    """Wait until the bot has handled an update (its replies may still wait in the outbox)."""
    from store.models import ProcessedUpdate

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        with bot.services.db.unit_of_work() as uow:
            done = uow.session.scalar(
                select(func.count())
                .select_from(ProcessedUpdate)
                .where(ProcessedUpdate.update_id == str(update["update_id"]))
            )
        if done:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"update {update['update_id']} not handled")


async def test_claims_while_the_group_waits_make_one_edit(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """Two claims on a shared card while the group's lane is busy: the second claim's edit
    joins the first one still waiting, so the group gets one edit showing both taken (edits
    count against the group's limit too); the other entries keep their Claim."""
    bot = await start_bot(fake_tg, db_url, clock, **SLOW_GROUP)
    seed_examples(bot.services)
    try:
        await storm(fake_tg, bot, 4)
        shared = next(c for c in group_cards(fake_tg) if len(NUMBER.findall(c["text"])) > 1)
        first, second, third = NUMBER.findall(shared["text"])
        wang = await join(fake_tg, bot, TgUser(6501, "Wang", "en"), "engineer", "engineering")
        zhou = await join(fake_tg, bot, TgUser(6502, "Zhou", "en"), "engineer", "engineering")
        late = (await ready_owners(fake_tg, bot, 1, user_base=6600))[0]
        slow = SlowGroup(bot.desk.sender.deliverer)  # the next card holds the group's lane
        bot.desk.sender.deliverer = slow
        owner, (message, data) = late
        await _handled(bot, fake_tg.user_press(owner.user, data, message))
        for who, number in ((wang, first), (zhou, second)):
            await _handled(bot, fake_tg.user_press(who.user, claim_buttons(shared)[number], shared))
        slow.go.set()
        await drain(bot)
        edits = [
            c for c in fake_tg.calls_of("editMessageText", include_failed=False)
            if c.params.get("message_id") == shared["message_id"]
        ]
        final = fake_tg.message(STAFF_GROUP, shared["message_id"])
    finally:
        await bot.stop()
    assert len(edits) == 1
    assert final is not None and sorted(claim_buttons(final)) == [third]
    assert "Taken by Wang" in final["text"] and "Taken by Zhou" in final["text"]


def _every_order_knows_its_card(bot: Bot, cards: list[dict[str, Any]]) -> None:
    """Every order points at the outbox row of the card it is on, sent as that message."""
    message_of = {n: str(c["message_id"]) for c in cards for n in NUMBER.findall(c["text"])}
    with bot.services.db.unit_of_work() as uow:
        for order in uow.session.scalars(select(Order)):
            card = uow.session.get(OutboxMessage, order.card_outbox_id)
            assert card is not None and card.status == "sent" and card.sent_at is not None
            assert card.external_id == message_of[order.number]
            assert order.id in card.payload[CARD_KEY]["orders"]


async def test_reposts_and_alerts_stay_per_order(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """R6 per order on a shared card: after a claim on the combined card, the orders still
    waiting are re-posted 5 minutes after the card went out and their supervisor is alerted
    about each of them; the claimed one gets neither."""
    bot = await start_bot(fake_tg, db_url, clock, **SLOW_GROUP)
    seed_examples(bot.services)
    try:
        sup = await join(fake_tg, bot, TgUser(6301, "Sup Zhao", "en"), "supervisor", "engineering")
        numbers = await storm(fake_tg, bot, 3)
        combined = next(c for c in group_cards(fake_tg) if len(NUMBER.findall(c["text"])) > 1)
        taken = NUMBER.findall(combined["text"])[0]
        waiting = [n for n in numbers if n != taken]  # one on the combined card, one alone
        await sup.press_data(claim_buttons(combined)[taken], combined)
        await drain(bot)
        before = len(group_cards(fake_tg))
        clock.advance(timedelta(minutes=6))  # urgent: re-posted after 5 minutes
        await sweep(bot)
        reposts = [c["text"] for c in group_cards(fake_tg)[before:]]
        assert all("Still waiting" in t for t in reposts)
        assert sorted(n for t in reposts for n in NUMBER.findall(t)) == sorted(waiting)
        clock.advance(timedelta(minutes=5))  # urgent: the supervisor after 10 minutes
        await sweep(bot)
        alerts = [t for t in fake_tg.messages_to(6301) if "Nobody has taken" in t]
        assert sorted(n for t in alerts for n in NUMBER.findall(t)) == sorted(waiting)
        assert taken not in " ".join(alerts)
    finally:
        await bot.stop()


async def test_assign_from_a_shared_card(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """R6: the supervisor's Assign on one entry of a shared card hands that order out; the
    card shows who has it and by whom, the other entry keeps its Claim and Assign."""
    bot = await start_bot(fake_tg, db_url, clock, **SLOW_GROUP)
    seed_examples(bot.services)
    try:
        await join(fake_tg, bot, TgUser(6701, "Wang", "en"), "engineer", "engineering")
        sup = await join(fake_tg, bot, TgUser(6702, "Sup Zhao", "en"), "supervisor", "engineering")
        await storm(fake_tg, bot, 3)
        shared = next(c for c in group_cards(fake_tg) if len(NUMBER.findall(c["text"])) > 1)
        first, second = NUMBER.findall(shared["text"])
        assign = next(
            b["callback_data"]
            for row in shared["reply_markup"]["inline_keyboard"]
            for b in row
            if first in row[0]["text"] and "|assign|" in b["callback_data"]
        )
        await sup.press_data(assign, shared)
        private = Owner(fake_tg, bot, TgUser(6702, "Sup Zhao", "en"))
        private.seen = 0
        assert any(first in t for t in private.texts(fake_tg.sent(6702)))  # "Who should take"
        await private.press("Wang")
        await drain(bot)
        final = fake_tg.message(STAFF_GROUP, shared["message_id"])
    finally:
        await bot.stop()
    assert final is not None and sorted(claim_buttons(final)) == [second]
    entry = final["text"].split("\n\n")[1]
    assert first in entry and "Assigned to Wang by Sup Zhao" in entry
    assert "Assigned" not in final["text"].split("\n\n")[2]


def _desk(db: Database, batch: int = 5) -> Desk:
    return Desk(
        clock=db.clock,
        staff_groups=frozenset({str(STAFF_GROUP)}),
        default_group=str(STAFF_GROUP),
        card_batch=batch,
        default_language="en",
    )


def _orders(db: Database, count: int) -> list[int]:
    from store.people import add_person

    with db.unit_of_work() as uow:
        owner = add_person(uow.session, channel="t", external_id="1", name="Owner", language="en")
        orders = [
            Order(number=f"R-20261123-{i + 1:04d}", owner_id=owner.id, location="public",
                  category="plumbing", description=f"leak {i}", contact_phone="+8613900001111",
                  quote_kind="free", status="submitted", department="engineering",
                  created_at=MONDAY_MORNING)
            for i in range(count)
        ]
        uow.session.add_all(orders)
        uow.commit()
        return [o.id for o in orders]


def _post(db: Database, desk: Desk, order_id: int) -> int:
    with db.unit_of_work() as uow:
        order = uow.session.get(Order, order_id)
        assert order is not None
        queue_job_card(uow.session, desk, order)
        uow.commit()
        assert order.card_outbox_id is not None
        return order.card_outbox_id


def test_a_card_joins_only_while_no_sender_holds_it(db_url: str) -> None:
    """The outbox lease is the fence (two workers): an order joins the group's unsent card only
    while no sender has leased it; a card holds at most `card_batch` orders; with no group
    limit (batch 1) every order has its own card."""
    upgrade(db_url)
    db = Database(db_url, lambda: MONDAY_MORNING)
    try:
        desk = _desk(db, batch=3)
        ids = _orders(db, 8)
        first = _post(db, desk, ids[0])
        assert [_post(db, desk, i) for i in ids[1:3]] == [first, first]
        fourth = _post(db, desk, ids[3])  # full: a new card
        assert fourth != first
        with db.unit_of_work() as uow:  # a sender leases the group's cards
            leased = outbox.claim_due(uow.session, "telegram", MONDAY_MORNING)
            uow.commit()
        assert {r.id for r in leased} == {first, fourth}
        fifth = _post(db, desk, ids[4])
        assert fifth not in (first, fourth)  # the leased card is on its way: not rewritten
        assert _post(db, _desk(db, batch=1), ids[5]) != fifth
        with db.unit_of_work() as uow:
            row = uow.session.get(OutboxMessage, first)
            assert row is not None and row.payload[CARD_KEY]["orders"] == ids[:3]
            assert row.payload["text"].count("🙋") == 0  # the labels are on the buttons
            assert [len(r) for r in row.payload["buttons"]] == [2, 2, 2]
    finally:
        db.dispose()


def test_a_card_never_outgrows_a_telegram_message(db_url: str) -> None:
    """Long descriptions (emoji count twice in Telegram's 4,096): a full card starts a new
    one; every card's text fits, each order is on exactly one card."""
    upgrade(db_url)
    db = Database(db_url, lambda: MONDAY_MORNING)
    try:
        desk = _desk(db, batch=10)
        ids = _orders(db, 10)
        with db.unit_of_work() as uow:
            for order in uow.session.scalars(select(Order)):
                order.description = "🔥💧" * 1000
            uow.commit()
        rows = [_post(db, desk, i) for i in ids]
        with db.unit_of_work() as uow:
            cards = [uow.session.get(OutboxMessage, r) for r in dict.fromkeys(rows)]
            payloads = [c.payload for c in cards if c is not None]
    finally:
        db.dispose()
    assert 1 < len(payloads) < len(ids)
    assert [i for p in payloads for i in p[CARD_KEY]["orders"]] == ids
    assert all(len(p["text"].encode("utf-16-le")) // 2 <= 4096 for p in payloads)


def test_a_lease_waits_for_a_join_and_sends_what_was_joined(db_url: str) -> None:
    """A sender leasing the group's card while a turn is adding an order to it waits for that
    turn and then leases the card with the order on it: nothing joined is ever lost."""
    upgrade(db_url)
    db = Database(db_url, lambda: MONDAY_MORNING)
    try:
        desk = _desk(db)
        ids = _orders(db, 2)
        card_id = _post(db, desk, ids[0])
        joined = threading.Event()
        leased: list[OutboxMessage] = []

        def sender() -> None:
            joined.wait(10)
            with db.unit_of_work() as uow:
                leased.extend(outbox.claim_due(uow.session, "telegram", MONDAY_MORNING))
                uow.commit()

        thread = threading.Thread(target=sender)
        thread.start()
        with db.unit_of_work() as uow:
            order = uow.session.get(Order, ids[1])
            assert order is not None
            queue_job_card(uow.session, desk, order)
            joined.set()
            thread.join(0.5)  # the sender is blocked by this turn's lock
            assert not leased
            uow.commit()
        thread.join(30)
        assert [r.id for r in leased] == [card_id]
        assert leased[0].payload[CARD_KEY]["orders"] == ids
        assert all(n in leased[0].payload["text"] for n in ("0001", "0002"))
    finally:
        db.dispose()


def test_a_claim_and_an_assignment_at_once_on_a_shared_card_both_show(db_url: str) -> None:
    """An engineer claims one order of a sent card in the group while the supervisor assigns
    another from a private chat, at the same instant (two workers, two chats): the card's row
    lock puts the edits one after the other, so the last edit shows both and only the third
    order's buttons."""
    from handlers.inbox import handle_inbound
    from handlers.messages import Inbound
    from store.people import add_person
    from store.staff import create_invite, redeem_invite

    upgrade(db_url)
    db = Database(db_url, lambda: MONDAY_MORNING)
    try:
        desk = _desk(db)
        ids = _orders(db, 3)
        card_id = {_post(db, desk, i) for i in ids}.pop()
        with db.unit_of_work() as uow:
            people = []
            for n, role in enumerate(("engineer", "engineer", "supervisor")):
                person = add_person(uow.session, channel="t", external_id=f"e{n}",
                                    name=f"Eng{n}" if n < 2 else "Sup", language="en")
                invite = create_invite(uow.session, role, "engineering", MONDAY_MORNING)
                redeem_invite(uow.session, invite.code, person, MONDAY_MORNING)
                people.append(person.id)
            card = uow.session.get(OutboxMessage, card_id)
            assert card is not None
            card.status, card.external_id, card.channel = "sent", "77", "t"
            uow.commit()
        barrier = threading.Barrier(2)

        presses = [  # Eng0 claims the first in the group; Sup gives the second to Eng1
            Inbound(channel="t", update_id="u0", chat_id=str(STAFF_GROUP), chat_kind="group",
                    user_id="e0", language_hint="en", button=f"o0|claim|{ids[0]}"),
            Inbound(channel="t", update_id="u1", chat_id="e2", chat_kind="private",
                    user_id="e2", language_hint="en",
                    button=f"o0|assignto|{ids[1]}-{people[1]}"),
        ]

        def press(n: int) -> None:
            barrier.wait()
            handle_inbound(db, desk, presses[n])

        threads = [threading.Thread(target=press, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        with db.unit_of_work() as uow:
            edits = [
                r.payload for r in uow.session.scalars(
                    select(OutboxMessage).where(OutboxMessage.chat_id == str(STAFF_GROUP))
                    .order_by(OutboxMessage.id)
                ) if r.payload.get("edit_message_id") == "77"
            ]
            taken = uow.session.scalars(
                select(OrderEvent.action).where(OrderEvent.action.in_(["claim", "assign"]))
            ).all()
    finally:
        db.dispose()
    assert sorted(taken) == ["assign", "claim"] and 1 <= len(edits) <= 2
    last = edits[-1]
    assert "Taken by Eng0" in last["text"] and "Assigned to Eng1 by Sup" in last["text"]
    assert [row[0][1] for row in last["buttons"]] == [f"o0|claim|{ids[2]}"]


async def test_concurrent_submits_never_lose_an_order(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """Submit presses queued all at once (the Telegram limit of 20 a minute on): every order
    reaches the group exactly once, on fewer messages than orders."""
    bot = await start_bot(
        fake_tg, db_url, clock, telegram_group_per_minute=20.0, default_language="en"
    )
    seed_examples(bot.services)
    try:
        count = 10
        owners = [Owner(fake_tg, bot, TgUser(6400 + i, n, "en")) for i, (n, _r, _p) in
                  enumerate(registry(count, skip=8))]
        submits = [
            await up_to_submit(o, n, r, p, f"Pipe {o.user.id}")
            for o, (n, r, p) in zip(owners, registry(count, skip=8), strict=True)
        ]
        for owner, (message, data) in zip(owners, submits, strict=True):
            fake_tg.user_press(owner.user, data, message)
        deadline = asyncio.get_running_loop().time() + 60
        while _order_count(bot) < count and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        await drain(bot, timeout=60)
        await asyncio.sleep(0.1)
        cards = group_cards(fake_tg)
    finally:
        await bot.stop()
    numbers = [n for c in cards for n in NUMBER.findall(c["text"])]
    assert len(numbers) == count == len(set(numbers))
    assert len(cards) < count


def _order_count(bot: Bot) -> int:
    with bot.services.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Order)) or 0)


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_storm_transcript_is_current(language: str, tmp_path: Path) -> None:
    """docs/transcripts/storm.*.md is what the code says now: 7 orders on 3 cards, two claims
    on the shared card, each editing only its own entry."""
    from tests.storm_transcript import storm_transcript
    from tests.transcripts import OUT

    text, counts = await storm_transcript(language, tmp_path)
    checked_in = OUT / f"storm.{language}.md"
    hint = "run bin/transcripts and commit docs/transcripts/ (then read the diff: it is the UX)"
    assert checked_in.exists(), f"{checked_in} is missing: {hint}"
    assert checked_in.read_text(encoding="utf-8") == text, f"{checked_in} is stale: {hint}"
    assert counts.sent["Staff group"] == 3 and counts.edited["Staff group"] == 2
