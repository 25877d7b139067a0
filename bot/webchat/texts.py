"""What the web page itself says (not the desk's messages, which come from the handlers'
catalog): every line in Chinese and English, picked by the person's language."""

from __future__ import annotations

from handlers.i18n import pick_language

TEXTS: dict[str, dict[str, str]] = {
    "signed_out": {
        "zh": "您尚未登录或登录已失效，请刷新页面。",
        "en": "You are not signed in, or your session has expired. Please reload the page.",
    },
    "bad_request": {
        "zh": "无法识别这条消息，请重新输入。",
        "en": "That message could not be read. Please try again.",
    },
    "too_long": {
        "zh": "消息太长了（最多 {limit} 个字），请分几条发送。",
        "en": "That message is too long (at most {limit} characters). Please send it in parts.",
    },
    "empty": {
        "zh": "消息是空的，请输入文字或选择一个按钮。",
        "en": "The message is empty. Please type something or press a button.",
    },
    "not_your_chat": {
        "zh": "您不能在这个对话中发言。",
        "en": "You cannot write in this chat.",
    },
    "stale_button": {
        "zh": "这个按钮不属于您的对话或已过期，没有做任何更改。",
        "en": "That button is not from your chat or is out of date; nothing was changed.",
    },
    "photo_type": {
        "zh": "只能上传 JPEG、PNG、WebP 或 GIF 图片。",
        "en": "Only JPEG, PNG, WebP or GIF pictures can be uploaded.",
    },
    "photo_size": {
        "zh": "图片太大了（最大 {limit} MB）。",
        "en": "That picture is too large (at most {limit} MB).",
    },
    "busy": {
        "zh": "系统繁忙，消息未能处理，请稍后再试。",
        "en": "The desk is busy and could not take that message. Please try again in a moment.",
    },
    "not_found": {"zh": "找不到这张图片。", "en": "That picture was not found."},
    "sign_in_again": {
        "zh": "您的网页登录已失效。请在微信或 Telegram 中向客服发送 /web 获取新的登录链接。",
        "en": "Your web sign-in has ended. Send /web to the desk in Telegram or WeChat for a "
        "new sign-in link.",
    },
    "link_invalid": {
        "zh": "这个登录链接无效：可能已过期或已被使用。"
        "请在微信或 Telegram 中向客服发送 /web 获取新链接。",
        "en": "This sign-in link is not valid: it has expired or was used already. Send /web to "
        "the desk in Telegram or WeChat for a new one.",
    },
    "too_fast": {
        "zh": "操作太频繁了，请稍等片刻再发送。",
        "en": "That was a lot at once. Please wait a moment and send it again.",
    },
}


def text(key: str, language: str | None, **values: object) -> str:
    """The page's line `key` in the person's language."""
    lines = TEXTS[key]
    return lines[pick_language(language, "zh")].format(**values)
