"""Job cards in the staff group and the claim (R6): the first valid press wins."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.desk import Desk
from handlers.i18n import Translate, translator
from handlers.labels import (
    DEPARTMENT_LABELS,
    N_,
    category_label,
    money,
    phone_label,
    window_label,
)
from handlers.messages import Button, Outbound
from handlers.notify import notify_person
from handlers.owner_text import field_text, one_line
from handlers.turn import Press, Turn
from store import outbox
from store.jobs import claim, department_for, may_take, order_for_update
from store.models import Order, OutboxMessage, Person
from store.order_states import OrderAction, OrderStatus, allowed_actions

CARD_TAG = "o"  # version tag of order buttons: "o<order version>|<action>|<order id>[-<extra>]"

# what the assignee may do from the private chat, in the order the buttons appear
ENGINEER_ACTIONS: dict[OrderAction, str] = {
    OrderAction.DEPART: N_("🚗 On my way"),
    OrderAction.ARRIVE: N_("📍 Arrived"),
    OrderAction.NOT_HOME: N_("🚪 Owner not home"),
    OrderAction.COMPLETE: N_("✅ Done"),
    OrderAction.RELEASE: N_("↩ Release"),
}


def order_data(order_id: int, version: int, action: str, extra: str = "") -> str:
    """Callback data about an order at a version."""
    arg = f"{order_id}-{extra}" if extra else str(order_id)
    return f"{CARD_TAG}{version}|{action}|{arg}"[:64]


def order_button(label: str, order: Order, action: str, extra: str = "") -> Button:
    """A button about an order, valid only while the order is at its current version."""
    return Button(label, order_data(order.id, order.version, action, extra))


def engineer_buttons(_: Translate, order: Order) -> list[list[Button]]:
    """The assignee's buttons for the actions the order's status still allows."""
    allowed = allowed_actions(OrderStatus(order.status))
    buttons = [
        order_button(_(label), order, a.value)
        for a, label in ENGINEER_ACTIONS.items()
        if a in allowed
    ]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def pressed_order(turn: Turn, press: Press) -> tuple[Order, int, str] | None:
    """The locked order a button is about, the version it was drawn for, and its extra part."""
    order_id, _sep, extra = press.arg.partition("-")
    version = press.version.removeprefix(CARD_TAG)
    if not order_id.isdigit() or not version.isdigit():
        return None
    order = order_for_update(turn.session, int(order_id))
    return (order, int(version), extra) if order is not None else None


def _when(_: Translate, desk: Desk, order: Order, language: str) -> str:
    if order.urgent:
        return _("🚨 URGENT: come now (on site within 30 minutes)")
    if order.visit_start and order.visit_end:
        return window_label(language, desk.local(order.visit_start), desk.local(order.visit_end))
    return "-"


def _price(_: Translate, order: Order) -> str:
    if order.kind == "rework":
        return _("rework, no charge")
    if order.quote_kind == "list" and order.quoted_fen is not None:
        return _("{amount}, agreed by the owner").format(amount=money(order.quoted_fen))
    if order.quote_kind == "on_site":
        return _("quote on site (the owner decides then)")
    return _("free (public area)")


def _title(_: Translate, order: Order) -> str:
    if order.kind == "rework":
        return _("🔁 Rework job {number}").format(number=order.number)
    return _("🔧 New job {number}").format(number=order.number)


def card_text(desk: Desk, order: Order, language: str, problem_chars: int = 500) -> str:
    """What the staff group sees: never the owner's name or phone."""
    _ = translator(language)
    room = order.unit.code if order.unit is not None else "-"
    if order.location == "home":
        place = _("Room: {room} ({where})").format(room=room, where=_("inside the home"))
    else:  # the reporter's building, never their flat: an engineer must not go there
        building = "-".join(room.split("-")[:2]) if room != "-" else room
        place = _("Where: public area near {building}").format(building=building)
    return "\n".join(
        [
            _title(_, order),
            place,
            _("Category: {category}").format(category=category_label(_, order.category)),
            _("Problem: {text}").format(text=field_text(order.description, problem_chars)),
            _("When: {when}").format(when=_when(_, desk, order, language)),
            _("Price: {price}").format(price=_price(_, order)),
            _("Photos: {count}").format(count=len(order.photos)),
        ]
    )


def post_job_card(turn: Turn, order: Order) -> None:
    """Put the new order's card with a Claim button in its department's group."""
    order.department = department_for(order.category)
    queue_job_card(turn.session, turn.desk, order)


def queue_job_card(session: Session, desk: Desk, order: Order, *, again: bool = False) -> None:
    """Queue the order's card (Claim, Assign) for its department's group; `again` marks a
    re-announcement of a job still waiting. Later edits go to this newest card. While the
    group's previous card has not gone out yet, the order joins it (issue 15.3)."""
    group = desk.group_for(order.department)
    if group is None:
        return  # no staff group configured: the order waits on the supervisor's board
    if _join_unsent_card(session, desk, group, order, again):
        return
    language = desk.default_language
    _ = translator(language)
    claim_button = order_button(_("🙋 Claim"), order, "claim")
    assign_button = order_button(_("👤 Assign"), order, "assign")
    text = card_text(desk, order, language)
    if again:
        text = _("⏰ Still waiting for someone to take it:") + "\n" + text
    card = Outbound(group, text, [[claim_button, assign_button]])
    on_card = {"orders": [order.id], "again": [order.id] if again else [], "lines": {}}
    payload = {**card.to_payload(), CARD_KEY: on_card}
    row = OutboxMessage(channel=desk.staff_channel, chat_id=group, payload=payload)
    session.add(row)
    session.flush()
    order.card_outbox_id = row.id


# --- storm cards (issue 15.3) ----------------------------------------------------------------
# Telegram lets a bot post 20 messages a minute into a group, so on a storm night single cards
# would queue for many minutes. A card that has not gone out yet (no sender holds its outbox
# row) is rewritten to take the next orders, up to desk.card_batch, each with its own Claim
# and Assign; every order on it points at the same outbox row (order.card_outbox_id), so all
# know its message id and its sent_at (the R6 re-post counts from it). A claim edits the
# whole card from the orders' state: the taken one shows who, the others keep their buttons.

CARD_KEY = "job_card"  # in a card's outbox payload: its orders, re-posts and status lines
CARD_CHARS = 4000  # Telegram takes 4096 characters a message: a full card starts a new one


def _on_card(row: OutboxMessage | None) -> dict[str, Any] | None:
    """What a job card's outbox row says about its orders (None: not a job card)."""
    value = row.payload.get(CARD_KEY) if row is not None else None
    return value if isinstance(value, dict) and value.get("orders") else None


def _join_unsent_card(
    session: Session, desk: Desk, group: str, order: Order, again: bool
) -> bool:
    """Add the order to the group's newest card if it has not gone out and has room."""
    if desk.card_batch < 2 or desk.staff_channel != "telegram":
        return False  # no group limit to beat; WeCom sends each member their own cards
    row = outbox.unsent_tail(session, desk.staff_channel, group)
    on_card = _on_card(row)
    if row is None or on_card is None or row.lease_until is not None:
        return False  # a sender holds it (its lease is the fence), or it is not a job card
    orders = [int(i) for i in on_card["orders"]]
    if len(orders) >= desk.card_batch or order.id in orders:
        return False
    joined = {
        **on_card,
        "orders": [*orders, order.id],
        "again": [*on_card.get("again", []), *([order.id] if again else [])],
    }
    card = combined_card(session, desk, group, joined)
    if len(card.text.encode("utf-16-le")) // 2 > CARD_CHARS:  # as Telegram counts
        return False
    row.payload = {**row.payload, **card.to_payload(), CARD_KEY: joined}
    order.card_outbox_id = row.id
    return True


def combined_card(session: Session, desk: Desk, chat: str, on_card: dict[str, Any]) -> Outbound:
    """A card of several orders as they stand now: a waiting order with its own Claim and
    Assign, a taken one with who took it (its line from show_on_card)."""
    language = desk.default_language
    _ = translator(language)
    ids = [int(i) for i in on_card["orders"]]
    found = session.scalars(
        select(Order).where(Order.id.in_(ids)).execution_options(populate_existing=True)
    )
    orders = {o.id: o for o in found}
    again = {int(i) for i in on_card.get("again", [])}
    lines: dict[str, str] = on_card.get("lines", {})
    heading = _("📋 {count} jobs on this card, each with its own Claim button.")
    blocks = [heading.format(count=len(ids))]
    buttons: list[list[Button]] = []
    for position, order_id in enumerate(ids, 1):
        order = orders.get(order_id)
        if order is None:
            continue
        block = card_text(desk, order, language, problem_chars=200).split("\n")
        if order_id in again:
            block.insert(0, _("⏰ Still waiting for someone to take it:"))
        block[0] = f"{position}. {block[0]}"
        if order.status == OrderStatus.SUBMITTED:
            take = order_button(_("🙋 Claim {number}").format(number=order.number), order, "claim")
            buttons.append([take, order_button(_("👤 Assign"), order, "assign")])
        else:
            block.append(lines.get(str(order_id)) or _no_longer_waiting(_, desk, order))
        blocks.append("\n".join(block))
    return Outbound(chat, "\n\n".join(blocks), buttons)


def _no_longer_waiting(_: Translate, desk: Desk, order: Order) -> str:
    """The status line of an order taken or ended elsewhere (not through this card)."""
    if order.assignee is not None:
        stamp = desk.local(order.claimed_at or desk.now()).strftime("%H:%M")
        name = one_line(order.assignee.name)
        return _("✅ Taken by {name} at {time}").format(name=name, time=stamp)
    return _("✖ No longer waiting")


def _show_on_combined_card(turn: Turn, card_id: int, order: Order, line: str) -> None:
    """Show `line` for the order on its card of several orders; the others keep their buttons.
    The card's row is locked first, so two claims on one card edit it one after the other,
    the later showing both."""
    session = turn.session
    card = session.get(OutboxMessage, card_id, with_for_update=True, populate_existing=True)
    on_card = _on_card(card)
    if card is None or on_card is None:
        return
    on_card = {**on_card, "lines": {**on_card.get("lines", {}), str(order.id): line}}
    message = combined_card(session, turn.desk, card.chat_id, on_card)
    if card.status == "pending" and card.lease_until is None:  # not gone out: rewrite it
        card.payload = {**card.payload, **message.to_payload(), CARD_KEY: on_card}
        return
    if card.status == "pending":  # a sender holds it: its copy may go out, or this one
        card.payload = {**card.payload, **message.to_payload(), CARD_KEY: on_card}
    else:
        card.payload = {**card.payload, CARD_KEY: on_card}  # what the card shows from now on
    if card.status == "sent":
        message = replace(message, edit_message_id=card.external_id)
        if _merge_into_waiting_edit(session, card, message):
            return
    else:  # on its way this very moment (or never delivered): this order's own line, new
        text = f"{card_text(turn.desk, order, turn.desk.default_language)}\n{line}"
        message = Outbound(card.chat_id, text, [])
    payload = {**message.to_payload(), EDIT_OF: card.id} if message.edit_message_id else None
    if card.channel == turn.inbound.channel and payload is None:
        turn.replies.append(message)
    else:  # written here (not with the turn's replies) so a later claim can find and merge it
        payload = payload or message.to_payload()
        session.add(OutboxMessage(channel=card.channel, chat_id=card.chat_id, payload=payload))


def _merge_into_waiting_edit(session: Session, card: OutboxMessage, edit: Outbound) -> bool:
    """An edit of this card still waiting for the group (the newest message there, not held
    by a sender) becomes this one: it shows everything so far, one group message instead of
    two (edits count against the group's limit too)."""
    tail = outbox.unsent_tail(session, card.channel, card.chat_id)
    if tail is None or tail.lease_until is not None or tail.payload.get(EDIT_OF) != card.id:
        return False
    tail.payload = {**tail.payload, **edit.to_payload()}
    return True


EDIT_OF = "edit_of_card"  # in an edit's outbox payload: the card row it edits
def on_order_button(turn: Turn, press: Press) -> None:
    """Claim on a job card (Assign is handled in handlers.assign); a refusal is the press's
    own notice to the presser, never a group message (issue 11.5)."""
    _ = turn._
    order = turn.session.get(Order, int(press.arg)) if press.arg.isdigit() else None
    version = press.version.removeprefix(CARD_TAG)
    if order is None or press.action != "claim" or not version.isdigit():
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    if turn.person is None or not may_take(turn.session, turn.person.id, order.department):
        department = DEPARTMENT_LABELS.get(order.department, order.department)
        turn.notice(
            _("Sorry, only {department} staff can take this job.").format(department=_(department)),
            alert=True,
        )
        return
    if not claim(turn.session, order.id, int(version), turn.person.id, turn.desk.now()):
        _refuse_claim(turn, order, turn.person)
        return
    turn.session.refresh(order)
    _after_claim(turn, order, turn.person)


def _refuse_claim(turn: Turn, order: Order, presser: Person) -> None:
    """Why a Claim did nothing: the presser's own job already, someone else's, or stale."""
    _ = turn._
    if order.assignee_id == presser.id:  # a repeated press by the winner
        turn.notice(_("You already took {number}.").format(number=order.number))
    elif order.assignee is not None:
        holder = one_line(order.assignee.name)
        turn.notice(
            _("{number} is already taken by {name}.").format(number=order.number, name=holder),
            alert=True,
        )
    else:
        turn.notice(_("That button is out of date, so nothing was changed."))


def _after_claim(turn: Turn, order: Order, engineer: Person) -> None:
    _ = translator(turn.desk.default_language)
    stamp = turn.desk.local(order.claimed_at or turn.desk.now()).strftime("%H:%M")
    taken = _("✅ Taken by {name} at {time}").format(name=one_line(engineer.name), time=stamp)
    show_on_card(turn, order, taken)
    hand_over(turn, order, engineer, N_("You took {number}. Full details:"))
    tell_owner_taken(turn, order, engineer)


def show_on_card(turn: Turn, order: Order, line: str) -> None:
    """Edit the order's job card (buttons gone) to end with `line`."""
    language = turn.desk.default_language
    text = f"{card_text(turn.desk, order, language)}\n{line}"
    card = turn.session.get(OutboxMessage, order.card_outbox_id) if order.card_outbox_id else None
    on_card = _on_card(card)
    if card is not None and on_card is not None and len(on_card["orders"]) > 1:
        _show_on_combined_card(turn, card.id, order, line)
        return
    edit = card.external_id if card is not None and card.status == "sent" else None
    chat = card.chat_id if card is not None else turn.desk.group_for(order.department)
    if chat is None:  # no card and no group: the order lives on the board only
        return
    message = Outbound(chat, text, [], edit_message_id=edit)
    channel = card.channel if card is not None else turn.desk.staff_channel
    if channel == turn.inbound.channel:
        turn.replies.append(message)
    else:  # pressed in another channel than the card's (Telegram staff, cards on WeCom)
        turn.session.add(OutboxMessage(channel=channel, chat_id=chat, payload=message.to_payload()))


def hand_over(turn: Turn, order: Order, engineer: Person, heading: str, actor: str = "") -> None:
    """Send the holder the order's details and buttons (`heading`: msgid with {number}, {actor})."""

    def compose(t: Translate) -> tuple[str, list[list[Button]]]:
        top = t(heading).format(actor=actor, number=order.number)
        return _job_details(t, turn, order, engineer.language, top), engineer_buttons(t, order)

    photos = [p.file_ref for p in order.photos if p.channel == turn.inbound.channel]
    notify_person(turn, engineer, compose, photos=photos)


def tell_owner_taken(turn: Turn, order: Order, engineer: Person) -> None:
    """Tell the owner who has taken the request."""
    notify_person(
        turn,
        order.owner,
        lambda _: (
            _("Good news: {name} has taken your request {number} and will contact you.").format(
                name=one_line(engineer.name), number=order.number
            ),
            [],
        ),
    )


def _job_details(_: Translate, turn: Turn, order: Order, language: str, heading: str) -> str:
    owner = order.owner
    return "\n".join(
        [
            heading,
            _("Owner: {name}").format(name=one_line(owner.name)),
            _("Contact phone: {phone}").format(phone=phone_label(order.contact_phone)),
            card_text(turn.desk, order, language).split("\n", 1)[1],
        ]
    )
