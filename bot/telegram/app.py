"""The PTB Application: updates in (polling or webhook), the outbox sender out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)

from bot.bootstrap import Services
from bot.outbox import Limits, OutboxSender
from bot.telegram.commands import CommandLists
from bot.telegram.confirm import Confirmations
from bot.telegram.delivery import TelegramDelivery
from bot.telegram.inbound import to_inbound
from bot.telegram.polling import DurablePolling
from bot.telegram.request import AiohttpRequest
from handlers.inbox import handle_inbound
from handlers.turn import Notice

if TYPE_CHECKING:
    from scheduler.service import DeskScheduler

log = logging.getLogger(__name__)
SEND_CONNECTIONS = 16  # Bot API connections for sends (getUpdates has its own)


class PerChatOrder(BaseUpdateProcessor):
    """Different chats run concurrently; updates of one chat run one after another, in order."""

    def __init__(self, max_concurrent_updates: int = 32) -> None:
        super().__init__(max_concurrent_updates)
        # a chat's lock lives while anyone holds or waits for it (the count), then goes
        self._locks: dict[object, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the update's handlers while holding its chat's lock."""
        key = _chat_key(update)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _chat_key(update: object) -> object:
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return id(update)


class TelegramDesk:
    """One running Telegram bot: the PTB application plus the outbox sender."""

    def __init__(self, services: Services, *, webhook: bool = False) -> None:
        self.services = services
        self.webhook = webhook
        self.application = build_application(services)
        self.confirmations = Confirmations()
        self.polling = None if webhook else DurablePolling(self.application, self.confirmations)
        self.delivery = TelegramDelivery(self.application.bot)
        self.sender = OutboxSender(
            services.db,
            self.delivery,
            services.clock,
            services.settings.outbox_poll_seconds,
            telegram_limits(services),
        )
        self.scheduler: DeskScheduler | None = None
        if services.settings.scheduler_enabled:
            # APScheduler and the report effects only in a process that sweeps (issue 15)
            from scheduler.effects import EFFECTS
            from scheduler.service import DeskScheduler

            self.scheduler = DeskScheduler(
                services.db,
                services.desk,
                EFFECTS,
                services.settings.report_times,
                services.settings.sweep_seconds,
                on_work=self.sender.notify,
            )
        self.commands = CommandLists(
            self.application.bot, services.db, services.settings.default_language
        )
        self.application.bot_data["desk"] = self

    async def start(self) -> None:
        """Start taking updates (long polling unless webhook mode) and delivering replies."""
        await self.application.initialize()
        await self.application.start()
        if self.webhook:
            settings = self.services.settings
            if settings.webhook_url:
                await self.application.bot.set_webhook(
                    settings.webhook_url,
                    secret_token=settings.webhook_secret or None,
                    allowed_updates=Update.ALL_TYPES,
                )
        elif self.polling is not None:
            await self.polling.start()
        self.sender.start()
        self.sender.notify()  # replies committed before a restart go out now
        self.commands.publish()  # in the background: polling does not wait for it
        if self.scheduler is not None:
            self.scheduler.start()

    async def stop(self) -> None:
        """Stop cleanly; anything not yet delivered stays in the outbox."""
        if self.polling is not None:
            await self.polling.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.sender.stop()
        await self.commands.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()


def telegram_limits(services: Services) -> Limits:
    """The sender's lanes keep Telegram's limits (in place of PTB's AIORateLimiter, which
    paced groups and the whole bot but made every chat wait behind one 429 and a busy group)."""
    settings = services.settings
    return Limits(
        private_per_second=settings.telegram_chat_per_second,
        group_per_second=settings.telegram_group_per_minute / 60,
        overall_per_second=settings.telegram_overall_per_second,
    )


def build_application(services: Services) -> Application[Any, Any, Any, Any, Any, Any]:
    """A PTB Application wired to the desk's single update handler."""
    settings = services.settings
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .concurrent_updates(PerChatOrder())
        # Bot API calls over aiohttp, not PTB's httpx (bot.telegram.request, issue 15.4). The
        # overall budget (about 30 sends a second at ~0.3 s each) needs about 9 connections;
        # a send waits for a free one (up to pool_timeout) rather than failing as TimedOut
        .request(AiohttpRequest(SEND_CONNECTIONS, pool_timeout=30.0))
        .get_updates_request(AiohttpRequest(1, pool_timeout=1.0))
    )
    # updates come from DurablePolling or the webhook app, never from PTB's Updater
    application = builder.updater(None).build()
    application.add_handler(TypeHandler(Update, on_update))
    application.add_error_handler(on_error)
    return application


async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Hand the update to the use cases in a worker thread, then wake the sender; a button
    press is answered with its notice (issue 11.5) or, when there is none, an empty answer."""
    desk: TelegramDesk = context.bot_data["desk"]
    inbound = to_inbound(update, context.bot.username)
    notice: Notice | None = None
    if inbound is not None:
        services, chat = desk.services, _chat_key(update)
        if desk.confirmations.chat_failed(chat):  # an earlier one of the chat comes again first
            desk.confirmations.failed(update.update_id, chat, raised=False)
            return
        try:
            handled = await asyncio.to_thread(
                handle_inbound, services.db, services.desk, inbound
            )
        except Exception:  # neither the turn nor an apology committed: Telegram must resend it
            desk.confirmations.failed(update.update_id, chat)
            return
        if handled.fresh:  # not a duplicate: something was written, so the database takes writes
            desk.confirmations.committed(update.update_id)
        notice = handled.notice
        desk.sender.notify()
        if handled.fresh and inbound.command == "start" and inbound.command_arg:
            desk.commands.refresh_chat(inbound.chat_id)  # perhaps joined as staff: their list
    if update.callback_query is not None:
        try:  # on the sender's lean path: the answer is True, nothing to build from it
            await desk.delivery.answer_button(
                update.callback_query.id,
                notice.text if notice is not None else None,
                notice.alert if notice is not None else False,
            )
        except TelegramError:  # an expired query id is harmless
            log.debug("could not answer callback query", exc_info=True)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log what escaped the use cases; the owner already got an apology from the inbox."""
    log.error("update %r failed", update, exc_info=context.error)
