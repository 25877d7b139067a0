"""Who is on the other end of a web chat request: a session token signed by the server.

The page never says who it is: it holds a token the server minted (a cookie, or a header for
the sandbox's several panes in one page) and the server reads the person's web id from it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

USER_ID = re.compile(r"[A-Za-z0-9_-]{1,48}")
COOKIE = "propdesk_web"
HEADER = "X-Propdesk-Session"


class Sessions:
    """Mints and checks session tokens: the web id and an HMAC of it under the server's key."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the web session secret must be at least 16 bytes")
        self._secret = secret

    def _sign(self, user_id: str) -> str:
        mac = hmac.new(self._secret, b"propdesk-web-session:" + user_id.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")

    def mint(self, user_id: str) -> str:
        """A token that proves `user_id` to this server."""
        if not USER_ID.fullmatch(user_id):
            raise ValueError(f"not a web user id: {user_id!r}")
        return f"{user_id}.{self._sign(user_id)}"

    def user_of(self, token: str | None) -> str | None:
        """The web id a token proves, or None for a missing, malformed or forged one."""
        if not token or len(token) > 200:
            return None
        user_id, _, mac = token.rpartition(".")
        if not USER_ID.fullmatch(user_id):
            return None
        if not hmac.compare_digest(mac.encode(), self._sign(user_id).encode()):
            return None
        return user_id

    @staticmethod
    def new_user_id() -> str:
        """A fresh web id for someone who opens the chat page for the first time."""
        return "w" + secrets.token_hex(12)
