"""One handled inbound message: the conversation, the person, and the replies being written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from handlers.desk import Desk
from handlers.i18n import Translate, translator
from handlers.messages import Button, Inbound, Outbound
from store.db import UnitOfWork
from store.models import Person

GLOBAL = "g"  # version tag of buttons that stay valid in any step (menu, my requests)


@dataclass(frozen=True)
class Press:
    """A decoded button press."""

    version: str
    action: str
    arg: str


def parse_id(arg: str) -> int | None:
    """A row id from button data, or None when it cannot be one (forged, "²", too big)."""
    return int(arg) if arg.isascii() and arg.isdigit() and len(arg) <= 9 else None


def encode_button(version: str, action: str, arg: str = "") -> str:
    """Callback data: the state version it was drawn for, the action and its argument."""
    return f"{version}|{action}|{arg}"[:64]


def decode_button(data: str) -> Press | None:
    """Parse callback data; None when it is not ours (forged or from an old release)."""
    parts = data.split("|")
    if len(parts) != 3 or not parts[1]:
        return None
    return Press(*parts)


@dataclass(frozen=True)
class Notice:
    """A short private answer to a button press: Telegram shows it on the pressed button
    (an alert when it matters); other channels send it as a private reply to the presser."""

    text: str
    alert: bool = False


@dataclass
class ConversationState:
    """A chat's conversation row as one turn reads and changes it: plain fields, written back
    in one UPDATE at the end of the turn when something changed, instead of an ORM object
    whose dirty tracking flushed it before every later query (issue 15.4)."""

    id: int
    step: str
    data: dict[str, Any]
    version: int
    language: str | None


@dataclass
class Turn:
    """The context a handler works in for one inbound message."""

    uow: UnitOfWork
    desk: Desk
    inbound: Inbound
    convo: ConversationState
    person: Person | None
    language: str
    replies: list[Outbound] = field(default_factory=list)
    pressed_notice: Notice | None = None  # the press's own answer (issue 11.5)
    keep_pressed: bool = False  # the pressed message is a record: answer below it, not over it

    @property
    def session(self) -> Session:
        """The database session of this turn's unit of work."""
        return self.uow.session

    @property
    def _(self) -> Translate:
        """Translate a message into the person's language."""
        return translator(self.language)

    @property
    def draft(self) -> dict[str, Any]:
        """The dialog data collected so far (a copy; save with `goto` or `keep`)."""
        return dict(self.convo.data or {})

    def say(
        self,
        text: str,
        buttons: list[list[Button]] | None = None,
        ask_contact: str | None = None,
        remove_keyboard: bool = False,
    ) -> None:
        """Queue a reply to this chat."""
        self.replies.append(
            Outbound(
                self.inbound.chat_id,
                text,
                buttons or [],
                ask_contact=ask_contact,
                remove_keyboard=remove_keyboard,
            )
        )

    def notice(self, text: str, alert: bool = False) -> None:
        """Answer the press itself, privately and in the presser's language, instead of a chat
        message: stale or repeated presses and refused group-card buttons (issue 11.5)."""
        self.pressed_notice = Notice(text, alert)

    def goto(self, step: str, data: dict[str, Any] | None = None) -> None:
        """Move the dialog to `step`; older buttons become stale."""
        self.convo.step = step
        if data is not None:
            self.convo.data = data
        self.convo.version = (self.convo.version or 0) + 1

    def keep(self, data: dict[str, Any]) -> None:
        """Save draft data without changing step or invalidating buttons."""
        self.convo.data = data

    def button(self, label: str, action: str, arg: str = "") -> Button:
        """A button valid only for the current step of the dialog."""
        return Button(label, encode_button(str(self.convo.version), action, arg))

    def global_button(self, label: str, action: str, arg: str = "") -> Button:
        """A button that works whatever step the dialog is in (menus, lists)."""
        return Button(label, encode_button(GLOBAL, action, arg))
