"""/link: one person, two channels. "/link" gives a code; "/link CODE" in the other app joins it."""

from __future__ import annotations

import unicodedata

from handlers.i18n import Translate, translator
from handlers.menu import show_menu
from handlers.messages import Outbound
from handlers.owner_text import one_line
from handlers.turn import Turn
from store.linking import LinkResult, new_code, redeem
from store.models import OutboxMessage, Person
from store.staff import private_chats


def _channel_name(_: Translate, channel: str) -> str:
    return {"telegram": "Telegram", "wechat": _("WeChat")}.get(channel, channel)


def on_link(turn: Turn) -> None:
    """Hand out a link code, or redeem one typed after /link."""
    _ = turn._
    typed = unicodedata.normalize("NFKC", turn.inbound.command_arg).replace(" ", "")
    if not typed:
        _give_code(turn)
        return
    if not (typed.isascii() and typed.isdigit() and len(typed) == 6):
        turn.say(_("A link code has 6 digits, for example /link 123456."))
        return
    inbound = turn.inbound
    result = redeem(turn.session, typed, inbound.channel, inbound.user_id, turn.desk.now())
    _answer(turn, result)


def _give_code(turn: Turn) -> None:
    _ = turn._
    if turn.person is None:
        turn.say(
            _(
                "To use your account from this chat, send /link and the 6-digit code from "
                "the app where you are registered. To get a code, send /link there."
            )
        )
        return
    code = new_code(turn.session, turn.person.id, turn.inbound.channel, turn.desk.now())
    turn.say(
        _(
            "Your link code is {code}. Within 10 minutes, send /link {code} to this desk in "
            "your other app (Telegram or WeChat) to use one account in both."
        ).format(code=code)
    )


def _answer(turn: Turn, result: LinkResult) -> None:
    _ = turn._
    person = result.person
    if result.outcome in ("linked", "merged") and person is not None:
        turn.person = person
        if turn.convo.step.startswith("reg_"):  # a registration begun here is not needed now
            turn.goto("idle", {})
        turn.say(
            _("Done: this chat now uses the account of {name}. Your requests are here too.").format(
                name=one_line(person.name)
            )
        )
        _tell_other_chats(turn, person)
        show_menu(turn)
        return
    messages = {
        "already": _("This chat already uses that account."),
        "invalid": _(
            "That code is not valid or has expired. Send /link in your other app for a new one."
        ),
        "same_channel": _("Please send this code from your other app, not from this one."),
        "channel_taken": _(
            "That account already uses another {channel} account, so I cannot add this one. "
            "Please contact the property office."
        ).format(channel=_channel_name(_, turn.inbound.channel)),
        "different_homes": _(
            "These two accounts are registered for different homes, so I cannot join them. "
            "Please contact the property office."
        ),
        "has_records": _(
            "This chat's account already has requests or other records of its own, so I "
            "cannot join it automatically. Please contact the property office."
        ),
    }
    turn.say(messages.get(result.outcome, messages["invalid"]))


def _tell_other_chats(turn: Turn, person: Person) -> None:
    """Tell the person's other chats, so a link they did not make does not go unnoticed."""
    _ = translator(person.language)
    text = _(
        "A {channel} account was just joined to your account. If this was not you, please "
        "contact the property office."
    ).format(channel=_channel_name(_, turn.inbound.channel))
    here = (turn.inbound.channel, turn.inbound.chat_id)
    for channel, chat_id in private_chats(turn.session, person.id):
        if (channel, chat_id) != here:
            payload = Outbound(chat_id, text).to_payload()
            turn.session.add(OutboxMessage(channel=channel, chat_id=chat_id, payload=payload))
