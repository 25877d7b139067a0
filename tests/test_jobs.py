"""Job cards in the staff group and the claim (R6): one winner, the right people, no leaks."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from handlers.desk import Desk
from handlers.inbox import handle_inbound
from handlers.messages import Inbound
from store.db import Database
from store.migrate import upgrade
from store.models import Order, OrderEvent, OutboxMessage
from store.people import add_person
from store.staff import create_invite, redeem_invite
from tests.fake_telegram import FakeTelegram, TgChat, TgUser
from tests.harness import EXAMPLES, MONDAY_MORNING, STAFF_GROUP, Bot, Owner

GROUP = TgChat(id=STAFF_GROUP, type="supergroup", title="Engineering")


async def submit_urgent_public_repair(alice: Owner) -> str:
    """Register alice with her own contact and report a leak in the lobby, urgent."""
    await alice.send("/start")
    await alice.send("Li Na")
    await alice.send("1-1-101")
    await alice.contact("+8613900001111")
    await alice.press("Report a repair")
    await alice.press("Public area")
    await alice.press("Plumbing")
    await alice.send("Water leaking from the lobby ceiling")
    await alice.photo("AgACleak1")
    await alice.press("Continue")
    await alice.press("Urgent")
    await alice.press("Use")
    replies = await alice.press("Submit")
    text = alice.texts(replies)[0]
    return text.split("request ", 1)[1].split(" ", 1)[0]


async def join(fake: FakeTelegram, bot: Bot, user: TgUser, role: str, dept: str | None) -> Owner:
    """A staff member who opened an invitation link, and the same person in the group."""
    with bot.services.db.unit_of_work() as uow:
        code = create_invite(uow.session, role, dept, bot.services.clock()).code
        uow.commit()
    private = Owner(fake, bot, user)
    await private.send(f"/start {code}")
    return Owner(fake, bot, user, chat=GROUP)


def _order(bot: Bot, number: str) -> Order:
    with bot.services.db.unit_of_work() as uow:
        order = uow.session.scalars(select(Order).where(Order.number == number)).one()
        uow.session.expunge(order)
        return order


async def test_card_claim_and_notifications(fake_tg: FakeTelegram, bot: Bot, alice: Owner) -> None:
    """The card hides the owner; the claimer gets the details privately; the owner is told."""
    number = await submit_urgent_public_repair(alice)
    cards = [m for m in fake_tg.sent(STAFF_GROUP) if number in (m.get("text") or "")]
    assert len(cards) == 1
    card = cards[0]["text"]
    # the group reads the desk's default language (zh)
    assert "1-1 附近的公共区域" in card and "1-1-101" not in card  # issue 11.10
    assert "紧急" in card and "照片：1" in card
    assert "Li Na" not in card and "13900001111" not in card and "1111" not in card

    wang = await join(fake_tg, bot, TgUser(3101, "Wang", "en"), "engineer", "engineering")
    message, data = wang.find_button("接单")
    await wang.press_data(data, message)
    edited = fake_tg.message(STAFF_GROUP, cards[0]["message_id"])
    assert edited is not None and "Wang 已于" in edited["text"]
    assert not (edited.get("reply_markup") or {}).get("inline_keyboard")

    private = fake_tg.sent(3101)
    details = [m for m in private if number in (m.get("text") or "")][-1]["text"]
    assert "Li Na" in details and "139 0000 1111" in details
    assert any(m.get("photo") or m.get("method") == "sendPhoto" for m in private) or any(
        c.method == "sendPhoto" for c in fake_tg.calls_of("sendPhoto")
    )
    assert any("Wang has taken your request" in t for t in fake_tg.messages_to(alice.chat_id))
    order = _order(bot, number)
    assert order.status == "claimed" and order.assignee_id is not None

    # a second press, and presses by people who may not take it, change nothing
    zhou = await join(fake_tg, bot, TgUser(3102, "Zhou", "en"), "engineer", "engineering")
    replies = await zhou.press_data(data, message)  # told on the button alone (issue 11.5)
    assert zhou.refused(replies, f"{number} is already taken by Wang.") and zhou.alert
    assert _order(bot, number).assignee_id == order.assignee_id


async def test_outsiders_cannot_claim(fake_tg: FakeTelegram, bot: Bot, alice: Owner) -> None:
    """A stranger and a cleaner are refused an engineering job; the order stays unclaimed."""
    number = await submit_urgent_public_repair(alice)
    stranger = Owner(fake_tg, bot, TgUser(3201, "Eve", "en"), chat=GROUP)
    message, data = stranger.find_button("接单")
    replies = await stranger.press_data(data, message)
    assert stranger.refused(replies, "only engineering staff")
    cleaner = await join(fake_tg, bot, TgUser(3202, "Qian", "en"), "cleaner", "cleaning")
    replies = await cleaner.press_data(data, message)
    assert cleaner.refused(replies, "only engineering staff")
    owner_in_group = Owner(fake_tg, bot, alice.user, chat=GROUP)
    replies = await owner_in_group.press_data(data, message)
    assert owner_in_group.refused(replies, "only engineering staff")
    order = _order(bot, number)
    assert order.status == "submitted" and order.assignee_id is None


def test_twenty_simultaneous_claims_have_one_winner(db_url: str) -> None:
    """20 engineers press Claim at the same instant: one wins, 19 hear who has it (R6)."""
    upgrade(db_url)
    db = Database(db_url, lambda: MONDAY_MORNING)
    desk = Desk(clock=db.clock, staff_groups=frozenset({str(STAFF_GROUP)}),
                default_group=str(STAFF_GROUP))
    from store.price_list import import_prices
    from store.units import import_units

    with db.unit_of_work() as uow:
        import_units(uow.session, EXAMPLES / "units.csv")
        import_prices(uow.session, EXAMPLES / "prices.csv")
        owner = add_person(uow.session, channel="t", external_id="1", name="Owner", language="en")
        for n in range(20):
            person = add_person(uow.session, channel="t", external_id=f"e{n}", name=f"Eng{n}",
                                language="en")
            invite = create_invite(uow.session, "engineer", "engineering", MONDAY_MORNING)
            redeem_invite(uow.session, invite.code, person, MONDAY_MORNING)
        order = Order(number="R-20261123-0001", owner_id=owner.id, location="public",
                      category="plumbing", description="leak", contact_phone="+8613900001111",
                      quote_kind="free", status="submitted", created_at=MONDAY_MORNING)
        uow.session.add(order)
        uow.commit()
        order_id = order.id

    barrier = threading.Barrier(20)
    results: list[Any] = []

    def press(n: int) -> None:
        inbound = Inbound(channel="t", update_id=f"u{n}", chat_id=str(STAFF_GROUP),
                          chat_kind="group", user_id=f"e{n}", language_hint="en",
                          button=f"o0|claim|{order_id}", press_notices=True)
        barrier.wait()
        results.append(handle_inbound(db, desk, inbound))

    threads = [threading.Thread(target=press, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r.fresh for r in results] == [True] * 20
    with db.unit_of_work() as uow:
        claims = uow.session.scalar(select(func.count()).select_from(OrderEvent).where(
            OrderEvent.order_id == order_id, OrderEvent.action == "claim"))
        assert claims == 1
        texts = [r.payload["text"] for r in uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == str(STAFF_GROUP)))]
        winner = uow.session.get(Order, order_id)
        assert winner is not None and winner.assignee is not None
        # the 19 hear it on their button (issue 11.5), as an alert; the group only the card
        assert not [t for t in texts if "already taken by" in t]
        taken = [r.notice for r in results if r.notice is not None]
        assert len(taken) == 19 and all(
            n.alert and f"already taken by {winner.assignee.name}" in n.text for n in taken
        )
    db.dispose()


async def test_order_show_prints_the_whole_history(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner, db_url: str, monkeypatch: Any,
    tmp_path: Any, capsys: Any,
) -> None:
    """`propdesk order show` lists submission and claim with who and when (R50)."""
    from bot.cli import EXIT_FAILED, EXIT_OK, main

    number = await submit_urgent_public_repair(alice)
    wang = await join(fake_tg, bot, TgUser(3301, "Wang", "en"), "engineer", "engineering")
    message, data = wang.find_button("接单")
    await wang.press_data(data, message)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROPDESK_DATABASE_URL", db_url)
    capsys.readouterr()
    assert main(["order", "show", number]) == EXIT_OK
    out = capsys.readouterr().out
    assert number in out and "claimed" in out and "Li Na" in out
    assert "submitted" in out and "Wang" in out and "claim submitted->claimed" in out
    assert main(["order", "show", "R-19990101-0001"]) == EXIT_FAILED
