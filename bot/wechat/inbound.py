"""Turn a parsed WeChat message (wechatpy) into a channel-neutral Inbound."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from wechatpy.messages import BaseMessage

from bot.wechat.render import pick
from handlers.messages import Inbound
from store.wechat import CHANNEL, Menu

SUBSCRIBE_EVENTS = ("subscribe", "subscribe_scan", "scan")


def update_id(message: BaseMessage) -> str:
    """MsgId for messages; sender, time and event for events (which have no MsgId)."""
    data: dict[str, Any] = message._data
    if data.get("MsgId"):
        return str(data["MsgId"])[:64]
    key = f"{data.get('FromUserName', '')}:{data.get('CreateTime', '')}:{data.get('Event', '')}"
    return key[:64]


def event_of(message: BaseMessage) -> str | None:
    """The event name ("subscribe", "unsubscribe", ...) of an event, else None."""
    return str(getattr(message, "event", "")) or None if message.type == "event" else None


def to_inbound(message: BaseMessage, menu: Menu) -> Inbound | None:
    """The neutral form of a message; None for what the desk does not act on.

    Text that is a number of the last menu, or its words, becomes that button's press.
    Subscribing (or scanning the account's code) starts like /start, with the code's scene
    as its argument, so a staff invitation works as a QR code too."""
    data: dict[str, Any] = message._data
    openid = str(data.get("FromUserName") or "")
    if not openid:
        return None
    base = Inbound(
        channel=CHANNEL,
        update_id=update_id(message),
        chat_id=openid,
        chat_kind="private",
        user_id=openid,
    )
    kind = message.type
    if kind == "text":
        text = str(data.get("Content") or "")
        chosen = pick(menu, text)
        return replace(base, button=chosen) if chosen is not None else replace(base, text=text)
    if kind == "image":
        media = str(data.get("MediaId") or "")
        return replace(base, photo=media) if media else None
    if kind == "location":
        try:
            where = (float(data["Location_X"]), float(data["Location_Y"]))
        except (KeyError, TypeError, ValueError):
            return None
        label = str(data.get("Label") or f"{where[0]:.5f}, {where[1]:.5f}")
        return replace(base, location=where, text=f"📍 {label}")
    if kind == "voice" and data.get("Recognition"):
        return replace(base, text=str(data["Recognition"]))
    if kind != "event":  # voice, video, a link, a file...: the desk says what it can take
        return base
    event = event_of(message)
    if event in SUBSCRIBE_EVENTS:
        scene = str(getattr(message, "scene_id", "") or "").removeprefix("qrscene_")
        return replace(base, text=f"/start {scene}".strip())
    return None
