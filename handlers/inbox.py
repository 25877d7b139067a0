"""The one path of every inbound message: dedupe, load the conversation, route, write the outbox."""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from handlers.desk import Desk
from handlers.i18n import pick_language, translator
from handlers.messages import Inbound, Outbound
from handlers.owner_text import normalise
from handlers.router import route
from handlers.turn import Turn
from store.db import Database, UnitOfWork, cannot_write
from store.models import Conversation, OutboxMessage
from store.people import person_by_identity
from store.updates import first_delivery

log = logging.getLogger(__name__)


def handle_inbound(db: Database, desk: Desk, inbound: Inbound) -> bool:
    """Handle a message exactly once in one transaction; False if it was a duplicate."""
    inbound = normalised(inbound)
    try:
        with db.unit_of_work() as uow:
            if not _first_delivery(uow, inbound):
                return False
            turn = _load_turn(uow, desk, inbound)
            route(turn)
            write_outbox(uow, inbound.channel, turn.replies)
            uow.commit()
            return True
    except Exception as exc:
        if cannot_write(exc):
            # the database takes no writes now (disk full, read-only, gone): no apology either
            # -- it would mark the update handled. The transport leaves it unconfirmed,
            # retries, and logs once per episode.
            raise
        log.exception("handling update %s failed", inbound.update_id)
        return _apologise(db, desk, inbound)


def normalised(inbound: Inbound) -> Inbound:
    """Typed text and the sender's display name as the desk keeps them (owner text is data):
    no controls (PostgreSQL refuses NUL), bidi or zero-width characters; invisible text is ""."""
    text = normalise(inbound.text) if inbound.text is not None else None
    name = normalise(inbound.user_name)
    if text == inbound.text and name == inbound.user_name:
        return inbound
    return replace(inbound, text=text, user_name=name)


def _first_delivery(uow: UnitOfWork, inbound: Inbound) -> bool:
    return first_delivery(uow.session, inbound.channel, inbound.update_id)


def _load_turn(uow: UnitOfWork, desk: Desk, inbound: Inbound) -> Turn:
    session = uow.session
    convo = _conversation(uow, inbound)
    person = person_by_identity(session, inbound.channel, inbound.user_id)
    if inbound.chat_kind == "private":
        language = (person.language if person is not None else convo.language) or pick_language(
            inbound.language_hint, desk.default_language
        )
        convo.language = language
    else:
        language = (
            person.language
            if person is not None
            else pick_language(inbound.language_hint, desk.default_language)
        )
    return Turn(uow=uow, desk=desk, inbound=inbound, convo=convo, person=person, language=language)


def _conversation(uow: UnitOfWork, inbound: Inbound) -> Conversation:
    """The chat's conversation, locked for this transaction; created on first contact."""
    query = (
        select(Conversation)
        .where(Conversation.channel == inbound.channel, Conversation.chat_id == inbound.chat_id)
        .with_for_update()
    )
    convo = uow.session.scalar(query)
    if convo is not None:
        return convo
    try:
        with uow.session.begin_nested():
            uow.session.add(
                Conversation(
                    channel=inbound.channel,
                    chat_id=inbound.chat_id,
                    step="idle",
                    data={},
                    version=0,
                )
            )
    except IntegrityError:  # another worker created it first; its row is the one to lock
        pass
    return uow.session.scalars(query).one()


def write_outbox(uow: UnitOfWork, channel: str, replies: list[Outbound]) -> None:
    """Queue messages for delivery in the current transaction."""
    for reply in replies:
        uow.session.add(
            OutboxMessage(
                channel=channel, chat_id=reply.chat_id, payload=reply.to_payload(), status="pending"
            )
        )


def _apologise(db: Database, desk: Desk, inbound: Inbound) -> bool:
    """After an unexpected failure: record the update so it is not retried forever, say sorry."""
    _ = translator(pick_language(inbound.language_hint, desk.default_language))
    try:
        with db.unit_of_work() as uow:
            if not _first_delivery(uow, inbound):
                return False
            write_outbox(
                uow,
                inbound.channel,
                [
                    Outbound(
                        inbound.chat_id,
                        _(
                            "Sorry, something went wrong on our side and nothing was "
                            "changed. Please try again in a moment."
                        ),
                    )
                ],
            )
            uow.commit()
    except Exception:
        log.exception("could not record the apology for update %s", inbound.update_id)
        raise
    return True
