"""The Bot API client for sends: PTB's HTTPX request with a gate in front of httpcore's pool."""

from __future__ import annotations

import asyncio

from telegram._utils.types import ODVInput
from telegram.error import TimedOut
from telegram.request import HTTPXRequest, RequestData


class GatedRequest(HTTPXRequest):
    """At most `connection_pool_size` requests are inside httpx at once; the others wait here,
    first come first served (issue 15.4). httpcore's pool walks every queued request against
    every connection each time a request starts or a response closes: with a storm's lanes
    and the button answers queued in it (dozens against 16 connections) that bookkeeping
    made a send cost about three times the echo bot's. `pool_timeout` bounds the wait here,
    as it bounded the wait for a connection (TimedOut: the outbox retries)."""

    def __init__(self, connection_pool_size: int, pool_timeout: float) -> None:
        super().__init__(connection_pool_size=connection_pool_size, pool_timeout=pool_timeout)
        self._gate = asyncio.Semaphore(connection_pool_size)
        self._gate_timeout = pool_timeout

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = HTTPXRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Wait for a free place (up to the pool timeout), then send as PTB does."""
        try:
            await asyncio.wait_for(self._gate.acquire(), self._gate_timeout)
        except TimeoutError as exc:
            raise TimedOut("all Bot API connections stayed busy") from exc
        try:
            return await super().do_request(
                url,
                method,
                request_data,
                read_timeout,
                write_timeout,
                connect_timeout,
                pool_timeout,
            )
        finally:
            self._gate.release()
