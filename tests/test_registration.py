"""Registration transcripts (R1): auto-verified and pending, with bad input on the way."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from store.models import Identity, Person
from tests.harness import Owner

# the transcripts that need no Telegram-only feature (the share-contact button) run on both
both_channels = pytest.mark.parametrize("channel", ["telegram", "wechat", "web"])


async def test_registration_verified_by_registry_phone(alice: Owner) -> None:
    """The phone on file for the room verifies the owner at once."""
    replies = await alice.send("/start")
    assert "What is your name?" in alice.texts(replies)[-1]
    replies = await alice.send("Li Na")
    assert "Which home" in alice.texts(replies)[-1]
    replies = await alice.send("1-1-101")
    assert "mobile number" in alice.texts(replies)[0]
    assert replies[0]["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    replies = await alice.contact("+8613900001111")
    texts = alice.texts(replies)
    assert "You are registered for 1-1-101" in texts[0]
    assert "What can I do for you?" in texts[-1]
    with alice.bot.services.db.unit_of_work() as uow:
        person = uow.session.scalar(
            select(Person).join(Identity).where(Identity.external_id == "5002")
        )
        assert person is not None
        assert person.owner_status == "verified"
        assert person.phone == "+8613900001111"
        assert person.language == "en"


@both_channels
async def test_registration_pending_in_chinese(zhang: Owner) -> None:
    """Another phone number leaves the registration pending approval."""
    await zhang.send("/start")
    await zhang.send("张伟")
    await zhang.send("3栋2单元1201")
    replies = await zhang.send("139 0000 2222")
    assert "3-2-1201" in zhang.texts(replies)[0]
    with zhang.bot.services.db.unit_of_work() as uow:
        person = uow.session.scalar(select(Person).where(Person.name == "张伟"))
        assert person is not None and person.owner_status == "pending"


@both_channels
async def test_typed_registry_phone_still_needs_staff(alice: Owner) -> None:
    """Typing the number on file is not proof of owning it: the registration stays pending."""
    await alice.send("/start")
    await alice.send("Li Na")
    await alice.send("1-1-101")
    replies = await alice.send("139 0000 1111")
    assert "checked by our staff" in alice.texts(replies)[0]
    with alice.bot.services.db.unit_of_work() as uow:
        person = uow.session.scalar(
            select(Person).join(Identity).where(Identity.external_id == alice.external_id)
        )
        assert person is not None and person.owner_status == "pending"


async def test_someone_elses_shared_contact_does_not_verify(alice: Owner) -> None:
    """A forwarded contact card of the real owner does not verify a different account."""
    await alice.send("/start")
    await alice.send("Li Na")
    await alice.send("1-1-101")
    update = alice.fake.enqueue(
        {
            "message": {
                "message_id": 9000,
                "date": 1795000000,
                "chat": {"id": alice.chat_id, "type": "private"},
                "from": alice.user.to_dict(),
                "contact": {"phone_number": "+8613900001111", "first_name": "Na", "user_id": 1},
            }
        }
    )
    from tests.harness import settle

    await settle(alice.bot, str(update["update_id"]))
    with alice.bot.services.db.unit_of_work() as uow:
        person = uow.session.scalar(
            select(Person).join(Identity).where(Identity.external_id == "5002")
        )
        assert person is not None and person.owner_status == "pending"
