"""Commands as people really send them (issue 11.7, 11.11): commands for another bot are left
alone, the staff group is pointed to the private chat, a /start payload that is not an
invitation starts registration and is kept as the source, and edits are not taken silently."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from store.models import Person
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import Bot, Owner
from tests.test_jobs import join
from tests.test_repair import both_channels, convo_state, register, tap


async def test_cancel_for_another_bot_is_ignored(alice: Owner) -> None:
    """`/cancel@otherbot` leaves our dialog alone and gets no answer; `/cancel@ours` works."""
    await register(alice)
    await tap(alice, "repair")
    await tap(alice, "where", "public")
    alice.fake.user_text(alice.user, "/cancel@otherbot")  # ignored: nothing to wait for
    alice.fake.user_text(alice.user, "/help@some_other_bot")
    replies = await alice.send("/language")  # handled after them, in order
    assert len(replies) == 1 and convo_state(alice)[0] == "rep_category"
    await alice.send("/cancel@propdesk_test_bot")
    assert convo_state(alice)[0] == "idle"


async def test_staff_group_is_sent_to_the_private_chat(fake_tg: FakeTelegram, bot: Bot) -> None:
    """In the staff group, /repair, /start x and menu words get one brief pointer to the
    private chat; staff chatter and other bots' commands get nothing."""
    wang = await join(fake_tg, bot, TgUser(3601, "Wang", "en"), "engineer", "engineering")
    for text in ("/repair", "/start x", "Report a repair", "报修"):
        replies = await wang.send(text)
        assert len(replies) == 1 and "private chat" in wang.texts(replies)[0], text
        assert "do not know" not in wang.texts(replies)[0]
    assert await wang.send("lunch at 12?") == []
    wang.fake.user_text(wang.user, "/repair@otherbot", chat=wang.chat)  # ignored
    assert len(await wang.send("/board")) == 1  # only this one answered


@both_channels
async def test_start_payload_that_is_not_an_invitation_starts_registration(
    alice: Owner, bot: Bot
) -> None:
    """A QR code's `?start=building3` starts registration (not "invalid invitation") and the
    payload is kept as where the owner came from."""
    replies = await alice.send("/start building3")
    texts = " ".join(alice.texts(replies))
    assert "not valid" not in texts and "What is your name?" in texts
    await alice.send("Li Na")
    await alice.send("1-1-101")
    await alice.contact("+8613900001111") if alice.channel == "telegram" else await alice.send(
        "13900001111"
    )
    with bot.services.db.unit_of_work() as uow:
        person = uow.session.scalars(select(Person).where(Person.name == "Li Na")).one()
        assert person.source == "building3" and person.unit_id is not None


async def test_an_edit_is_answered_not_ignored(fake_tg: FakeTelegram, alice: Owner) -> None:
    """An edited message gets a clear answer and changes nothing (the step and draft stay)."""
    await register(alice)
    await tap(alice, "repair")
    await tap(alice, "where", "public")
    await tap(alice, "cat", "plumbing")
    sent = fake_tg.user_text(alice.user, "Lobby tap drips")
    await alice._exchange(sent)
    before = convo_state(alice)
    edit: dict[str, Any] = {
        "edited_message": {**sent["message"], "text": "Lobby tap pours", "edit_date": 1}
    }
    replies = await alice._exchange(fake_tg.enqueue(edit))
    assert "edited" in alice.texts(replies)[0] and "new message" in alice.texts(replies)[0]
    assert convo_state(alice) == before and before[1]["desc"] == "Lobby tap drips"
