"""The one path of every inbound message: dedupe, load the conversation, route, write the outbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from handlers.desk import Desk
from handlers.i18n import pick_language, translator
from handlers.joined_replies import join_replies
from handlers.messages import Inbound, Outbound
from handlers.owner_text import normalise
from handlers.router import route
from handlers.turn import ConversationState, Notice, Turn, decode_button
from store.clock import session_now
from store.db import Database, UnitOfWork, cannot_write, once_more_if_read_only
from store.models import Conversation, OutboxMessage
from store.outbox import queue
from store.people import person_by_identity
from store.updates import first_delivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Handled:
    """What became of one inbound message, for its transport."""

    fresh: bool  # False: a duplicate delivery, nothing was done
    notice: Notice | None = None  # the press's answer, for a transport that shows it itself


DUPLICATE = Handled(fresh=False)


def handle_inbound(db: Database, desk: Desk, inbound: Inbound) -> Handled:
    """Handle a message exactly once in one transaction (not `fresh` if it was a duplicate);
    a press's notice comes back when the transport shows it (Inbound.press_notices)."""
    inbound = normalised(inbound)
    return once_more_if_read_only(lambda: _handle_once(db, desk, inbound))


def _handle_once(db: Database, desk: Desk, inbound: Inbound) -> Handled:
    """One try at handling a message in one transaction."""
    try:
        with db.unit_of_work() as uow:
            if not _first_delivery(uow, inbound):
                return DUPLICATE
            turn, read = _load_turn(uow, desk, inbound)
            version = turn.convo.version
            route(turn)
            turn.replies = join_replies(inbound.channel, turn.replies)  # issue 15.2
            _edit_pressed(turn, moved_on=_moved_on(turn, version))
            notice = _place_notice(turn)
            _save_conversation(uow, turn.convo, read)
            write_outbox(uow, inbound.channel, turn.replies)
            uow.commit()
            return Handled(fresh=True, notice=notice)
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


def _place_notice(turn: Turn) -> Notice | None:
    """The notice for the transport to show, or None after queueing it as a private reply to
    the presser (never to a group) where the channel cannot show it on the button."""
    notice, inbound = turn.pressed_notice, turn.inbound
    if notice is None or (inbound.press_notices and inbound.button is not None):
        return notice
    # a private chat's id is its person's id on every channel (router._press relies on it)
    turn.replies.append(Outbound(inbound.user_id, notice.text))
    return None


def _edit_pressed(turn: Turn, moved_on: bool) -> None:
    """Where a private step answers a button press, its first reply to the chat replaces the
    pressed message (text and inline buttons only) instead of piling up (issue 11.6): a reply
    with buttons, or any once the dialog has moved on; a bare note at the same step (a time
    out of hours) would take the question's buttons away, so it goes below instead."""
    inbound = turn.inbound
    if inbound.button_message_id is None or inbound.chat_kind != "private" or turn.keep_pressed:
        return
    if turn.pressed_notice is not None:  # a refused press leaves the pressed message as it was
        return
    for index, reply in enumerate(turn.replies):
        if reply.chat_id != inbound.chat_id:
            continue
        plain = reply.photo is None and reply.upload is None and not reply.ask_contact
        answers = bool(reply.buttons) or moved_on
        if plain and answers and not reply.remove_keyboard and reply.edit_message_id is None:
            if _newest_in_chat(turn, inbound.button_message_id):
                turn.replies[index] = replace(reply, edit_message_id=inbound.button_message_id)
        return


def _moved_on(turn: Turn, version: int) -> bool:
    """Whether the press did more than get a step's error note: the dialog went to another
    step, or the button was not a step's (an order's, a menu's) and was not refused."""
    press = decode_button(turn.inbound.button or "")
    step_press = press is not None and press.version == str(version)
    return turn.convo.version != version or not step_press


# the per-turn queries are built once, run with parameters: building a statement (its
# operators, its cache key) each time cost more CPU than running it (issue 15.4)
_NEWEST_IN_CHAT = (
    select(OutboxMessage.external_id)
    .where(
        OutboxMessage.channel == bindparam("channel"), OutboxMessage.chat_id == bindparam("chat")
    )
    .order_by(OutboxMessage.id.desc())
    .limit(1)
)
_CONVERSATIONS = Conversation.metadata.tables[Conversation.__tablename__]
_CONVERSATION = (
    select(
        _CONVERSATIONS.c.id,
        _CONVERSATIONS.c.step,
        _CONVERSATIONS.c.data,
        _CONVERSATIONS.c.version,
        _CONVERSATIONS.c.language,
    )
    .where(_CONVERSATIONS.c.channel == bindparam("channel"))
    .where(_CONVERSATIONS.c.chat_id == bindparam("chat"))
    .with_for_update()
)
_NEW_CONVERSATION = insert(_CONVERSATIONS).values(step="idle", data={}, version=0)
_SAVE_CONVERSATION = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("convo_id"))
    .values(
        step=bindparam("step"),
        data=bindparam("data"),
        version=bindparam("version"),
        language=bindparam("language"),
        updated_at=bindparam("now"),
    )
)


def _newest_in_chat(turn: Turn, message_id: str) -> bool:
    """Whether the pressed message is the newest the desk wrote to the chat (this turn's
    notes included): an edit further up, above later messages, would go unseen."""
    inbound = turn.inbound
    where = {"channel": inbound.channel, "chat": inbound.chat_id}
    newest = turn.session.scalar(_NEWEST_IN_CHAT, where)
    # the web chat names an edit's delivery "<edited id>~<own id>"
    return newest is not None and newest.split("~", 1)[0] == message_id


def _first_delivery(uow: UnitOfWork, inbound: Inbound) -> bool:
    return first_delivery(uow.session, inbound.channel, inbound.update_id)


def _load_turn(uow: UnitOfWork, desk: Desk, inbound: Inbound) -> tuple[Turn, tuple[Any, ...]]:
    session = uow.session
    convo, read = _conversation(uow, inbound)
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
    turn = Turn(uow=uow, desk=desk, inbound=inbound, convo=convo, person=person, language=language)
    return turn, read


def _conversation(uow: UnitOfWork, inbound: Inbound) -> tuple[ConversationState, tuple[Any, ...]]:
    """The chat's conversation, locked for this transaction (created on first contact), and
    its values as read, to tell at the end whether the turn changed it."""
    session = uow.session
    where = {"channel": inbound.channel, "chat": inbound.chat_id}
    row = session.execute(_CONVERSATION, where).first()
    if row is None:
        try:
            with session.begin_nested():
                new = {"channel": inbound.channel, "chat_id": inbound.chat_id}
                session.execute(_NEW_CONVERSATION, {**new, "updated_at": session_now(session)})
        except IntegrityError:  # another worker created it first; its row is the one to lock
            pass
        row = session.execute(_CONVERSATION, where).one()
    convo = ConversationState(*row)
    return convo, _values(convo)


def _values(convo: ConversationState) -> tuple[Any, ...]:
    # compared by value (==) with the values read, as the ORM did: a step that set the same
    # values again writes nothing
    return (convo.step, convo.data, convo.version, convo.language)


def _save_conversation(uow: UnitOfWork, convo: ConversationState, read: tuple[Any, ...]) -> None:
    """Write the turn's changes to the conversation back, stamped, when there are any."""
    if _values(convo) == read:
        return
    uow.session.execute(
        _SAVE_CONVERSATION,
        {
            "convo_id": convo.id,
            "step": convo.step,
            "data": convo.data,
            "version": convo.version,
            "language": convo.language,
            "now": uow.now(),
        },
    )


def write_outbox(uow: UnitOfWork, channel: str, replies: list[Outbound]) -> None:
    """Queue messages for delivery in the current transaction, after the rows handlers added
    themselves (a job card, a notice to someone else)."""
    queue(uow.session, channel, [(reply.chat_id, reply.to_payload()) for reply in replies])


def _apologise(db: Database, desk: Desk, inbound: Inbound) -> Handled:
    """After an unexpected failure: record the update so it is not retried forever, say sorry."""
    _ = translator(pick_language(inbound.language_hint, desk.default_language))
    try:
        with db.unit_of_work() as uow:
            if not _first_delivery(uow, inbound):
                return DUPLICATE
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
    return Handled(fresh=True)
