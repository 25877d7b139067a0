"""The few WeChat server APIs the desk calls, over httpx; errors keep WeChat's codes."""

from __future__ import annotations

from json import dumps
from typing import Any

import httpx

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid, malformed or expired access token
WINDOW_ERRORS = frozenset({45015, 45047})  # outside 48 h / too many messages without a reply
GONE_ERRORS = frozenset({43004, 40003, 43019})  # unsubscribed, bad openid, blocked
BUSY_ERRORS = frozenset({-1, 45009, 45011})  # system busy, API limits


class ApiError(Exception):
    """WeChat answered with a non-zero errcode (or not at all: errcode -2 for the network).

    A plain exception, not a frozen dataclass: Python sets __traceback__ (and __context__) on
    an exception as it passes through a @contextmanager, which a frozen one refuses."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg

    def __str__(self) -> str:
        return f"{self.errcode} {self.errmsg}"


class WeChatApi:
    """An async client of api.weixin.qq.com (or API_BASE_URL, e.g. a local fake)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def fetch_token(self, app_id: str, secret: str) -> tuple[str, int]:
        """A new access token and its lifetime in seconds (this invalidates the previous one)."""
        data = await self._call(
            "GET",
            "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": app_id, "secret": secret},
        )
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    async def send_custom(self, token: str, body: dict[str, Any]) -> None:
        """A customer-service message (inside the 48-hour window)."""
        await self._call("POST", "/cgi-bin/message/custom/send", token=token, json=body)

    async def send_template(self, token: str, body: dict[str, Any]) -> str:
        """A template message; returns its msgid."""
        data = await self._call("POST", "/cgi-bin/message/template/send", token=token, json=body)
        return str(data.get("msgid", ""))

    async def _call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        try:
            response = await self._client.request(
                method,
                self.base_url + path,
                params=query,
                # WeChat shows \uXXXX escapes literally: send UTF-8 as it is
                content=None if json is None else dumps(json, ensure_ascii=False).encode(),
                headers=None if json is None else {"Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise ApiError(-2, f"network: {exc!r}") from exc
        if response.status_code >= 500:
            raise ApiError(-1, f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise ApiError(-1, f"HTTP {response.status_code}: not JSON") from None
        if not isinstance(data, dict):
            raise ApiError(-1, "unexpected answer")
        code = int(data.get("errcode") or 0)
        if code:
            raise ApiError(code, str(data.get("errmsg", "")))
        return data
