"""Repeated and refused presses are answered on the button itself (issue 11.5): ten quick
presses give one result; the other nine get the callback query's own notice, privately and in
the presser's language, and no chat message; refusals of group-card buttons never reach the
group. A step that answers a press replaces the pressed message (issue 11.6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from store.models import Order, OrderEvent
from tests.fake_telegram import Call, FakeTelegram, TgUser
from tests.harness import STAFF_GROUP, Bot, Owner, answered, settle
from tests.test_engineer import WANG, claimed_by, load_number
from tests.test_jobs import GROUP, join, submit_urgent_public_repair
from tests.test_repair import find_action, quick_order, register, tap

SENDS = ("sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup")
EDITS = ("editMessageText", "editMessageReplyMarkup", "editMessageCaption")


@dataclass
class Burst:
    """What ten quick presses of one button caused."""

    answers: list[Call]  # answerCallbackQuery of each press, in press order
    sends: dict[int, int]  # new messages per chat
    edits: dict[int, int]  # edits per chat
    texts: dict[int, list[str]]  # what was sent or edited into each chat

    def notices(self) -> list[str]:
        """The texts of the answers that had one."""
        return [str(a.params["text"]) for a in self.answers if a.params.get("text")]


async def burst(person: Owner, data: str, message: dict[str, Any], times: int = 10) -> Burst:
    """Press the same button `times` times before the bot has answered the first."""
    fake, start = person.fake, len(person.fake.calls)
    updates = [
        fake.user_press(person.user, data, message, strict=False) for _ in range(times)
    ]
    for update in updates:
        await settle(person.bot, str(update["update_id"]))
    answers = [await answered(fake, update) for update in updates]
    sends: dict[int, int] = {}
    edits: dict[int, int] = {}
    texts: dict[int, list[str]] = {}
    for call in fake.calls[start:]:
        if call.failed or call.method not in SENDS + EDITS:
            continue
        chat = int(call.params["chat_id"])
        bucket = sends if call.method in SENDS else edits
        bucket[chat] = bucket.get(chat, 0) + 1
        texts.setdefault(chat, []).append(str(call.params.get("text") or ""))
    person.seen = len(fake.sent(person.chat_id))
    return Burst(answers, sends, edits, texts)


def _count(bot: Bot, model: Any, **where: Any) -> int:
    with bot.services.db.unit_of_work() as uow:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(uow.session.scalar(query) or 0)


async def test_ten_submits_file_one_order_and_nine_notices(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """Submit pressed ten times: one order, one answer in the chat (the summary becomes the
    confirmation and the menu), nine 'out of date' notices on the button."""
    await register(alice)
    await tap(alice, "repair")
    await tap(alice, "where", "public")
    await tap(alice, "cat", "plumbing")
    await alice.send("Water on the stairs")
    await tap(alice, "photos_done")
    await tap(alice, "when", "book")
    await tap(alice, "date", "20261124")
    await tap(alice, "slot", "202611241000")
    await tap(alice, "phone", "mine")
    message, data = find_action(alice, "submit")
    result = await burst(alice, data, message)
    assert _count(bot, Order) == 1
    assert len(result.notices()) == 9
    assert all("out of date" in n for n in result.notices())
    chat = alice.chat_id
    said = result.texts[chat]
    assert not any("out of date" in t for t in said), said
    assert sum("is registered" in t for t in said) == 1, said
    # the one result: the summary edited into the confirmation with the menu under it (the
    # end of the flow), nothing else to the owner
    assert result.edits.get(chat, 0) == 1 and result.sends.get(chat, 0) == 0, said
    assert said[-1].endswith("\n\nWhat can I do for you?")
    edited = fake_tg.message(chat, message["message_id"])
    assert edited is not None and "is registered" in edited["text"]


async def test_ten_claims_by_one_engineer_say_nothing_in_the_group(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """Claim pressed ten times by the same engineer: he gets the job once; the group sees only
    the card's edit; the other presses are told privately 'you already took it' (R6)."""
    number = await submit_urgent_public_repair(alice)
    wang = await join(fake_tg, bot, WANG, "engineer", "engineering")
    card = [m for m in fake_tg.sent(STAFF_GROUP) if number in (m.get("text") or "")][-1]
    claim = card["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    result = await burst(wang, claim, card)
    assert _count(bot, OrderEvent, action="claim") == 1
    assert result.sends.get(STAFF_GROUP, 0) == 0
    assert result.edits.get(STAFF_GROUP, 0) == 1
    notices = result.notices()
    assert len(notices) == 9 and all(n == f"You already took {number}." for n in notices)
    assert not any(a.params.get("show_alert") for a in result.answers)
    # one set of details in his private chat, nothing about himself having it
    assert result.sends.get(WANG.id, 0) >= 1
    assert not any("already taken" in t for t in result.texts.get(WANG.id, []))

    # a second engineer's press: an alert naming the holder, still nothing in the group
    zhou = await join(fake_tg, bot, TgUser(3411, "Zhou", "en"), "engineer", "engineering")
    late = await burst(zhou, claim, card, times=1)
    assert late.notices() == [f"{number} is already taken by Wang."]
    assert late.answers[0].params.get("show_alert") is True
    assert not late.sends and not late.edits


async def test_refusals_of_group_card_buttons_are_private_notices(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """A stranger, a cleaner and an engineer pressing Assign are refused on the button, in
    their own language, and the group hears nothing of it."""
    number = await submit_urgent_public_repair(alice)
    card = [m for m in fake_tg.sent(STAFF_GROUP) if number in (m.get("text") or "")][-1]
    claim, assign = (b["callback_data"] for b in card["reply_markup"]["inline_keyboard"][0])
    stranger = Owner(fake_tg, bot, TgUser(3421, "Eve", "en"), chat=GROUP)
    cleaner = await join(fake_tg, bot, TgUser(3422, "钱", "zh-hans"), "cleaner", "cleaning")
    engineer = await join(fake_tg, bot, TgUser(3423, "Zhou", "en"), "engineer", "engineering")
    for person, data, expected in (
        (stranger, claim, "only engineering staff"),
        (cleaner, claim, "工程"),
        (engineer, assign, "only the engineering supervisor"),
    ):
        result = await burst(person, data, card, times=1)
        assert not result.sends and not result.edits, result.texts
        assert expected in result.notices()[0], result.notices()
        assert result.answers[0].params.get("show_alert") is True
    assert _count(bot, OrderEvent, action="claim") == 0


async def test_ten_ratings_store_one(fake_tg: FakeTelegram, bot: Bot, alice: Owner) -> None:
    """A rating pressed ten times is stored once; nine notices, no extra chat messages."""
    number = await submit_urgent_public_repair(alice)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    for action in ("On my way", "Arrived", "Done"):
        await wang.press(action)
    await alice.press("Accept")
    message, data = alice.find_button("Satisfied")
    result = await burst(alice, data, message)
    assert _count(bot, OrderEvent, action="rate") == 1
    assert len(result.notices()) == 9 and all("out of date" in n for n in result.notices())
    said = result.texts[alice.chat_id]
    assert not any("out of date" in t for t in said)
    assert result.edits.get(alice.chat_id, 0) + result.sends.get(alice.chat_id, 0) == 1, said


async def test_ten_approvals_decide_once(fake_tg: FakeTelegram, bot: Bot, alice: Owner) -> None:
    """An agent's Approve of a registration pressed ten times: one decision, nine notices."""
    from tests.test_approvals import _agent, _pending, _status

    agent = await _agent(fake_tg, bot)
    await _pending(alice)
    message, data = agent.find_button("Approve")
    result = await burst(agent, data, message)
    assert _status(alice) == "verified"
    notices = result.notices()
    assert len(notices) == 9 and all("already handled" in n for n in notices)
    said = result.texts[agent.chat_id]
    assert sum("Approved" in t for t in said) == 1 and not any("already" in t for t in said)
    confirmed = [t for t in result.texts.get(alice.chat_id, []) if "confirmed" in t]
    assert len(confirmed) == 1


async def test_a_stale_engineer_press_is_a_notice_without_a_message(
    fake_tg: FakeTelegram, bot: Bot, zhang: Owner
) -> None:
    """An old On-my-way pressed again after Arrived: a notice in Chinese, nothing in the chat."""
    await register(zhang)
    await quick_order(zhang)
    number = load_number(bot)
    wang = await claimed_by(fake_tg, bot, TgUser(3431, "王", "zh-hans"), number)
    message, data = wang.find_button("出发")
    await wang.press_data(data, message)
    before = len(fake_tg.sent(wang.chat_id))
    await wang.press_data(data, message)
    assert wang.notice == "这个按钮已失效，未做任何更改。"
    assert len(fake_tg.sent(wang.chat_id)) == before


async def test_an_edit_telegram_refuses_goes_as_a_new_message(
    fake_tg: FakeTelegram, bot: Bot
) -> None:
    """Editing a photo's caption message as text, or a message that is gone, is refused by
    Telegram: the words are sent as a new message instead, never lost (issue 11.6)."""
    from bot.outbox import Delivered
    from bot.telegram.delivery import TelegramDelivery
    from handlers.messages import Button, Outbound

    delivery = TelegramDelivery(bot.desk.application.bot)
    photo = await delivery.deliver(Outbound("7001", "", photo="AgACphoto"))
    assert isinstance(photo, Delivered) and photo.external_id is not None
    for target in (photo.external_id, "999999"):
        result = await delivery.deliver(
            Outbound("7001", "Next step?", [[Button("OK", "1|ok|")]], edit_message_id=target)
        )
        assert isinstance(result, Delivered) and result.external_id not in (target, None)
        sent = fake_tg.message(7001, int(str(result.external_id)))
        assert sent is not None and sent["text"] == "Next step?"
        assert sent["reply_markup"]["inline_keyboard"][0][0]["text"] == "OK"
    text = await delivery.deliver(Outbound("7001", "Same"))
    assert isinstance(text, Delivered)
    again = await delivery.deliver(Outbound("7001", "Same", edit_message_id=text.external_id))
    assert again == Delivered(text.external_id)  # not modified: it already says so
    assert len(fake_tg.calls_of("sendMessage", include_failed=False)) == 3
