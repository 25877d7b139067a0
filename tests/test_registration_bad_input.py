"""Bad input during registration and outside dialogs: a clear reply, nothing half-stored."""

from __future__ import annotations

from sqlalchemy import func, select

from store.models import Conversation, Person
from tests.fake_telegram import TgChat, TgUser
from tests.harness import STAFF_GROUP, Owner


def _people(owner: Owner) -> int:
    with owner.bot.services.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Person)) or 0)


def _step(owner: Owner) -> str:
    with owner.bot.services.db.unit_of_work() as uow:
        convo = uow.session.scalar(
            select(Conversation).where(Conversation.chat_id == str(owner.chat_id))
        )
        return convo.step if convo else "none"


async def test_unknown_room_then_did_you_mean(alice: Owner) -> None:
    """An unknown room is refused; a near miss offers the right one as a button."""
    await alice.send("/start")
    await alice.send("Li Na")
    replies = await alice.send("9-9-9999")
    assert "could not find" in alice.texts(replies)[0]
    replies = await alice.send("1-1-110")
    assert "Did you mean" in alice.texts(replies)[0]
    assert "1-1-101" in alice.buttons(replies[0])
    replies = await alice.press("1-1-101")
    assert "mobile number" in alice.texts(replies)[0]
    assert _people(alice) == 0


async def test_invalid_phone_and_photo_instead_of_name(alice: Owner) -> None:
    """A photo where a name is expected and a bad phone number both get a polite reply."""
    await alice.send("/start")
    replies = await alice.photo("AgACphoto1")
    assert "type your name" in alice.texts(replies)[0]
    await alice.send("Li Na")
    await alice.send("1-1-101")
    for bad in ("12345", "call me maybe", "+1 555 0100"):
        replies = await alice.send(bad)
        assert "valid phone number" in alice.texts(replies)[0], bad
    assert _step(alice) == "reg_phone" and _people(alice) == 0
    replies = await alice.send("/cancel")
    assert "Registration cancelled" in alice.texts(replies)[0]
    assert _step(alice) == "idle" and _people(alice) == 0


async def test_over_long_name(alice: Owner) -> None:
    """A name over 50 characters is refused."""
    await alice.send("/start")
    replies = await alice.send("x" * 51)
    assert "under 50 characters" in alice.texts(replies)[0]
    assert _step(alice) == "reg_name"


async def test_unknown_command_and_menu_before_registering(alice: Owner) -> None:
    """Unknown commands get a hint; menu buttons before registering start registration."""
    replies = await alice.send("/frobnicate")
    assert "do not know that command" in alice.texts(replies)[0]
    replies = await alice.send("/repair")
    assert "What is your name?" in alice.texts(replies)[-1]


async def test_stale_and_forged_buttons(alice: Owner) -> None:
    """An old step's button or made-up callback data changes nothing."""
    await alice.send("/start")
    await alice.send("Li Na")
    room_question = alice.last[-1]
    await alice.send("1-1-101")
    _, back_data = alice.find_button("Back")
    replies = await alice.press_data(back_data.replace(back_data.split("|")[0], "0"), room_question)
    assert alice.refused(replies, "out of date")  # on the button (issue 11.5)
    replies = await alice.press_data("garbage", room_question)
    assert alice.refused(replies, "out of date")
    assert _step(alice) == "reg_phone"


async def test_stranger_in_the_staff_group_is_told_politely(fake_tg, bot) -> None:  # type: ignore[no-untyped-def]
    """A non-staff member writing in the staff group gets a polite pointer, nothing else."""
    stranger = Owner(
        fake_tg,
        bot,
        TgUser(id=6001, first_name="Eve", language_code="en"),
        chat=TgChat(id=STAFF_GROUP, type="supergroup", title="Staff"),
    )
    replies = await stranger.send("hello, who fixes the lift?")
    assert "group is for property staff" in stranger.texts(replies)[0]
    assert _people(stranger) == 0


async def test_someone_elses_button_in_a_private_chat_is_refused(
    fake_tg, bot, alice: Owner
) -> None:  # type: ignore[no-untyped-def]
    """A callback whose sender is not the chat's owner is refused."""
    await alice.send("/start")
    question = alice.last[-1]
    intruder = TgUser(id=6666, first_name="Mallory", language_code="en")
    update = fake_tg.user_press(intruder, "g|requests|", question, strict=False)
    update["callback_query"]["message"]["chat"] = {"id": alice.chat_id, "type": "private"}
    from tests.harness import answered, settle

    before = fake_tg.messages_to(alice.chat_id)
    await settle(bot, str(update["update_id"]))
    # told on the button, to the presser alone (issue 11.5); nothing in alice's chat
    assert "not for you" in str((await answered(fake_tg, update)).params.get("text"))
    assert fake_tg.messages_to(alice.chat_id) == before
