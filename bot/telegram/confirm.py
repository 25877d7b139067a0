"""Which updates may be confirmed to Telegram: only those committed (or with nothing to commit).

When the database refuses writes (a full disk, a read-only file), an update cannot be
committed and must not be confirmed, neither by moving the polling offset past it nor by
answering its webhook request 200: Telegram keeps undelivered updates for 24 hours and sends
them again. Such trouble is logged once per episode, not once per update.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)


class Confirmations:
    """Updates that could not be committed, and whether we are in an episode of them."""

    def __init__(self) -> None:
        self._failed: set[int] = set()
        self._chats: set[object] = set()  # chats with an update that must come again
        self.troubled = False

    def failed(self, update_id: int, chat: object) -> None:
        """Nothing of this update was committed: it must come again (and so must every later
        update of its chat in the same batch, or the chat's order would break)."""
        self._failed.add(update_id)
        self._chats.add(chat)

    def chat_failed(self, chat: object) -> bool:
        """An update of this chat was not committed in the batch being handled."""
        return chat in self._chats

    def take_failed(self, update_ids: Iterable[int]) -> list[int]:
        """Which of these updates were not committed (each is reported once); the batch is
        over, so the next one starts with no chat held back."""
        failed = sorted(u for u in update_ids if u in self._failed)
        self._failed.difference_update(failed)
        self._chats.clear()
        return failed

    def trouble(self, count: int, how: str) -> None:
        """Log the start of an episode of uncommitted updates (once, however long it lasts)."""
        if self.troubled:
            return
        self.troubled = True
        log.error(
            "updates cannot be committed (the database refuses writes): %d not confirmed to "
            "Telegram, which keeps them for 24 hours; %s until the database takes writes again",
            count,
            how,
        )

    def fine(self) -> None:
        """Updates commit again: log the end of the episode."""
        if self.troubled:
            self.troubled = False
            log.warning("updates are committed again; confirming them to Telegram")
