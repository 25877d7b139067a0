"""Long polling that confirms an update to Telegram only after it is committed.

PTB's own Updater confirms a batch with the next getUpdates call, which can happen before the
batch is handled; if the process dies in between, those updates are gone. Here the next
offset is asked for only after every update of the batch went through the desk, so a crash
means Telegram sends the batch again, and the processed-update table drops what was done.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from bot.background import Background
from bot.telegram.confirm import Confirmations

log = logging.getLogger(__name__)
MAX_BACKOFF = 30.0  # seconds between tries while the database refuses writes


class DurablePolling:
    """A getUpdates loop feeding a PTB Application (built with `updater(None)`)."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        confirmations: Confirmations,
        timeout: int = 10,
    ) -> None:
        self.application = application
        self.confirmations = confirmations
        self.timeout = timeout
        self._runner = Background("telegram-polling", self._loop)
        self._offset: int | None = None

    async def start(self) -> None:
        """Drop any webhook (Telegram refuses getUpdates while one is set) and start polling."""
        await self.application.bot.delete_webhook()
        self._runner.start()

    async def stop(self) -> None:
        """Stop polling; a batch cut short is not confirmed, so Telegram sends it again."""
        await self._runner.stop()

    async def _loop(self) -> None:
        failures = 0
        stuck = 0  # batches in a row that could not be committed
        while True:
            try:
                updates = await self.application.bot.get_updates(
                    offset=self._offset,
                    timeout=self.timeout,
                    allowed_updates=Update.ALL_TYPES,
                )
                failures = 0
            except InvalidToken:
                log.error("Telegram rejected the bot token; polling stopped")
                raise
            except (RetryAfter, Conflict, NetworkError, TelegramError) as exc:
                failures += 1
                delay = min(2.0**failures, 30.0)
                log.warning("getUpdates failed (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            if not updates:
                continue
            await self._handle(updates)
            failed = self.confirmations.take_failed(u.update_id for u in updates)
            if failed:  # confirm only what came before the first update that did not commit
                self._offset = failed[0]
                stuck += 1
                self.confirmations.trouble(len(failed), "polling asks for them again")
                await asyncio.sleep(min(2.0 ** (stuck - 1), MAX_BACKOFF))
                continue
            stuck = 0
            self.confirmations.fine()
            self._offset = updates[-1].update_id + 1

    async def _handle(self, updates: tuple[Update, ...]) -> None:
        application = self.application
        # chats run concurrently, each chat in order (the update processor's per-chat locks)
        await asyncio.gather(
            *(
                application.update_processor.process_update(u, application.process_update(u))
                for u in updates
            ),
            return_exceptions=True,
        )
