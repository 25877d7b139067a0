"""Messages to people other than the one who wrote: in their own chats and language."""

from __future__ import annotations

from collections.abc import Callable

from handlers.i18n import Translate, translator
from handlers.messages import Button, Outbound
from handlers.turn import Turn
from store.models import OutboxMessage, Person
from store.staff import private_chats

Compose = Callable[[Translate], tuple[str, list[list[Button]]]]


def notify_person(turn: Turn, person: Person, compose: Compose) -> int:
    """Queue a message to each private chat of `person`, written in their language."""
    text, buttons = compose(translator(person.language))
    sent = 0
    for channel, chat_id in private_chats(turn.session, person.id):
        message = Outbound(chat_id, text, buttons)
        turn.session.add(
            OutboxMessage(channel=channel, chat_id=chat_id, payload=message.to_payload())
        )
        sent += 1
    return sent
