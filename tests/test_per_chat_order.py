"""Updates of one chat run strictly in order, even when a third arrives mid-queue."""

from __future__ import annotations

import asyncio

from telegram import Chat, Message, Update

from bot.telegram.app import PerChatOrder


def _update(update_id: int, chat_id: int) -> Update:
    chat = Chat(chat_id, "private")
    return Update(update_id, message=Message(update_id, None, chat))  # type: ignore[arg-type]


async def test_one_chat_never_runs_two_updates_at_once() -> None:
    """Peak concurrency per chat stays 1, order is kept; other chats overlap freely."""
    processor = PerChatOrder()
    running: dict[int, int] = {}
    peak: dict[int, int] = {}
    order: list[int] = []

    async def work(update: Update, delay: float) -> None:
        chat = update.effective_chat.id  # type: ignore[union-attr]
        running[chat] = running.get(chat, 0) + 1
        peak[chat] = max(peak.get(chat, 0), running[chat])
        await asyncio.sleep(delay)
        order.append(update.update_id)
        running[chat] -= 1

    async def submit(update_id: int, chat: int, delay: float) -> None:
        update = _update(update_id, chat)
        await processor.process_update(update, work(update, delay))

    first = asyncio.create_task(submit(1, 10, 0.05))
    await asyncio.sleep(0)
    second = asyncio.create_task(submit(2, 10, 0.05))
    other = asyncio.create_task(submit(9, 20, 0.01))
    await first  # the moment the first finishes, a third update of the chat arrives
    third = asyncio.create_task(submit(3, 10, 0.01))
    await asyncio.gather(second, third, other)
    assert peak[10] == 1
    assert [u for u in order if u != 9] == [1, 2, 3]
    assert processor._locks == {}
