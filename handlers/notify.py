"""Messages to people other than the one who wrote: in their own chats and language."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from handlers.i18n import Translate, translator
from handlers.messages import Button, Outbound
from handlers.turn import Turn
from store.models import OutboxMessage, Person
from store.staff import private_chats

Compose = Callable[[Translate], tuple[str, list[list[Button]]]]


def notify_person(turn: Turn, person: Person, compose: Compose, photos: Sequence[str] = ()) -> int:
    """Queue a message (then any photos) to each private chat of `person`, in their language."""
    text, buttons = compose(translator(person.language))
    sent = 0
    for channel, chat_id in private_chats(turn.session, person.id):
        messages = [Outbound(chat_id, text, buttons)]
        if channel == turn.inbound.channel:  # file references only mean something in their channel
            messages += [Outbound(chat_id, "", photo=ref) for ref in photos]
        for message in messages:
            turn.session.add(
                OutboxMessage(channel=channel, chat_id=chat_id, payload=message.to_payload())
            )
        sent += 1
    return sent
