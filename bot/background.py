"""A long-running task of the bot process that starts once and stops cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class Background:
    """Runs `loop()` as a named asyncio task until stopped."""

    def __init__(self, name: str, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.name = name
        self._loop = loop
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the task unless it is already running."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self, grace: float = 0.0) -> None:
        """Give the task `grace` seconds to end by itself, then cancel it and wait for it."""
        if self._task is None:
            return
        # wait() neither raises the task's CancelledError nor swallows our own
        if grace > 0:
            await asyncio.wait([self._task], timeout=grace)
        self._task.cancel()
        await asyncio.wait([self._task])
        self._task = None
