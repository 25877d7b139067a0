"""Turn a decrypted WeCom callback (parsed by wechatpy.enterprise) into a neutral Inbound."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from bot.wechat.render import pick
from handlers.messages import Inbound
from store.wechat import Menu
from store.wecom import CHANNEL

CARD_EVENT = "template_card_event"


def update_id(data: dict[str, Any]) -> str:
    """MsgId for messages; for events (no MsgId) a digest of sender, time, event, task and key,
    so a retried callback is the same update and two different presses are two."""
    if data.get("MsgId"):
        return str(data["MsgId"])[:64]
    parts = [str(data.get(k) or "") for k in ("FromUserName", "CreateTime", "Event", "TaskId")]
    parts.append(str(data.get("EventKey") or ""))
    return "e" + hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


def to_inbound(data: dict[str, Any], menu: Menu) -> Inbound | None:
    """The neutral form of a callback; None for what the desk does not act on.

    Every WeCom chat with the app is private: a press on a job card comes from the presser's
    own copy of the card, so any answer ("already taken by …") goes to that person alone."""
    userid = str(data.get("FromUserName") or "")
    if not userid:
        return None
    base = Inbound(
        channel=CHANNEL,
        update_id=update_id(data),
        chat_id=userid,
        chat_kind="private",
        user_id=userid,
        user_name=userid,
    )
    kind = str(data.get("MsgType") or "").lower()
    if kind == "text":
        text = str(data.get("Content") or "")
        chosen = pick(menu, text)
        return replace(base, button=chosen) if chosen is not None else replace(base, text=text)
    if kind == "image":
        media = str(data.get("MediaId") or "")
        return replace(base, photo=media) if media else None
    if kind != "event":  # voice, video, a file, a location...: the desk says what it can take
        return base
    event = str(data.get("Event") or "").lower()
    if event == CARD_EVENT:
        key = str(data.get("EventKey") or "")
        return replace(base, button=key[:64]) if key else None
    return None  # entering the app, menu views, (un)subscribing: nothing to answer
