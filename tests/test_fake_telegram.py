"""Tests for the fake Telegram Bot API server, driven by the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import datetime as dtm
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    Update,
)
from telegram.error import BadRequest, Conflict, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fake_telegram import BOT_ID, BOT_USERNAME, FakeTelegram, TgChat, TgUser, _parse_body

TOKEN = "123:ABC"
ALICE = TgUser(id=1001, first_name="Alice")
BOB = TgUser(id=1002, first_name="Bob", language_code="en", username="bob")


def _keyboard(*datas: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.title(), callback_data=d) for d in datas]])


def _seconds(value: int | float | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def _fake_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.name.startswith("FakeTelegram") or "process_request_thread" in t.name
    ]


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """A running fake server, stopped after the test."""
    with FakeTelegram() as server:
        yield server
    assert server.errors == []


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    """A real, initialized PTB Bot pointed at the fake."""
    async with Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as real_bot:
        yield real_bot


def _build_app(fake: FakeTelegram) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )


# ------------------------------------------------------------------------ request parsing


def test_parse_body_decodes_every_encoding() -> None:
    """JSON, urlencoded and multipart bodies decode to the same typed params."""
    form = httpx.Request(
        "POST",
        "http://x",
        data={"chat_id": "-100123", "text": "42", "reply_markup": '{"inline_keyboard": []}'},
    )
    assert _parse_body(form.headers["content-type"], form.read(), "") == {
        "chat_id": -100123,
        "text": "42",
        "reply_markup": {"inline_keyboard": []},
    }
    multipart = httpx.Request(
        "POST",
        "http://x",
        data={"chat_id": "5", "caption": "true", "disable_notification": "true"},
        files={"photo": ("报修.jpg", b"\xff\xd8abc", "image/jpeg")},
    )
    params = _parse_body(multipart.headers["content-type"], multipart.read(), "")
    assert params["chat_id"] == 5
    assert params["caption"] == "true"
    assert params["disable_notification"] is True
    assert params["photo"].data == b"\xff\xd8abc"
    assert params["photo"].filename == "报修.jpg"
    assert params["photo"].content_type == "image/jpeg"
    as_json = _parse_body("application/json", b'{"chat_id": 7, "text": "hi"}', "offset=3")
    assert as_json == {"offset": 3, "chat_id": 7, "text": "hi"}


# ------------------------------------------------------------------------ real Bot


async def test_bot_get_me_send_edit(fake: FakeTelegram, bot: Bot) -> None:
    """get_me, send_message with a keyboard and edit_message_text round-trip."""
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (BOT_ID, BOT_USERNAME, True)

    first = await bot.send_message(ALICE.id, "123", reply_markup=_keyboard("yes", "no"))
    second = await bot.send_message(ALICE.id, "second")
    assert first.text == "123"  # numeric-looking text stays a string
    assert (first.message_id, second.message_id) == (1, 2)
    assert first.chat.type == "private" and first.from_user is not None
    assert first.from_user.id == BOT_ID
    assert first.reply_markup == _keyboard("yes", "no")

    group = await bot.send_message(-100123, "staff")
    assert (group.chat.type, group.message_id) == ("supergroup", 1)

    edited = await bot.edit_message_text("edited", chat_id=ALICE.id, message_id=first.message_id)
    assert isinstance(edited, Message)
    assert edited.text == "edited" and edited.edit_date is not None
    assert edited.reply_markup is None  # an edit without reply_markup removes the keyboard

    sent = fake.sent(ALICE.id)
    assert [m["text"] for m in sent] == ["123", "second", "edited"]
    assert sent[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "yes"
    assert fake.messages_to(ALICE.id) == ["123", "second", "edited"]
    assert fake.messages_to(-100123) == ["staff"]
    assert [c.method for c in fake.calls] == [
        "getMe",
        "getMe",
        "sendMessage",
        "sendMessage",
        "sendMessage",
        "editMessageText",
    ]
    assert fake.calls_of("sendMessage")[0].params["reply_markup"] == sent[0]["reply_markup"]

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("edited", chat_id=ALICE.id, message_id=first.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE.id, message_id=99)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(ALICE.id, " ")
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(ALICE.id, "x", reply_markup=_keyboard("x" * 65))
    assert fake.calls[-1].failed and fake.calls[-1].status == 400


async def test_bot_get_updates_offset_limit_and_duplicates(fake: FakeTelegram, bot: Bot) -> None:
    """get_updates honours offset (confirm), limit, and re-delivers duplicates once."""
    u1 = fake.user_text(ALICE, "/start ref-7")
    u2 = fake.user_contact(ALICE, "+8613800138000")
    u3 = fake.user_photo(BOB, file_id="PHOTO1", caption="leak")
    assert u2["update_id"] == u1["update_id"] + 1 == u3["update_id"] - 1

    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [u1["update_id"], u2["update_id"], u3["update_id"]]
    start = updates[0].message
    assert start is not None and start.text == "/start ref-7"
    assert start.parse_entities() == {start.entities[0]: "/start"}
    assert start.from_user is not None and start.from_user.language_code == "zh-hans"
    contact = updates[1].effective_message
    assert contact is not None and contact.contact is not None
    assert contact.contact.phone_number == "+8613800138000"
    assert contact.contact.user_id == ALICE.id
    photo = updates[2].effective_message
    assert photo is not None and photo.photo[-1].file_id == "PHOTO1"
    assert photo.caption == "leak" and photo.chat.id == BOB.id
    assert [m.message_id for m in (start, contact)] == [1, 2]  # per-chat numbering

    assert [u.update_id for u in await bot.get_updates(limit=1)] == [u1["update_id"]]
    remaining = await bot.get_updates(offset=u2["update_id"])
    assert [u.update_id for u in remaining] == [u2["update_id"], u3["update_id"]]
    assert await bot.get_updates(offset=u3["update_id"] + 1) == ()
    assert await bot.get_updates(offset=u1["update_id"]) == ()  # confirmed ones never come back

    fake.duplicate(u2)
    again = await bot.get_updates(offset=u3["update_id"] + 1)
    assert [u.update_id for u in again] == [u2["update_id"]]
    assert await bot.get_updates(offset=u2["update_id"] + 1) == ()
    assert fake.pending_updates() == []


async def test_get_updates_long_poll_wakes_on_enqueue(fake: FakeTelegram, bot: Bot) -> None:
    """A long poll returns as soon as an update is queued, and caps its wait."""
    started = time.monotonic()
    assert await bot.get_updates(timeout=30) == ()
    assert 0.9 < time.monotonic() - started < 2.0  # capped at max_long_poll=1s

    timer = threading.Timer(0.2, lambda: fake.user_text(ALICE, "hello"))
    timer.start()
    started = time.monotonic()
    updates = await bot.get_updates(timeout=30)
    timer.join()
    assert time.monotonic() - started < 0.9
    assert updates[0].message is not None and updates[0].message.text == "hello"


async def test_files_upload_and_download(fake: FakeTelegram, bot: Bot) -> None:
    """Uploads become file_ids whose bytes can be downloaded through getFile."""
    msg = await bot.send_photo(
        ALICE.id, photo=b"\xff\xd8jpeg-bytes", caption="<b>Hi</b>", parse_mode="HTML"
    )
    assert msg.caption == "Hi"
    file = await bot.get_file(msg.photo[-1].file_id)
    assert file.file_path is not None and file.file_path.startswith(fake.base_file_url)
    assert bytes(await file.download_as_bytearray()) == b"\xff\xd8jpeg-bytes"

    doc = await bot.send_document(ALICE.id, document=b"a,b\n1,2\n", filename="report.csv")
    assert doc.document is not None and doc.document.file_name == "report.csv"

    album = await bot.send_media_group(
        ALICE.id, [InputMediaPhoto(b"one"), InputMediaPhoto(b"two", caption="2")]
    )
    assert len({m.media_group_id for m in album}) == 1 and album[1].caption == "2"
    sends = [c.method for c in fake.calls if c.method.startswith("send")]
    assert sends == ["sendPhoto", "sendDocument", "sendMediaGroup"]

    upd = fake.user_photo(ALICE, media_group_id="album-1")
    file_id = upd["message"]["photo"][-1]["file_id"]
    fake.add_file(file_id, b"user-photo")
    user_file = await bot.get_file(file_id)
    assert bytes(await user_file.download_as_bytearray()) == b"user-photo"


async def test_html_parse_mode_is_validated(fake: FakeTelegram, bot: Bot) -> None:
    """HTML is stripped like Telegram does, and unsupported tags are rejected."""
    msg = await bot.send_message(ALICE.id, "<b>水管</b> &amp; <i>电</i>", parse_mode="HTML")
    assert msg.text == "水管 & 电"
    with pytest.raises(BadRequest, match=r'(?i)unsupported start tag "br"'):
        await bot.send_message(ALICE.id, "a<br>b", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)can't find end tag"):
        await bot.send_message(ALICE.id, "<b>open", parse_mode="HTML")
    assert fake.messages_to(ALICE.id) == ["水管 & 电"]


async def test_commands_webhook_info_delete_and_unknown(fake: FakeTelegram, bot: Bot) -> None:
    """setMyCommands/getMyCommands, deleteMessage and an unknown method's 404."""
    await bot.set_my_commands([("start", "开始"), ("help", "帮助")], language_code="zh")
    assert [c.command for c in await bot.get_my_commands(language_code="zh")] == ["start", "help"]
    assert await bot.get_my_commands() == ()
    msg = await bot.send_message(ALICE.id, "bye")
    assert await bot.delete_message(ALICE.id, msg.message_id) is True
    assert fake.message(ALICE.id, msg.message_id) is None
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == ("", 0)

    response = httpx.post(f"{fake.base_url}{TOKEN}/fooBar", json={"x": 1})
    assert response.status_code == 404
    assert response.json() == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }
    assert fake.calls[-1].method == "fooBar" and fake.calls[-1].failed
    assert httpx.post(f"{fake.base_url}{TOKEN}/getme").json()["result"]["id"] == BOT_ID


# ------------------------------------------------------------------------ fault injection


async def test_fault_injection_429_and_502(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Injected 429/502 raise RetryAfter/NetworkError and are recorded as failed attempts."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # retry_after as timedelta, no deprecation
    fake.fail_next("sendMessage", status=429, retry_after=3, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(ALICE.id, "hi")
        assert _seconds(caught.value.retry_after) == 3

    fake.fail_next("sendMessage", status=502)
    with pytest.raises(NetworkError, match="Bad Gateway") as network:
        await bot.send_message(ALICE.id, "hi")
    assert not isinstance(network.value, BadRequest)

    await bot.send_message(ALICE.id, "hi")
    attempts = fake.calls_of("sendMessage")
    assert [(c.failed, c.status) for c in attempts] == [
        (True, 429),
        (True, 429),
        (True, 502),
        (False, 200),
    ]
    assert len(fake.calls_of("sendMessage", include_failed=False)) == 1
    assert fake.messages_to(ALICE.id) == ["hi"]

    raw = httpx.post(f"{fake.base_url}{TOKEN}/getMe")
    assert raw.status_code == 200
    fake.fail_next("getMe", status=429, retry_after=5)
    raw = httpx.post(f"{fake.base_url}{TOKEN}/getMe")
    assert (raw.status_code, raw.json()) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 5",
            "parameters": {"retry_after": 5},
        },
    )
    fake.fail_next("getMe", status=502)
    assert httpx.post(f"{fake.base_url}{TOKEN}/getMe").json() == {
        "ok": False,
        "error_code": 502,
        "description": "Bad Gateway",
    }


# ------------------------------------------------------------------------ real Application


async def test_application_polling_text_and_callback(fake: FakeTelegram) -> None:
    """A polling Application gets a command and a button press, and its replies are seen."""
    app = _build_app(fake)

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("请选择", reply_markup=_keyboard("yes", "no"))

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_chat is not None
        await context.bot.send_message(
            update.effective_chat.id, f"收到: {update.effective_message.text}"
        )

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"you chose {query.data}")

    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(CallbackQueryHandler(on_button))

    async with app:
        await app.updater.start_polling(poll_interval=0)  # type: ignore[union-attr]
        await app.start()
        try:
            fake.user_text(ALICE, "/start")
            [menu] = await fake.await_sent(ALICE.id)
            assert menu["text"] == "请选择"
            fake.user_press(ALICE, "yes", menu)
            await fake.await_for(lambda calls: fake.messages_to(ALICE.id)[-1:] == ["you chose yes"])
            assert not fake.calls_of("answerCallbackQuery")[0].failed
            with pytest.raises(ValueError, match="no button"):
                fake.user_press(ALICE, "yes", menu)  # the edit removed the keyboard

            staff = TgChat(id=-100123, type="supergroup", title="Staff")
            fake.user_text(BOB, "漏水了", chat=staff)
            await fake.await_sent(staff.id)
            assert fake.messages_to(staff.id) == ["收到: 漏水了"]
        finally:
            await app.updater.stop()  # type: ignore[union-attr]
            await app.stop()
    assert fake.calls_of("getUpdates")[-1].params["offset"] > 0
    assert fake.pending_updates() == []


async def test_application_webhook_mode(fake: FakeTelegram) -> None:
    """setWebhook is recorded and updates POSTed with the secret header reach the app."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = _build_app(fake)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"echo {update.effective_message.text}")

    app.add_handler(MessageHandler(filters.TEXT, echo))
    url = f"http://127.0.0.1:{port}/tg"
    async with app:
        await app.updater.start_webhook(  # type: ignore[union-attr]
            listen="127.0.0.1", port=port, url_path="tg", webhook_url=url, secret_token="s3cret"
        )
        await app.start()
        try:
            assert (fake.webhook_url, fake.webhook_secret) == (url, "s3cret")
            with pytest.raises(Conflict):
                await app.bot.get_updates()
            update = fake.user_text(ALICE, "one")
            assert await fake.apost_update_to(url, update, "wrong") == 403
            assert await fake.apost_update_to(url, update, "s3cret") == 200
            await fake.await_sent(ALICE.id)
            fake.user_text(ALICE, "two")
            assert await fake.apush_webhook() == [200, 200]  # "one" was still queued too
            await fake.await_sent(ALICE.id, count=3)
            assert fake.messages_to(ALICE.id) == ["echo one", "echo one", "echo two"]
        finally:
            await app.updater.stop()  # type: ignore[union-attr]
            await app.stop()


# ------------------------------------------------------------------------ lifecycle


def test_sync_usage_and_clean_stop() -> None:
    """Works from sync code; stop() releases long polls and joins every thread quickly."""
    fake = FakeTelegram(max_long_poll=30)
    with fake:
        assert fake.base_url == f"http://127.0.0.1:{fake.port}/bot"
        assert fake.base_file_url == f"http://127.0.0.1:{fake.port}/file/bot"
        result: list[httpx.Response] = []
        poller = threading.Thread(
            target=lambda: result.append(
                httpx.post(f"{fake.base_url}{TOKEN}/getUpdates", data={"timeout": "30"})
            )
        )
        poller.start()
        with pytest.raises(TimeoutError, match="condition not met"):
            fake.wait_for(lambda calls: [c for c in calls if c.method == "getUpdates"], 0.3)
        fake.wait_for(lambda _: fake.long_polls_waiting == 1, 5)  # the poll reached the server
        with httpx.Client() as client:  # leaves an idle keep-alive connection open
            assert client.post(f"{fake.base_url}{TOKEN}/getMe").json()["ok"] is True
            started = time.monotonic()
            fake.stop()
            assert time.monotonic() - started < 1.0
        poller.join(timeout=2)
        assert not poller.is_alive()
        assert result[0].json() == {"ok": True, "result": []}
    assert _fake_threads() == []
    with FakeTelegram() as again:  # restartable, new port each time
        assert httpx.get(f"{again.base_url}{TOKEN}/getMe").json()["ok"] is True
    assert _fake_threads() == []


async def test_await_for_does_not_block_the_loop(fake: FakeTelegram) -> None:
    """await_for lets other tasks run while it polls."""

    async def later() -> None:
        await asyncio.sleep(0.05)
        async with httpx.AsyncClient() as client:
            await client.post(
                f"{fake.base_url}{TOKEN}/sendMessage", json={"chat_id": 5, "text": "x"}
            )

    task = asyncio.create_task(later())
    calls = await fake.await_for(lambda calls: calls, timeout=2)
    await task
    assert calls[0].method == "sendMessage"
    assert fake.sent(5)[0]["chat"] == {"id": 5, "type": "private"}
