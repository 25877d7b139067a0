"""Messages to people other than the one who wrote: in their own chats and language."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from sqlalchemy.orm import Session

from handlers.i18n import Translate, translator
from handlers.messages import Button, Outbound
from handlers.turn import Turn
from store.models import OutboxMessage, Person
from store.staff import private_chats

Compose = Callable[[Translate], tuple[str, list[list[Button]]]]


def notify_person(turn: Turn, person: Person, compose: Compose, photos: Sequence[str] = ()) -> int:
    """Queue a message (then any photos) to each private chat of `person`, in their language."""
    return queue_for_person(turn.session, person, compose, photos, turn.inbound.channel)


def queue_for_person(
    session: Session,
    person: Person,
    compose: Compose,
    photos: Sequence[str] = (),
    photo_channel: str | None = None,
) -> int:
    """Queue a message to each private chat of `person` in their language; photos (file
    references of `photo_channel`) only where they mean something. Returns the chats reached."""
    text, buttons = compose(translator(person.language))
    sent = 0
    for channel, chat_id in private_chats(session, person.id):
        messages = [Outbound(chat_id, text, buttons)]
        if channel == photo_channel:
            messages += [Outbound(chat_id, "", photo=ref) for ref in photos]
        for message in messages:
            session.add(
                OutboxMessage(channel=channel, chat_id=chat_id, payload=message.to_payload())
            )
        sent += 1
    return sent


def queue_for_people(session: Session, people: Iterable[Person], compose: Compose) -> int:
    """Queue the same message to several people, each in their language; returns chats reached."""
    return sum(queue_for_person(session, person, compose) for person in people)
