"""The Bot API client: PTB's requests over aiohttp instead of httpx (issue 15.4).

Under the storm bench (bench/versus.py) httpx, httpcore and anyio were about a third of the
bot's CPU: httpcore's pool walks its queued requests against its connections on every start
and close, anyio wraps every socket call, and h11 parses responses in Python. aiohttp parses
HTTP in C, queues requests for a connection in a plain FIFO and reads straight from the
event loop; with it the bot's CPU per update fell by about a third (bench figures in the
commit). PTB's own error handling is kept: BaseRequest turns a status into RetryAfter,
Forbidden, BadRequest and so on, and this class only moves bytes.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


def _given(value: ODVInput[float], default: float | None) -> float | None:
    """A timeout passed to a call, or this client's own when the call left it out."""
    return default if isinstance(value, DefaultValue) else value


class AiohttpRequest(BaseRequest):
    """At most `connection_pool_size` requests are in flight; the others wait for a
    connection, first come first served, up to `pool_timeout` (then TimedOut, which the
    outbox retries: such a request was never sent)."""

    def __init__(
        self,
        connection_pool_size: int,
        *,
        pool_timeout: float | None = 30.0,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._size = connection_pool_size
        self._pool_timeout = pool_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The read timeout of calls that do not pass one (PTB adds it to getUpdates')."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the connection pool (an aiohttp session belongs to the running loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._size),
                headers={"User-Agent": self.USER_AGENT},
                # HTTPS_PROXY / NO_PROXY from the environment, as PTB's httpx client honoured
                # them: where Telegram is blocked, the desk reaches it through a proxy
                trust_env=True,
            )

    async def shutdown(self) -> None:
        """Close the connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request and return the status and body (PTB classifies them)."""
        session = self._session
        if session is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        write = _given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        # aiohttp has no write timeout of its own: an upload is bounded as a whole by the
        # sum; a form of a few KiB goes into the socket's buffer at once, so a call without
        # files is bounded by the read timeout alone (a total costs a timer per call)
        parts = (pool, connect, write, read)
        total = None if not files or None in parts else sum(p or 0 for p in parts)
        timeout = aiohttp.ClientTimeout(
            total=total, connect=pool, sock_connect=connect, sock_read=read
        )
        body, headers = _body(request_data)
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _body(request_data: RequestData | None) -> tuple[Any, dict[str, str] | None]:
    """PTB's fields as a urlencoded form, or multipart with the files, as httpx sent them (the
    form is encoded here: aiohttp's FormData costs more than the request itself)."""
    if request_data is None:
        return None, None
    if not request_data.contains_files:
        return request_data.url_encoded_parameters().encode(), _FORM
    form = aiohttp.FormData(quote_fields=False)  # a UTF-8 file name as httpx sent it
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form, None
