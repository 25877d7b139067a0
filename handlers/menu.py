"""The main menu and what hangs off it: my requests, language, help."""

from __future__ import annotations

from handlers.board import BOARD_ROLES
from handlers.complaints.common import STATUS_LABELS as COMPLAINT_STATUS
from handlers.finance import METHOD_LABELS, RECORDERS, VIEWERS
from handlers.i18n import translator
from handlers.labels import N_, category_label, event_label, money, status_label, window_label
from handlers.messages import Button
from handlers.owner_text import field_text
from handlers.turn import Turn, parse_id
from store.complaints.records import complaints_of
from store.orders import order_of_owner, orders_of
from store.people import has_home, roles_of

COMPLAINT_STAFF = frozenset({"agent", "butler", "supervisor", "manager"})  # /complaints
FRONT_DESK = frozenset({"agent"})  # 客服 enter requests for callers (R1)


def show_menu(turn: Turn) -> None:
    """Offer only what works: repair, my requests, language, help; staff see what their roles
    allow (issue 11.10), and the owner's part only if they also own a home."""
    _ = turn._
    roles = roles_of(turn.session, turn.person.id) if turn.person is not None else set()
    owner = not roles or (turn.person is not None and has_home(turn.person))
    rows: list[list[Button]] = []
    if owner:
        rows += [
            [_repair_or_home(turn)],
            [turn.global_button(_("📣 Complaint / suggestion"), "complaint")],
            [turn.global_button(_("📋 My requests"), "requests")],
        ]
    rows += _staff_rows(turn, roles)
    if not owner:
        rows.append([_repair_or_home(turn)])  # "🏠 Register my home"
    rows.append(
        [turn.global_button(_("🌐 Language"), "language"), turn.global_button(_("❓ Help"), "help")]
    )
    text = _("What can I do for you?")
    commands = staff_commands(roles)
    if commands:
        text += "\n" + _("Staff commands: {commands}").format(commands=commands)
    # the end of a flow ("Thank you!") and the menu go as one message: handlers.joined_replies
    turn.say(text, rows)


def staff_commands(roles: set[str]) -> str:
    """The staff commands a person's roles allow, e.g. "/board /arrears /paid"."""
    allowed = [
        ("/board", BOARD_ROLES),
        ("/arrears", VIEWERS),
        ("/paid", RECORDERS),
        ("/complaints", COMPLAINT_STAFF),
    ]
    return " ".join(command for command, who in allowed if roles & who)


OWNER_COMMANDS = (  # what owners type in a private chat (handlers.router.COMMANDS)
    ("repair", N_("Report a repair")),
    ("requests", N_("My requests and their history")),
    ("complaint", N_("A complaint or suggestion")),
    ("language", N_("Change the language")),
    ("cancel", N_("Stop what we are doing")),
    ("help", N_("What I can do")),
)
STAFF_COMMANDS = (  # each with the roles whose handler accepts it
    ("board", N_("Open work and overdue jobs"), BOARD_ROLES),
    ("arrears", N_("Unpaid bills"), VIEWERS),
    ("paid", N_("Record a payment"), RECORDERS),
    ("complaints", N_("Open complaints"), COMPLAINT_STAFF),
)


def command_list(language: str, roles: set[str], owner: bool) -> list[tuple[str, str]]:
    """The commands (name, description) a person may use in their private chat, in their
    language: the owner's if they have a home (or no role), then their roles' staff commands
    (issue 11.10; Telegram shows them through per-chat command lists)."""
    _ = translator(language)
    listed = [(name, _(text)) for name, text in OWNER_COMMANDS] if owner or not roles else []
    listed += [(name, _(text)) for name, text, who in STAFF_COMMANDS if roles & who]
    if not owner and roles:
        listed += [(name, _(text)) for name, text in OWNER_COMMANDS if name in ("language", "help")]
    return listed


def _staff_rows(turn: Turn, roles: set[str]) -> list[list[Button]]:
    _ = turn._
    rows: list[list[Button]] = []
    if roles & BOARD_ROLES:
        rows.append([turn.global_button(_("📊 Board"), "board")])
    if roles & VIEWERS:
        rows.append([turn.global_button(_("💰 Arrears"), "arrears")])
    if roles & COMPLAINT_STAFF:
        rows.append([turn.global_button(_("📣 Open complaints"), "cmplist")])
    if roles & FRONT_DESK:
        rows.append([turn.global_button(_("📞 New request for an owner"), "fdnew")])
        rows.append([turn.global_button(_("📣 New complaint for an owner"), "fdcmp")])
    return rows


def _repair_or_home(turn: Turn) -> Button:
    """Repairs are filed for a home: staff without one are offered to register it first."""
    _ = turn._
    if turn.person is not None and not has_home(turn.person):
        return turn.global_button(_("🏠 Register my home"), "home")
    return turn.global_button(_("🔧 Report a repair"), "repair")


def show_help(turn: Turn) -> None:
    """Explain what the desk does and how to use it."""
    _ = turn._
    turn.say(
        _(
            "I am the property service desk.\n"
            '• Report a repair: tell me what is wrong, add photos, choose "come now" or a visit '
            "time. Repairs inside your home are charged per the price list, and you always see "
            "and agree to the price first; public areas are free.\n"
            "• My requests: see your requests and every step of their history.\n"
            "Commands: /repair /requests /language /cancel /help"
        ),
        [[turn.global_button(_("« Menu"), "menu")]],
    )


def ask_language(turn: Turn) -> None:
    """Offer the languages the desk speaks."""
    _ = turn._
    turn.say(
        _("Choose your language:"),
        [[turn.global_button("中文", "lang", "zh"), turn.global_button("English", "lang", "en")]],
    )


def set_language(turn: Turn, language: str) -> None:
    """Switch the person's language and confirm in it."""
    if language not in ("zh", "en"):
        ask_language(turn)
        return
    turn.language = language
    turn.convo.language = language
    if turn.person is not None:
        turn.person.language = language
    _ = translator(language)
    turn.say(_("Language set to English.") if language == "en" else _("Language set to Chinese."))
    show_menu(turn)


def show_requests(turn: Turn) -> None:
    """List the owner's own recent orders with their status."""
    _ = turn._
    assert turn.person is not None
    orders = orders_of(turn.session, turn.person.id, limit=10)
    complaints = complaints_of(turn.session, turn.person.id, limit=10)
    if not orders and not complaints:
        turn.say(
            _("You have no requests yet."),
            [[turn.global_button(_("🔧 Report a repair"), "repair")]],
        )
        return
    rows = [
        [turn.global_button(f"{o.number} · {status_label(_, o.status)}", "order", str(o.id))]
        for o in orders
    ]
    rows += [  # complaints and suggestions (issue 10): only the owner's own
        [
            turn.global_button(
                f"{c.number} · {_(COMPLAINT_STATUS.get(c.status, c.status))}", "cmpview", str(c.id)
            )
        ]
        for c in complaints
    ]
    rows.append([turn.global_button(_("« Menu"), "menu")])
    turn.say(_("Your requests (newest first). Tap one to see its history:"), rows)


def show_order(turn: Turn, order_id: str) -> None:
    """One of the owner's orders with its whole history; other people's orders stay hidden."""
    _ = turn._
    assert turn.person is not None
    wanted = parse_id(order_id)
    order = order_of_owner(turn.session, turn.person.id, wanted) if wanted is not None else None
    if order is None:
        turn.say(_("I could not find that request among yours."))
        show_requests(turn)
        return
    desk = turn.desk
    lines = [
        f"{order.number} · {status_label(_, order.status)}",
        _("Category: {category}").format(category=category_label(_, order.category)),
        _("Where: {where}").format(
            where=_("inside the home") if order.location == "home" else _("public area")
        ),
        _("Problem: {text}").format(text=field_text(order.description, 300)),
    ]
    if order.urgent:
        lines.append(_("When: come now (urgent)"))
    elif order.visit_start and order.visit_end:
        lines.append(
            _("When: {window}").format(
                window=window_label(
                    turn.language, desk.local(order.visit_start), desk.local(order.visit_end)
                )
            )
        )
    if order.quote_kind == "list" and order.quoted_fen is not None:
        lines.append(
            _("Price: {amount} (materials at cost)").format(amount=money(order.quoted_fen))
        )
    elif order.quote_kind == "on_site":
        lines.append(_("Price: quoted on site"))
    else:
        lines.append(_("Price: free"))
    lines.append("")
    lines.append(_("History:"))
    for event in order.events:
        stamp = desk.local(event.at).strftime("%m-%d %H:%M")
        extra = f" {money(event.amount_fen)}" if event.amount_fen is not None else ""
        if event.action == "payment" and event.note in METHOD_LABELS:  # how it was paid
            extra += f" ({_(METHOD_LABELS[event.note])})"
        lines.append(f"{stamp} {event_label(_, event.action)}{extra}")
    turn.say("\n".join(lines), [[turn.global_button(_("« My requests"), "requests")]])
