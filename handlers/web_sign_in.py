"""/web: a registered owner asks, in a chat they already use, for a one-time link that signs
them in to the web chat as the same person (the same requests, the same history)."""

from __future__ import annotations

from handlers.desk import Desk
from handlers.i18n import translator
from handlers.messages import Button, Outbound
from handlers.owner_text import one_line
from handlers.turn import GLOBAL, Turn, encode_button
from store.db import UnitOfWork
from store.models import OutboxMessage, Person
from store.staff import private_chats
from store.web_sign_in import SIGN_IN_TTL, WEB, SignedIn, new_sign_in, redeem_sign_in

OWNERS = ("verified", "pending")  # a pending owner may already report repairs


def sign_in_link(base_url: str, token: str) -> str:
    """The link the owner opens: the token after '#', so it never reaches a server's logs
    and a link preview that fetches the page cannot use it up."""
    return f"{base_url}#signin={token}"


def on_web(turn: Turn) -> None:
    """Send a one-time sign-in link to the web chat, or say politely why not."""
    _ = turn._
    person = turn.person
    if turn.inbound.channel == WEB:
        turn.say(_("You are already in the web chat."))
        return
    if not turn.desk.web_chat_url:
        turn.say(
            _(
                "Our web chat is not available yet. Please keep using this chat; "
                "everything works here."
            )
        )
        return
    if person is None:
        turn.say(
            _("Please register first (send /start); then send /web for a link to the web chat.")
        )
        return
    if person.owner_status not in OWNERS:
        turn.say(
            _(
                "The web chat is for registered owners. Please contact the property office "
                "if you need help."
            )
        )
        return
    token = new_sign_in(turn.session, person.id, turn.inbound.channel, turn.desk.now())
    minutes = int(SIGN_IN_TTL.total_seconds() // 60)
    turn.say(
        _(
            "Here is your sign-in link to the web chat:\n{link}\n\nIt works once, within "
            "{minutes} minutes, and signs that browser in as you. Do not forward it. "
            "Send /web again for a new one."
        ).format(link=sign_in_link(turn.desk.web_chat_url, token), minutes=minutes)
    )


def redeem_link(uow: UnitOfWork, desk: Desk, token: str) -> SignedIn | None:
    """Use a sign-in token once; the web chat greets the person and their other chats are
    told (so a sign-in they did not make does not go unnoticed). None: refused."""
    signed = redeem_sign_in(uow.session, token, desk.now())
    if signed is None:
        return None
    person = signed.person
    _ = translator(person.language)
    welcome = _(
        "You are signed in as {name}. Your requests and messages from the desk are here too."
    ).format(name=one_line(person.name))
    menu = [[Button(_("« Menu"), encode_button(GLOBAL, "menu"))]]
    _queue(uow, WEB, signed.web_id, Outbound(signed.web_id, welcome, menu))
    _tell_other_chats(uow, person, signed.web_id)
    return signed


def _tell_other_chats(uow: UnitOfWork, person: Person, web_id: str) -> None:
    _ = translator(person.language)
    text = _(
        "A browser was just signed in to the web chat as you. If this was not you, please "
        "contact the property office."
    )
    for channel, chat_id in private_chats(uow.session, person.id):
        if (channel, chat_id) != (WEB, web_id):
            _queue(uow, channel, chat_id, Outbound(chat_id, text))


def _queue(uow: UnitOfWork, channel: str, chat_id: str, message: Outbound) -> None:
    uow.session.add(OutboxMessage(channel=channel, chat_id=chat_id, payload=message.to_payload()))
