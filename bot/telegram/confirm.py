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


# an update that fails this often while others are committed fails on its own (a bug, bad
# data), not for want of a writable database: it is given up rather than block polling
POISON_TRIES = 3


class Confirmations:
    """Updates that could not be committed, and whether we are in an episode of them."""

    def __init__(self) -> None:
        self._failed: set[int] = set()
        self._chats: set[object] = set()  # chats with an update that must come again
        self._tries: dict[int, tuple[int, int]] = {}  # update -> (failures, commits before)
        self._commits = 0
        self.troubled = False

    def committed(self, update_id: int) -> None:
        """The update (its turn or its apology) is committed."""
        self._commits += 1
        self._tries.pop(update_id, None)

    def failed(self, update_id: int, chat: object, *, raised: bool = True) -> None:
        """Nothing of this update was committed: it must come again (and so must every later
        update of its chat in the same batch, or the chat's order would break; those are
        held back, `raised=False`)."""
        self._failed.add(update_id)
        self._chats.add(chat)
        if raised:
            tries, since = self._tries.get(update_id, (0, self._commits))
            self._tries[update_id] = (tries + 1, since)

    def chat_failed(self, chat: object) -> bool:
        """An update of this chat was not committed in the batch being handled."""
        return chat in self._chats

    def take_failed(self, update_ids: Iterable[int]) -> list[int]:
        """Which of these updates must come again (each is reported once); the batch is over,
        so the next one starts with no chat held back. One that failed POISON_TRIES times
        while other updates were committed is given up instead."""
        failed = sorted(u for u in update_ids if u in self._failed)
        self._failed.difference_update(failed)
        self._chats.clear()
        again = []
        for update_id in failed:
            tries, since = self._tries.get(update_id, (0, self._commits))
            if tries >= POISON_TRIES and self._commits > since:
                del self._tries[update_id]
                log.error(
                    "update %s failed %d times while other updates were committed: given up "
                    "(confirmed to Telegram without being handled)",
                    update_id,
                    tries,
                )
            else:
                again.append(update_id)
        return again

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
