"""Telegram's per-scope command lists (issue 11.10): owners' commands in every private chat
(zh, en and the desk's language), each staff member's own chat with their roles' commands, and
none in groups, where the desk answers only with "please use our private chat"."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat
from telegram.error import TelegramError

from bot.telegram.inbound import CHANNEL
from handlers.i18n import LANGUAGES
from handlers.menu import command_list
from store.db import Database, first_line
from store.models import Identity, Person, PersonRole
from store.people import has_home, roles_of

log = logging.getLogger(__name__)

Listed = list[tuple[str, str]]


def _commands(listed: Listed) -> list[BotCommand]:
    return [BotCommand(name, text) for name, text in listed]


def staff_chats(db: Database) -> list[tuple[str, Listed]]:
    """(chat id, commands) of every staff member's Telegram private chat."""
    with db.read_only() as session:  # reads only: no write lock, works on a read-only database
        query = (
            select(Identity.external_id, Person)
            .join(Person, Person.id == Identity.person_id)
            .where(
                Identity.channel == CHANNEL,
                Identity.person_id.in_(select(PersonRole.person_id)),
            )
        )
        return [
            (chat, command_list(person.language, roles_of(session, person.id), has_home(person)))
            for chat, person in session.execute(query).all()
        ]


def chat_commands(db: Database, chat_id: str) -> Listed | None:
    """The commands of one private chat's person, or None when they hold no staff role (the
    all-private-chats list already fits them)."""
    with db.read_only() as session:
        person = session.scalar(
            select(Person)
            .join(Identity, Identity.person_id == Person.id)
            .where(Identity.channel == CHANNEL, Identity.external_id == chat_id)
        )
        if person is None:
            return None
        roles = roles_of(session, person.id)
        return command_list(person.language, roles, has_home(person)) if roles else None


class CommandLists:
    """Sets the command lists in the background: start-up does not wait for them, and a
    failure (Telegram unreachable) is logged and costs nothing but the lists."""

    def __init__(self, bot: Bot, db: Database, default_language: str) -> None:
        self.bot = bot
        self.db = db
        self.default_language = default_language
        self._tasks: set[asyncio.Task[None]] = set()

    def publish(self) -> None:
        """Set every list once (at start-up)."""
        self._spawn(self._publish())

    def refresh_chat(self, chat_id: str) -> None:
        """Set one private chat's list again (someone joined as staff there)."""
        self._spawn(self._refresh(chat_id))

    async def stop(self) -> None:
        """Cancel lists still being set."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _private_lists(self) -> list[tuple[str | None, Listed]]:
        """(language code, commands) of every private chat; None: the fallback list."""
        listed: list[tuple[str | None, Listed]] = [
            (language, command_list(language, set(), True)) for language in LANGUAGES
        ]
        return [*listed, (None, command_list(self.default_language, set(), True))]

    async def _publish(self) -> None:
        private = BotCommandScopeAllPrivateChats()
        try:
            # built in a worker thread: the first list compiles the zh catalog (~0.1 s), which
            # on the event loop held back the first getUpdates at start-up (issue 15)
            for language, listed in await asyncio.to_thread(self._private_lists):
                await self.bot.set_my_commands(
                    _commands(listed), scope=private, language_code=language
                )
            for chat, listed in await asyncio.to_thread(staff_chats, self.db):
                await self.bot.set_my_commands(
                    _commands(listed), scope=BotCommandScopeChat(int(chat))
                )
        except (TelegramError, ValueError):
            log.warning("could not set the command lists", exc_info=True)
        except SQLAlchemyError as exc:  # the database is down: the lists wait for the next start
            log.warning("could not read the staff for the command lists (%s)", first_line(exc))

    async def _refresh(self, chat_id: str) -> None:
        try:
            listed = await asyncio.to_thread(chat_commands, self.db, chat_id)
            if listed is not None:
                await self.bot.set_my_commands(
                    _commands(listed), scope=BotCommandScopeChat(int(chat_id))
                )
        except (TelegramError, ValueError):
            log.warning("could not set the command list of chat %s", chat_id, exc_info=True)
        except SQLAlchemyError as exc:
            log.warning("could not read chat %s's command list (%s)", chat_id, first_line(exc))
