"""The WeCom server APIs the desk calls.

wechatpy 1.8 has no `wechatpy.work` (that is 2.x): its WeCom client is
`wechatpy.enterprise.WeChatClient` (requests, synchronous, so called in a thread). It does
the transport, `message/send` (any msgtype, so template cards too) and `media/upload`.
Written by hand on top of it: `gettoken` against our base URL (wechatpy hard-codes
qyapi.weixin.qq.com), `message/update_template_card` (not wrapped in 1.8), and the group
robot webhook (a plain POST with httpx)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import requests
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.wechat.api import ApiError


def _error(exc: Exception) -> ApiError:
    """WeCom's error (or the network's, as -2; a 5xx as -1) as the desk's ApiError."""
    if isinstance(exc, WeChatClientException):
        code = exc.errcode
        return ApiError(int(code) if code is not None else -1, str(exc.errmsg or exc))
    return ApiError(-2, f"network: {exc!r}")


class WeComApi:
    """An async face over wechatpy's WeCom client, pointed at PROPDESK_WECOM_API_BASE_URL."""

    def __init__(self, base_url: str, corp_id: str, secret: str, agent_id: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self._client = self._make_client()
        # the client keeps the token in its session: one call at a time
        self._lock = threading.Lock()
        self._http = httpx.AsyncClient(timeout=10.0)

    def _make_client(self) -> WeChatClient:
        # auto_retry off: a refused token goes back to the shared TokenKeeper, never fetched here
        client = WeChatClient(self.corp_id, self.secret or "-", timeout=10, auto_retry=False)
        client.API_BASE_URL = f"{self.base_url}/cgi-bin/"
        return client

    async def close(self) -> None:
        """Close the connection pools."""
        await self._http.aclose()
        self._client._http.close()

    async def fetch_token(self, corp_id: str, secret: str) -> tuple[str, int]:
        """A new access token and its lifetime in seconds (GET /cgi-bin/gettoken)."""

        def fetch() -> dict[str, Any]:
            fetcher = WeChatClient(corp_id, secret, timeout=10, auto_retry=False)
            try:
                result: dict[str, Any] = fetcher._fetch_access_token(
                    url=f"{self.base_url}/cgi-bin/gettoken",
                    params={"corpid": corp_id, "corpsecret": secret},
                )
                return result
            finally:
                fetcher._http.close()

        data = await self._run(fetch)
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    async def send(self, token: str, users: list[str], msg: dict[str, Any]) -> dict[str, Any]:
        """An app message (message/send) to WeCom users; the answer has msgid, response_code."""
        return await self._with_client(
            token, lambda c: c.message.send(self.agent_id, users, msg=msg)
        )

    async def update_card(self, token: str, body: dict[str, Any]) -> None:
        """message/update_template_card (by hand: not wrapped in wechatpy 1.8)."""
        data = dict(body, agentid=self.agent_id)
        await self._with_client(token, lambda c: c.post("message/update_template_card", data=data))

    async def upload(self, token: str, kind: str, filename: str, content: bytes) -> str:
        """Upload a temporary file (image or file, 3 days) with wechatpy; its media_id."""
        data = await self._with_client(token, lambda c: c.media.upload(kind, (filename, content)))
        return str(data["media_id"])

    async def robot(self, url: str, text: str) -> None:
        """Post a text to a group robot (群机器人) webhook (by hand: a plain POST)."""
        try:
            response = await self._http.post(
                url, json={"msgtype": "text", "text": {"content": text}}
            )
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ApiError(-2, f"robot: {exc!r}") from exc
        code = int(data.get("errcode") or 0) if isinstance(data, dict) else -1
        if code:
            raise ApiError(code, str(data.get("errmsg", "")))

    async def _with_client(self, token: str, call: Any) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            with self._lock:
                self._client.session.set(self._client.access_token_key, token)
                result: dict[str, Any] = call(self._client)
                return result

        return await self._run(run)

    @staticmethod
    async def _run(work: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await asyncio.to_thread(work)
        except (WeChatClientException, requests.RequestException) as exc:
            raise _error(exc) from exc
        return result
