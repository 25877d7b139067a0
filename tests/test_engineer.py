"""The assignee's on-site work and the owner's sign-off (R7, R9, R12, R50), as transcripts."""

from __future__ import annotations

from sqlalchemy import select

from store.models import Order
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import STAFF_GROUP, Bot, Owner, told
from tests.test_jobs import join, submit_urgent_public_repair
from tests.test_repair import both_channels, quick_order, register

WANG = TgUser(3401, "Wang", "en")


def state(bot: Bot, number: str) -> tuple[str, int, list[str]]:
    """An order's status, version and the actions of its history."""
    with bot.services.db.unit_of_work() as uow:
        order = uow.session.scalars(select(Order).where(Order.number == number)).one()
        return order.status, order.version, [e.action for e in order.events]


def load(bot: Bot, number: str) -> Order:
    """An order, detached, with its history loaded."""
    with bot.services.db.unit_of_work() as uow:
        order = uow.session.scalars(select(Order).where(Order.number == number)).one()
        _ = order.events, order.assignee
        uow.session.expunge_all()
        return order


async def claimed_by(fake: FakeTelegram, bot: Bot, user: TgUser, number: str) -> Owner:
    """An engineer of the department who claims the newest card of `number`; their private chat."""
    group = await join(fake, bot, user, "engineer", "engineering")
    card = [m for m in fake.sent(STAFF_GROUP) if number in (m.get("text") or "")][-1]
    claim = next(b["callback_data"] for b in card["reply_markup"]["inline_keyboard"][0])
    await group.press_data(claim, card)
    return Owner(fake, bot, user)


def buttons_of(owner: Owner) -> list[str]:
    """The labels of the buttons on the newest message to this person that has buttons."""
    for message in reversed(owner.fake.sent(owner.chat_id)):
        if owner.buttons(message):
            return owner.buttons(message)
    return []


@both_channels
async def test_paid_repair_from_claim_to_rating(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """A list-price repair: on the way, arrived, done; the owner accepts and rates 一般."""
    await register(zhang)
    await quick_order(zhang)
    number = load_number(bot)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    details = [m for m in fake_tg.sent(WANG.id) if number in (m.get("text") or "")][-1]
    assert "张伟" in details["text"] and "138 1234 5678" in details["text"]  # tappable
    assert wang.buttons(details) == ["🚗 On my way", "📍 Arrived", "↩ Release"]

    replies = await wang.press("On my way")  # the details message becomes the next step
    assert [t.split("\n")[0] for t in wang.texts(replies)] == [
        f"{number}: you are on your way. What next?"
    ]
    assert replies[0]["message_id"] == details["message_id"]  # edited in place (issue 11.6)
    assert "张伟" in replies[0]["text"] and "138 1234 5678" in replies[0]["text"]
    assert wang.buttons(replies[0]) == ["📍 Arrived", "🚪 Owner not home", "↩ Release"]
    assert any("Wang" in t and number in t for t in told(zhang))
    replies = await wang.press("Arrived")
    assert [t.split("\n")[0] for t in wang.texts(replies)] == [
        f"{number}: you are on site. What next?"
    ]
    assert wang.buttons(replies[0]) == ["🚪 Owner not home", "✅ Done", "↩ Release", "🧰 Materials"]
    replies = await wang.press("Done")
    assert wang.texts(replies) == [f"How was the fee of ¥30.00 for {number} settled?"]
    assert wang.buttons(replies[0]) == ["💵 Cash collected", "🧾 Owner pays later (unpaid)"]
    assert state(bot, number)[0] == "arrived"
    replies = await wang.press("Cash collected")
    assert wang.texts(replies) == [f"{number} is done. The owner has been asked to check the work."]
    assert state(bot, number)[0] == "done"

    assert "¥30.00" in told(zhang)[-1]
    assert buttons_of(zhang) == ["✅ 验收通过", "❌ 没修好"]
    replies = await zhang.press("验收通过")
    assert zhang.buttons(replies[-1]) == ["😊 满意", "😐 一般", "😞 不满意"]
    await zhang.press("一般")
    replies = await zhang.send("师傅很专业，但是来晚了")
    assert "谢谢" in zhang.texts(replies)[0]

    order = load(bot, number)
    assert order.status == "accepted" and order.rating == "average"
    assert order.rating_comment == "师傅很专业，但是来晚了"
    assert [e.action for e in order.events] == [
        "submitted",
        "quote_agreed",
        "claim",
        "depart",
        "arrive",
        "complete",
        "fee_cash",
        "accept",
        "rate",
        "rate_comment",
    ]
    assert order.events[6].amount_fen == order.quoted_fen == 3000
    assert order.version == 7
    assert all(e.actor_id == order.assignee_id for e in order.events[2:7])
    assert all(e.actor_id == order.owner_id for e in order.events[7:])
    from store.models import Bill, Payment

    with bot.services.db.unit_of_work() as uow:  # cash on the spot: a paid bill and its receipt
        bill = uow.session.scalars(select(Bill).where(Bill.order_id == order.id)).one()
        assert (bill.amount_fen, bill.paid_fen, bill.status) == (3000, 3000, "paid")
        payment = uow.session.scalars(select(Payment).where(Payment.bill_id == bill.id)).one()
        assert (payment.method, payment.recorded_by_id) == ("cash", order.assignee_id)


@both_channels
async def test_fee_left_unpaid(fake_tg: FakeTelegram, bot: Bot, zhang: Owner) -> None:
    """R10: the owner pays later (欠费): recorded with the amount; only the assignee may say so."""
    await register(zhang)
    await quick_order(zhang)
    number = load_number(bot)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    await wang.press("Arrived")
    await wang.press("Done")
    message, later = wang.find_button("Owner pays later")
    zhou = Owner(fake_tg, bot, TgUser(3402, "Zhou", "en"))
    await join(fake_tg, bot, zhou.user, "engineer", "engineering")
    await _refused(zhou, later, "only the engineer who took")
    assert state(bot, number)[0] == "arrived"
    await wang.press_data(later, message)
    order = load(bot, number)
    assert order.status == "done"
    assert [(e.action, e.amount_fen) for e in order.events[-2:]] == [
        ("complete", None),
        ("fee_unpaid", 3000),
    ]
    assert "¥30.00" in told(zhang)[-1]
    replies = await wang.press_data(later, message)  # pressed twice: nothing more
    assert wang.refused(replies, "out of date")
    assert len(load(bot, number).events) == len(order.events)
    # the unpaid fee is on finance's arrears list, and only once
    from store.finance import arrears

    with bot.services.db.unit_of_work() as uow:
        items, count, total = arrears(uow.session)
    assert (count, total) == (1, 3000) and items[0].number == number


def load_number(bot: Bot) -> str:
    """The number of the newest order."""
    with bot.services.db.unit_of_work() as uow:
        return uow.session.scalars(select(Order.number).order_by(Order.id.desc())).first() or ""


async def test_not_home_and_rebooked(fake_tg: FakeTelegram, bot: Bot, alice: Owner) -> None:
    """R7: nobody home → the owner gets a note with Re-book, picks a time; the engineer is told."""
    number = await submit_urgent_public_repair(alice)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    await wang.press("On my way")
    replies = await wang.press("Owner not home")
    assert wang.buttons(replies[0]) == ["🚗 On my way", "📍 Arrived", "↩ Release"]
    note = told(alice)[-1]
    assert "nobody was home" in note and "came at 09:" in note and number in note

    replies = await alice.press("Re-book")
    assert alice.texts(replies)[-1] == f"Which day should we come back for {number}?"
    day = replies[-1]["reply_markup"]["inline_keyboard"][0][1]  # tomorrow
    replies = await alice.press_data(day["callback_data"], replies[-1])
    assert alice.texts(replies)[0].startswith("What time on")
    slot = replies[0]["reply_markup"]["inline_keyboard"][0][0]
    slots = replies[0]
    replies = await alice.press_data(slot["callback_data"], slots)
    when = "Tue 24 Nov 08:00–10:00"
    assert alice.texts(replies) == [f"Booked: we will come back for {number} {when}."]

    order = load(bot, number)
    assert order.status == "claimed" and not order.urgent and order.visit_start is not None
    assert [e.action for e in order.events][-3:] == ["depart", "not_home", "rebook"]
    heard = fake_tg.messages_to(WANG.id)[-1]
    assert heard == f"The owner of {number} re-booked the visit: Tue 24 Nov 08:00–10:00."
    await wang.press("On my way")  # the fresh buttons work
    assert state(bot, number)[0] == "on_the_way"
    before = state(bot, number)
    replies = await alice.press_data(slot["callback_data"], slots)  # a spent button
    assert alice.refused(replies, "out of date")
    assert state(bot, number) == before


async def test_release_and_reclaim(fake_tg: FakeTelegram, bot: Bot, alice: Owner) -> None:
    """Release puts the order back in the group with a new card; someone else takes it."""
    number = await submit_urgent_public_repair(alice)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    replies = await wang.press("Release")
    assert wang.texts(replies) == [f"You released {number}; it is back in the staff group."]
    order = load(bot, number)
    assert order.status == "submitted" and order.assignee_id is None and order.version == 2
    card = fake_tg.sent(STAFF_GROUP)[-1]
    assert number in card["text"] and "新工单" in card["text"]
    assert card["reply_markup"]["inline_keyboard"][0][0]["callback_data"].startswith("o2|claim|")
    assert "gone back to the team" in told(alice)[-1]

    zhou = await claimed_by(fake_tg, bot, TgUser(3402, "Zhou", "en"), number)
    order = load(bot, number)
    assert order.status == "claimed" and order.assignee is not None
    assert order.assignee.name == "Zhou"
    replies = await wang.press_again("On my way")  # wang's old buttons are no longer his
    assert wang.refused(replies, "only the engineer who took")
    replies = await zhou.press("On my way")
    assert state(bot, number)[0] == "on_the_way"


async def test_not_fixed_opens_rework(fake_tg: FakeTelegram, bot: Bot, alice: Owner) -> None:
    """R12: not fixed closes the order and posts a linked W- rework order to the same group."""
    number = await submit_urgent_public_repair(alice)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    await wang.press("Arrived")
    await wang.press("Done")
    replies = await alice.press("Not fixed")
    text = alice.texts(replies)[-1]
    rework_number = text.split("rework order ", 1)[1].split(";", 1)[0]
    assert rework_number.startswith("W-")
    original, rework = load(bot, number), load(bot, rework_number)
    assert original.status == "closed" and original.events[-1].action == "reject"
    assert rework.kind == "rework" and rework.rework_of_id == original.id
    assert rework.status == "submitted" and rework.owner_id == original.owner_id
    assert (rework.unit_id, rework.category, rework.description) == (
        original.unit_id,
        original.category,
        original.description,
    )
    card = fake_tg.sent(STAFF_GROUP)[-1]
    assert rework_number in card["text"] and "返修" in card["text"]
    assert "Li Na" not in card["text"]


async def _outsiders(fake: FakeTelegram, bot: Bot, alice: Owner) -> list[Owner]:
    """Another engineer, a cleaner, the owner and a stranger, each in their own private chat."""
    zhou = Owner(fake, bot, TgUser(3402, "Zhou", "en"))
    await join(fake, bot, zhou.user, "engineer", "engineering")
    qian = Owner(fake, bot, TgUser(3403, "Qian", "en"))
    await join(fake, bot, qian.user, "cleaner", "cleaning")
    eve = Owner(fake, bot, TgUser(3404, "Eve", "en"))
    people = [zhou, qian, alice, eve]
    for person in people:
        await person.send("/help")
    return people


async def _refused(person: Owner, data: str, expected: str) -> None:
    """Press forged `data` in the person's own chat; the reply must contain `expected`."""
    own = person.fake.sent(person.chat_id)[-1]
    replies = await person.press_data(data, own)  # answered on the button (issue 11.5)
    assert person.refused(replies, expected), (person.notice, person.texts(replies))


async def test_only_the_assignee_acts(fake_tg: FakeTelegram, bot: Bot, alice: Owner) -> None:
    """Every action × (other engineer, cleaner, owner, stranger): refused, nothing changes."""
    number = await submit_urgent_public_repair(alice)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    outsiders = await _outsiders(fake_tg, bot, alice)
    details = [m for m in fake_tg.sent(WANG.id) if number in (m.get("text") or "")][-1]
    for action in ("On my way", "Owner not home", "Arrived", "Done"):
        message, _ = wang.find_button(action)
        datas = [
            b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row
        ]
        assert any("|release|" in d for d in datas)
        before = state(bot, number)
        for person in outsiders:
            for data in datas:
                await _refused(person, data, "only the engineer who took")
        assert state(bot, number) == before
        await wang.press(action)
        after = state(bot, number)
        assert after[1] == before[1] + 1 and len(after[2]) == len(before[2]) + 1
        # the details message's buttons are now stale, for the assignee too
        stale = details["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        replies = await wang.press_data(stale, details)
        assert wang.refused(replies, "out of date")
        assert state(bot, number) == after
    assert state(bot, number)[0] == "done"

    # the owner's sign-off is the owner's alone
    message, accept = alice.find_button("Accept")
    before = state(bot, number)
    for person in [wang, *outsiders[:2], outsiders[3]]:
        await _refused(person, accept, "only the owner of")
    assert state(bot, number) == before
    await alice.press_data(accept, message)
    assert state(bot, number)[0] == "accepted"
    replies = await alice.press_data(accept, message)  # pressed twice: stale
    assert alice.refused(replies, "out of date")


@both_channels
async def test_free_public_area_repair_to_rating(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """A public-area repair: no fee question at Done, no bill; accepted and rated 满意 (R9)."""
    from store.models import Bill

    number = await submit_urgent_public_repair(alice)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    await wang.press("On my way")
    await wang.press("Arrived")
    replies = await wang.press("Done")
    assert not any("settled" in t for t in wang.texts(replies))
    await alice.press("Accept")
    await alice.press("Satisfied")
    await alice.press("No comment")
    order = load(bot, number)
    assert order.status == "accepted" and order.rating == "satisfied"
    assert [e.action for e in order.events][:6] == [
        "submitted",
        "claim",
        "depart",
        "arrive",
        "complete",
        "accept",
    ]
    with bot.services.db.unit_of_work() as uow:
        assert uow.session.scalars(select(Bill).where(Bill.order_id == order.id)).first() is None


async def test_an_unsatisfied_rating_is_kept_on_every_database(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """R9, R22: 不满意 after acceptance is stored (PostgreSQL once refused the 11-letter value
    and the owner got an apology instead)."""
    await register(zhang)
    await quick_order(zhang)
    number = load_number(bot)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    await wang.press("Arrived")
    await wang.press("Done")
    await wang.press("Cash collected")
    await zhang.press("验收通过")
    replies = await zhang.press("不满意")
    assert not any("出错" in t or "went wrong" in t for t in zhang.texts(replies))
    assert load(bot, number).rating == "unsatisfied"
