"""Long polling confirms an update only after it is committed; chats run concurrently."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import bot.telegram.app as telegram_app
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import FakeClock, Owner, paragraphs, seed_examples, settle, start_bot


class Died(Exception):
    """Stands for the process dying before the transaction commits."""


async def test_an_update_in_flight_when_the_process_dies_is_handled_after_restart(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is lost: the update comes back from Telegram and is answered exactly once."""
    entered, release = threading.Event(), threading.Event()

    def dies_midway(*args: Any) -> bool:
        entered.set()
        release.wait(10)
        raise Died

    monkeypatch.setattr(telegram_app, "handle_inbound", dies_midway)
    first = await start_bot(fake_tg, db_url, clock)
    seed_examples(first.services)
    user = TgUser(id=8001, first_name="Crash", language_code="en")
    update = fake_tg.user_text(user, "/start")
    await asyncio.to_thread(entered.wait, 5)
    await first.stop()
    monkeypatch.undo()

    second = await start_bot(fake_tg, db_url, clock)
    try:
        await settle(second, str(update["update_id"]))
        said = paragraphs(fake_tg.messages_to(8001))  # handled once: said once
        assert len(said) == 2 and "Welcome" in said[0] and "name" in said[1]
    finally:
        release.set()
        await second.stop()


async def test_one_chat_in_order_while_another_chat_is_served(
    fake_tg: FakeTelegram, db_url: str, clock: FakeClock
) -> None:
    """Messages of one chat are handled in the order sent; other chats are not held up."""
    running = await start_bot(fake_tg, db_url, clock)
    seed_examples(running.services)
    try:
        alice = Owner(fake_tg, running, TgUser(id=8101, first_name="A", language_code="en"))
        bob = Owner(fake_tg, running, TgUser(id=8102, first_name="B", language_code="en"))
        ups = [
            fake_tg.user_text(alice.user, "/start"),
            fake_tg.user_text(bob.user, "/start"),
            fake_tg.user_text(alice.user, "Alice Wang"),
            fake_tg.user_text(bob.user, "Bob Li"),
            fake_tg.user_text(alice.user, "1-1-101"),
        ]
        for u in ups:
            await settle(running, str(u["update_id"]))
        alice_texts = paragraphs(fake_tg.messages_to(8101))
        assert "name" in alice_texts[1]
        assert "Which home" in alice_texts[2]
        assert "mobile number" in alice_texts[3]
        assert "Which home" in fake_tg.messages_to(8102)[-1]
    finally:
        await running.stop()
