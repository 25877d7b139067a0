"""Owner text is data (issue 11.1): what an owner (or engineer) types stays inside its field in
every staff message — the job card, the engineer's details, the approval request, the quote for
the supervisor, reassignment and callback messages — so it can never pass for the desk's lines."""

from __future__ import annotations

from handlers.i18n import translator
from handlers.owner_text import QUOTE_MARK, field_text, one_line
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import STAFF_GROUP, Bot, Owner, staff_member, sweep
from tests.test_engineer import WANG, claimed_by, load_number
from tests.test_jobs import join
from tests.test_quotes import press_action
from tests.test_repair import both_channels, tap, to_desc

AGENT = TgUser(5201, "Agent Sun", "en")
BOSS = TgUser(3601, "Boss", "en")
ZHOU = TgUser(3402, "Zhou", "en")


def desk_lines(language: str) -> list[str]:
    """Lines the desk itself writes in staff messages, filled with values it would never write
    for this order (another room, a free price, five photos, someone else's claim...)."""
    _ = translator(language)
    return [
        _("Where: public area near {building}").format(building="9-9"),
        _("Price: {price}").format(price=_("{amount}, agreed by the owner").format(amount="¥0.00")),
        _("Photos: {count}").format(count=5),
        _("✅ Taken by {name} at {time}").format(name="Mallory", time="09:00"),
        _("👤 Assigned to {name} by {actor} at {time}").format(
            name="Mallory", actor="Boss", time="09:00"
        ),
        _("Contact phone: {phone}").format(phone="+8613900000000"),
        _("Owner: {name}").format(name="Mallory"),
        _("When: {when}").format(when="11-30 10:00-12:00"),
        _("After the call, record how satisfied the owner is:"),
        "fee: free",
    ]


FORGED = [line for language in ("en", "zh") for line in desk_lines(language)]
FORGED_TEXT = "The pipe under the sink leaks\n" + "\n".join(FORGED)
FORGED_NAME = "Li Na\n" + "\n".join(desk_lines("en")[5:7])
FORGED_QUOTE = "Replace the pipe\r\n" + "\u2028".join(desk_lines("en")[1:5])


def staff_lines(fake: FakeTelegram, *chats: int) -> list[str]:
    """Every line of every message (sends and edits) the bot wrote into staff chats."""
    return [line for chat in chats for text in fake.messages_to(chat) for line in text.split("\n")]


def assert_no_forged_line(lines: list[str], desk_wrote: tuple[str, ...] = ()) -> None:
    """No line starts like one of the desk's own lines, except the ones the desk wrote."""
    for line in lines:
        for forged in FORGED:
            assert line in desk_wrote or not line.startswith(forged), (line, forged)


@both_channels
async def test_owner_text_cannot_forge_a_staff_line(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """Forged lines in a name, a description and a quote reach staff only inside their field."""
    agent = await staff_member(fake_tg, bot, AGENT, "agent")
    await join(fake_tg, bot, BOSS, "supervisor", "engineering")
    boss = Owner(fake_tg, bot, BOSS)
    await join(fake_tg, bot, ZHOU, "engineer", "engineering")
    zhou = Owner(fake_tg, bot, ZHOU)

    # a typed phone is not proven: the registration goes to the agent for approval
    await alice.send("/start")
    await alice.send(FORGED_NAME)
    await alice.send("1-1-101")
    await alice.send("13900001111")
    approval = [t for t in fake_tg.messages_to(AGENT.id) if "registration" in t][-1]
    assert one_line(FORGED_NAME) in approval and "\n" not in approval
    await agent.press("Approve")

    # a repair quoted on site whose description tries to add card lines
    await to_desc(alice, item="PL07")
    await alice.send(FORGED_TEXT)
    await tap(alice, "photos_done")
    await tap(alice, "when", "now")
    await tap(alice, "phone", "mine")
    await tap(alice, "quote", "ack")
    await tap(alice, "submit")
    number = load_number(bot)

    await claimed_by(fake_tg, bot, WANG, number)  # card edited, details to Wang
    await boss.send("/board")
    await boss.press("Reassign")
    await boss.press("Zhou")  # card edited, details to Zhou, Wang told
    await zhou.press("Arrived")
    await zhou.press("Quote on site")
    await zhou.press("Amount not on the list")
    await zhou.send("120")
    await zhou.send(FORGED_QUOTE)  # the supervisor is asked to approve it
    lines = staff_lines(fake_tg, STAFF_GROUP, AGENT.id, BOSS.id, WANG.id, ZHOU.id)
    assert_no_forged_line(lines)
    # the owner's words did arrive, each further line marked as the owner's
    problem = field_text(FORGED_TEXT, 500).split("\n")
    assert any(line.endswith(problem[0]) for line in lines)
    assert QUOTE_MARK + FORGED[1] in lines and QUOTE_MARK + FORGED[-2] in lines
    assert any(line == QUOTE_MARK + FORGED[3] for line in lines)
    request = [t for t in fake_tg.messages_to(BOSS.id) if "not on the price list" in t][-1]
    assert "Replace the pipe" in request and QUOTE_MARK + FORGED[1] in request.split("\n")


@both_channels
async def test_a_callback_call_keeps_the_description_in_its_field(
    fake_tg: FakeTelegram, bot: Bot, alice: Owner
) -> None:
    """An "average" rating (R22): the agent who takes the call sees the description quoted."""
    agent = await staff_member(fake_tg, bot, AGENT, "agent")
    await alice.send("/start")
    await alice.send(FORGED_NAME)
    await alice.send("1-1-101")
    await alice.contact("+8613900001111")
    await to_desc(alice, where="public")
    await alice.send(FORGED_TEXT)
    await tap(alice, "photos_done")
    await tap(alice, "when", "now")
    await tap(alice, "phone", "mine")
    await tap(alice, "submit")
    number = load_number(bot)
    wang = await claimed_by(fake_tg, bot, WANG, number)
    await wang.press("Arrived")
    await wang.press("Done")
    await press_action(alice, "accept")
    await tap_rating(alice, "average")  # 一般: a call at once (R22)
    await sweep(bot)
    await agent.press("Take")
    taken = [t for t in fake_tg.messages_to(AGENT.id) if "You took the callback" in t]
    assert len(taken) == 1
    prompt = "After the call, record how satisfied the owner is:"  # the desk's own, once
    assert taken[0].split("\n").count(prompt) == 1
    assert_no_forged_line(taken[0].split("\n"), desk_wrote=(prompt,))
    assert QUOTE_MARK + FORGED[1] in taken[0].split("\n")
    assert_no_forged_line(staff_lines(fake_tg, STAFF_GROUP, AGENT.id, WANG.id), (prompt,))


async def tap_rating(owner: Owner, rating: str) -> None:
    """Press the owner's rating button for `rating` (satisfied, average, unsatisfied)."""
    for message in reversed(owner.fake.sent(owner.chat_id)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                data = button["callback_data"]
                if data.split("|")[1] == "rate" and data.endswith(rating):
                    await owner.press_data(data, message)
                    return
    raise AssertionError(f"no rating button {rating}")
