"""The access token, kept in the database so every worker uses the same one.

Fetching a token invalidates the previous one after a short grace, so workers must not each
fetch their own: one worker takes the refresh with a conditional update on the row's version
(with a lease in case it dies), the others wait for the new version and read it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from bot.wechat.api import TOKEN_ERRORS, ApiError
from store import wechat as store
from store.clock import Clock
from store.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T")
EARLY = timedelta(minutes=5)  # refresh this long before WeChat's expiry
LEASE_SECONDS = 30.0


class TokenSource(Protocol):
    """Where a new token comes from: the Official Account's or WeCom's token endpoint."""

    async def fetch_token(self, app_id: str, secret: str) -> tuple[str, int]:
        """A new access token and its lifetime in seconds."""
        ...


class TokenKeeper:
    """Hands out the shared access token, refreshing it once for all workers when due."""

    def __init__(
        self,
        db: Database,
        api: TokenSource,
        clock: Clock,
        app_id: str,
        secret: str,
        fixed: str = "",
    ) -> None:
        self.db = db
        self.api = api
        self.clock = clock
        self.app_id = app_id
        self.secret = secret
        self.fixed = fixed  # a token given by configuration: used as is, never fetched

    async def token(self) -> str:
        """A valid access token (waits up to ~10 s while another worker refreshes it)."""
        if self.fixed:
            return self.fixed
        for _ in range(100):
            token, must_fetch = await asyncio.to_thread(self._read_or_lease)
            if token is not None:
                return token
            if must_fetch:
                return await self._fetch()
            await asyncio.sleep(0.1)
        raise ApiError(-1, "timed out waiting for another worker's access token")

    async def call(self, call: Callable[[str], Awaitable[T]]) -> T:
        """Call the API with the shared token; once more with a new one if it is refused
        (the Official Account's and WeCom's deliveries alike)."""
        token = await self.token()
        try:
            return await call(token)
        except ApiError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            await self.refused(token)
        return await call(await self.token())

    async def refused(self, token: str) -> None:
        """WeChat said the token is invalid or expired: the next call fetches a new one."""
        if not self.fixed:
            await asyncio.to_thread(self._expire, token)

    def _read_or_lease(self) -> tuple[str | None, bool]:
        """The stored token if still good; else whether this worker took the refresh."""
        now = self.clock()
        with self.db.unit_of_work() as uow:
            row = store.token_row(uow.session, self.app_id)
            if row.access_token and row.expires_at and row.expires_at - EARLY > now:
                return row.access_token, False
            leased = store.take_refresh(uow.session, self.app_id, row.version, now, LEASE_SECONDS)
            uow.commit()
            return None, leased

    async def _fetch(self) -> str:
        try:
            token, lifetime = await self.api.fetch_token(self.app_id, self.secret)
        except ApiError:
            await asyncio.to_thread(self._end_refresh)
            raise
        expires = self.clock() + timedelta(seconds=lifetime)
        await asyncio.to_thread(self._store, token, expires)
        log.info("fetched a new WeChat access token for %s", self.app_id)
        return token

    def _store(self, token: str, expires: datetime) -> None:
        with self.db.unit_of_work() as uow:
            store.store_token(uow.session, self.app_id, token, expires)
            uow.commit()

    def _end_refresh(self) -> None:
        with self.db.unit_of_work() as uow:
            store.end_refresh(uow.session, self.app_id)
            uow.commit()

    def _expire(self, token: str) -> None:
        with self.db.unit_of_work() as uow:
            store.expire_token(uow.session, self.app_id, token, self.clock())
            uow.commit()
