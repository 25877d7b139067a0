"""Drive a real PTB Application against the fake Bot API and read the conversation back."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.bootstrap import Services, bootstrap
from bot.config import Settings
from bot.telegram.app import TelegramDesk
from store.models import OutboxMessage, ProcessedUpdate
from store.price_list import import_prices
from store.units import import_units
from tests.fake_telegram import Call, FakeTelegram, TgChat, TgUser

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
STAFF_GROUP = -1001500
# Monday 23 November 2026, 09:30 in Shanghai
MONDAY_MORNING = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


class FakeClock:
    """Real time flowing from a chosen start, which tests can jump forward."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._t0 = time.monotonic()
        self._offset = timedelta()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0) + self._offset

    def advance(self, delta: timedelta) -> None:
        """Jump forward in time."""
        self._offset += delta


def make_settings(fake: FakeTelegram, db_url: str, **extra: Any) -> Settings:
    """Settings pointing the bot at the fake Bot API and the test database."""
    values: dict[str, Any] = {
        "telegram_bot_token": "123456:TEST-TOKEN",
        "telegram_api_base_url": fake.base_url,
        "telegram_file_base_url": fake.base_file_url,
        "database_url": db_url,
        "staff_group_chat_id": str(STAFF_GROUP),
        "outbox_poll_seconds": 0.05,
        # transcripts step faster than a person: no per-chat pace unless a test asks for one
        "telegram_chat_per_second": 0,
        "telegram_group_per_minute": 0,
        "scheduler_enabled": False,  # timer tests switch it on and sweep when they choose
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def run_env(fake: FakeTelegram, db_url: str, **extra: str) -> dict[str, str]:
    """The environment of a real `propdesk run` process against the fake Bot API."""
    return {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "123456:RUN-TEST",
        "PROPDESK_TELEGRAM_API_BASE_URL": fake.base_url,
        "PROPDESK_TELEGRAM_FILE_BASE_URL": fake.base_file_url,
        "PROPDESK_DATABASE_URL": db_url,
        **extra,
    }


def seed_examples(services: Services) -> None:
    """Load the example estate's units and price list."""
    with services.db.unit_of_work() as uow:
        assert import_units(uow.session, EXAMPLES / "units.csv").ok
        assert import_prices(uow.session, EXAMPLES / "prices.csv").ok
        uow.commit()


@dataclass
class Bot:
    """One running bot process (services + PTB application) on the shared database."""

    fake: FakeTelegram
    services: Services
    desk: TelegramDesk
    wechat: Any = None  # the WeChat channel (tests.fake_wechat.WeChatSide) when running
    web: Any = None  # the web chat (tests.fake_web.WebSide) when running

    async def stop(self) -> None:
        """Stop this bot process; if that hangs, report every task's stack and move on."""
        try:
            await asyncio.wait_for(self.desk.stop(), 20)
        except TimeoutError:
            dump = Path(tempfile.gettempdir()) / f"propdesk-stop-hang-{os.getpid()}.txt"
            with dump.open("a") as out:
                for task in asyncio.all_tasks():
                    task.print_stack(file=out)
                out.write("\n".join(f"{t.name}" for t in threading.enumerate()) + "\n")
            warnings.warn(f"bot did not stop within 20 s; task stacks in {dump}", stacklevel=1)
        finally:
            self.services.close()


async def start_bot(fake: FakeTelegram, db_url: str, clock: FakeClock, **extra: Any) -> Bot:
    """Start a bot process the way `propdesk run` does, through the composition root."""
    services = bootstrap(make_settings(fake, db_url, **extra), clock=clock)
    desk = TelegramDesk(services, webhook=bool(extra.get("webhook_url")))
    await desk.start()
    return Bot(fake, services, desk)


@dataclass
class Owner:
    """A person chatting with the bot; each action returns the bot's answers to it."""

    fake: FakeTelegram
    bot: Bot
    user: TgUser
    chat: TgChat | None = None
    seen: int = 0
    last: list[dict[str, Any]] = field(default_factory=list)
    notice: str | None = None  # the text the last press was answered with (issue 11.5)
    alert: bool = False  # whether that answer was an alert

    def __post_init__(self) -> None:
        self.seen = len(self.fake.sent(self.chat_id))  # answers start from what comes next

    @property
    def chat_id(self) -> int:
        """The chat this owner talks in."""
        return self.chat.id if self.chat else self.user.id

    @property
    def channel(self) -> str:
        """The channel this owner talks in."""
        return "telegram"

    @property
    def external_id(self) -> str:
        """The owner's account id in that channel (Identity.external_id)."""
        return str(self.user.id)

    async def send(self, text: str) -> list[dict[str, Any]]:
        """Type a message."""
        return await self._exchange(self.fake.user_text(self.user, text, chat=self.chat))

    async def contact(self, phone: str) -> list[dict[str, Any]]:
        """Share a phone number with the contact button."""
        return await self._exchange(self.fake.user_contact(self.user, phone, chat=self.chat))

    async def photo(self, file_id: str, album: str | None = None) -> list[dict[str, Any]]:
        """Send a photo (part of an album when `album` is given)."""
        return await self._exchange(
            self.fake.user_photo(self.user, file_id=file_id, media_group_id=album)
        )

    async def press(self, label: str) -> list[dict[str, Any]]:
        """Tap the newest button whose label contains `label`."""
        message, data = self.find_button(label)
        return await self._exchange(self.fake.user_press(self.user, data, message))

    async def press_data(self, data: str, message: dict[str, Any]) -> list[dict[str, Any]]:
        """Tap a button by raw callback data (forged or stale presses)."""
        return await self._exchange(self.fake.user_press(self.user, data, message, strict=False))

    async def press_again(self, label: str) -> list[dict[str, Any]]:
        """Tap the newest button showing `label` as it was drawn, even if the message has been
        edited since (a second, quick tap on a button that has gone)."""
        message, data = self.find_button(label, as_drawn=True)
        return await self.press_data(data, message)

    def refused(self, replies: list[dict[str, Any]], expected: str) -> bool:
        """Whether the last press was refused on the button itself (issue 11.5): its notice
        says `expected` and no chat message does."""
        return expected in (self.notice or "") and not any(
            expected in t for t in self.texts(replies)
        )

    def find_button(self, label: str, *, as_drawn: bool = False) -> tuple[dict[str, Any], str]:
        """The newest bot message with a button containing `label`, and that button's data:
        as the message is now (an edit may have replaced its buttons, issue 11.6), or with
        `as_drawn` as it was first sent or edited."""
        for message in current(self.fake, self.chat_id, as_drawn):
            markup = message.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if label in button["text"]:
                        return message, button["callback_data"]
        raise AssertionError(f"no button {label!r}; bot said: {self.texts(self.last)}")

    async def _exchange(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        await settle(self.bot, str(update["update_id"]))
        if "callback_query" in update:
            answer = await answered(self.fake, update)
            self.notice = answer.params.get("text")
            self.alert = bool(answer.params.get("show_alert"))
        sent = self.fake.sent(self.chat_id)
        self.last = sent[self.seen :]
        self.seen = len(sent)
        return self.last

    @staticmethod
    def texts(messages: list[dict[str, Any]]) -> list[str]:
        """The texts of bot messages."""
        return [m.get("text") or m.get("caption") or "" for m in messages]

    @staticmethod
    def buttons(message: dict[str, Any]) -> list[str]:
        """The labels of a message's inline buttons."""
        markup = message.get("reply_markup") or {}
        return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def current(fake: Any, chat_id: int, as_drawn: bool = False) -> list[dict[str, Any]]:
    """A chat's bot messages, newest first, each as it is now (once, edits applied); with
    `as_drawn` every send and edit as it was drawn."""
    now = getattr(fake, "message", None)  # other channels' fakes keep no edited state
    if as_drawn or now is None:
        return list(reversed(fake.sent(chat_id)))
    seen: set[int] = set()
    out: list[dict[str, Any]] = []
    for message in reversed(fake.sent(chat_id)):
        key = int(message["message_id"])
        if key in seen:
            continue
        seen.add(key)
        out.append(now(chat_id, key) or message)
    return out


async def settle(bot: Bot, update_id: str, timeout: float = 30.0) -> None:
    """Wait until the update is handled and every reply it caused is delivered."""
    deadline = time.monotonic() + timeout
    db = bot.services.db
    while time.monotonic() < deadline:
        with db.unit_of_work() as uow:
            done = uow.session.scalar(
                select(func.count())
                .select_from(ProcessedUpdate)
                .where(ProcessedUpdate.update_id == update_id)
            )
            pending = uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "pending")
            )
        if done and not pending:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"update {update_id} not settled within {timeout}s")


async def answered(fake: FakeTelegram, update: dict[str, Any], timeout: float = 10.0) -> Call:
    """The answerCallbackQuery call for a queued button press (it follows the turn's commit)."""
    query_id = str(update["callback_query"]["id"])

    def find(calls: list[Call]) -> Call | None:
        return next(
            (
                c
                for c in calls
                if c.method == "answerCallbackQuery"
                and str(c.params.get("callback_query_id")) == query_id
            ),
            None,
        )

    return await fake.await_for(find, timeout)


async def staff_member(
    fake: FakeTelegram, bot: Bot, user: TgUser, role: str, department: str | None = None
) -> Owner:
    """A person who opened a fresh invitation link for `role`, chatting with the bot privately."""
    from store.staff import create_invite

    with bot.services.db.unit_of_work() as uow:
        code = create_invite(uow.session, role, department, bot.services.clock()).code
        uow.commit()
    person = Owner(fake, bot, user)
    await person.send(f"/start {code}")
    return person


async def sweep(bot: Bot) -> dict[str, int]:
    """Run one timer sweep of the bot's scheduler now, then wait until its messages are out."""
    from scheduler.effects import EFFECTS
    from scheduler.sweeper import TimerSweeper

    sweeper = TimerSweeper(bot.services.db, bot.services.desk, EFFECTS)
    result = await asyncio.to_thread(sweeper.sweep)
    bot.desk.sender.notify()
    await drain(bot)
    return result.counts


async def drain(bot: Bot, timeout: float = 30.0) -> None:
    """Wait until the outbox holds nothing due."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with bot.services.db.unit_of_work() as uow:
            pending = uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= bot.services.clock(),
                )
            )
        if not pending:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"outbox not drained within {timeout}s")


def told(person: Owner) -> list[str]:
    """What the bot said to a person in their chat, on whatever channel they use."""
    return [m.get("text") or m.get("caption") or "" for m in person.fake.sent(person.chat_id)]


def paragraphs(texts: list[str]) -> list[str]:
    """What was said, paragraph by paragraph: a note and the question after it read the same
    whether they came as two messages or joined in one (issue 15.2)."""
    return [part for text in texts for part in text.split("\n\n")]
