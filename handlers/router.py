"""Route one inbound message to the right dialog step, command or menu action."""

from __future__ import annotations

from handlers import (
    approvals,
    assign,
    board,
    callbacks,
    engineer,
    finance,
    front_desk,
    jobs,
    linking,
    materials,
    quotes,
    registration,
    repair,
    signoff,
    staff_onboarding,
    typed,
    web_sign_in,
)
from handlers.complaints import entry as complaints
from handlers.menu import (
    ask_language,
    set_language,
    show_help,
    show_menu,
    show_order,
    show_requests,
)
from handlers.steps import IDLE, STEPS, choose_buttons_hint, reprompt
from handlers.turn import GLOBAL, Press, Turn, decode_button
from store.people import roles_of

COMMANDS = (
    "start",
    "menu",
    "help",
    "cancel",
    "repair",
    "requests",
    "language",
    "board",
    "arrears",
    "paid",
    "link",
    "complaint",
    "complaints",
    "web",
)


def route(turn: Turn) -> None:
    """Handle one inbound message in its conversation."""
    if turn.inbound.chat_kind == "group":
        _group(turn)
    elif turn.inbound.edited:  # an answer is a new message; an edit would change the past
        _ = turn._
        turn.say(_("I do not read edited messages. Please send the correction as a new message."))
    elif turn.inbound.button is not None:
        _press(turn, turn.inbound.button)
    elif turn.inbound.command is not None:
        _command(turn, turn.inbound.command)
    elif turn.convo.step in STEPS:
        STEPS[turn.convo.step].on_input(turn)
    elif turn.person is None:
        registration.start_registration(turn)
    elif not typed.offer(turn):  # a problem typed at the menu is offered, not dropped
        _ = turn._
        turn.say(_("Hello! Please choose from the menu."))
        show_menu(turn)


def _group(turn: Turn) -> None:
    _ = turn._
    if turn.inbound.chat_id not in turn.desk.staff_groups:
        if turn.inbound.command is not None or turn.inbound.button is not None:
            turn.say(_("I only work in private chats. Please message me directly."))
        return
    press = decode_button(turn.inbound.button or "")
    if press is not None and press.version.startswith(complaints.TAG):
        complaints.on_press(turn, press)  # Take on a complaint card
        return
    if press is not None and press.version.startswith(jobs.CARD_TAG):
        if press.action in assign.ACTIONS:
            assign.on_press(turn, press)
        else:
            jobs.on_order_button(turn, press)
        return
    if turn.person is None or not roles_of(turn.session, turn.person.id):
        turn.say(
            _(
                "Hello! This group is for property staff. To report a problem, please "
                "message me in a private chat."
            )
        )
        return
    if turn.inbound.command is not None or _menu_word(turn.inbound.text or ""):
        turn.say(_("Please use our private chat for that: open a chat with me and send it there."))


MENU_WORDS = frozenset(  # menu words staff may type in the group out of habit (issue 11.7)
    {
        "menu",
        "repair",
        "report a repair",
        "my requests",
        "complaint",
        "help",
        "菜单",
        "报修",
        "我要报修",
        "我的工单",
        "投诉",
        "帮助",
    }
)


def _menu_word(text: str) -> bool:
    """Whether group text is one of the desk's menu words (not ordinary staff talk)."""
    return text.strip().strip("🔧📋📣❓ ").lower() in MENU_WORDS


def _command(turn: Turn, command: str) -> None:
    _ = turn._
    if command not in COMMANDS:
        turn.say(_("Sorry, I do not know that command. Send /menu to see what I can do."))
        reprompt(turn)
        return
    payload = turn.inbound.command_arg if command == "start" else ""
    if payload and staff_onboarding.is_invitation(turn.session, payload):
        staff_onboarding.join_staff(turn, payload)
    elif (
        payload
        and turn.person is None
        and turn.inbound.channel != "wecom"
        and not (turn.convo.step.startswith("reg_"))
    ):
        registration.start_registration(turn, source=payload)  # a QR code's ?start=building3
    elif command == "cancel":
        _cancel(turn)
    elif command == "help":
        show_help(turn)
    elif command == "language":
        ask_language(turn)
    elif command == "link":  # one person, two channels (works before registering, too)
        linking.on_link(turn)
    elif command == "web":  # a one-time sign-in link to the web chat
        web_sign_in.on_web(turn)
    elif turn.person is None:
        if turn.convo.step.startswith("reg_"):
            turn.say(_("Let us finish your registration first."))
            reprompt(turn)
        else:
            registration.start_registration(turn)
    else:
        _registered_command(turn, command)


def _registered_command(turn: Turn, command: str) -> None:
    if command == "repair":
        repair.start_repair(turn)
    elif command == "requests":
        show_requests(turn)
    elif command == "board":
        board.show_board(turn)
    elif command == "arrears":
        finance.show_arrears(turn)
    elif command == "paid":
        finance.pay_command(turn)
    elif command == "complaint":
        complaints.start_intake(turn)
    elif command == "complaints":  # staff: open complaints; owners: their own requests
        if turn.person is not None and roles_of(turn.session, turn.person.id):
            complaints.show_list(turn)
        else:
            show_requests(turn)
    else:
        show_menu(turn)


def _cancel(turn: Turn) -> None:
    _ = turn._
    if turn.convo.step.startswith("reg_"):
        turn.goto(IDLE, {})
        turn.say(
            _("Registration cancelled. Send /start whenever you are ready."), remove_keyboard=True
        )
    elif turn.convo.step.startswith("rep_"):
        repair.cancel_dialog(turn)
    elif turn.convo.step.startswith("fd_"):
        front_desk.cancel_for_owner(turn)
    elif turn.convo.step.startswith("quote_"):
        quotes.cancel_quote(turn)
    elif turn.convo.step.startswith("cmp_"):
        complaints.cancel_dialog(turn)
    elif turn.convo.step.startswith("mat_"):
        materials.cancel_materials(turn)
    elif turn.convo.step.startswith("cb_"):
        turn.goto(IDLE, {})
        turn.say(_("OK, no note."))
        show_menu(turn)
    else:
        turn.say(_("There is nothing to cancel."))
        if turn.person is not None:
            show_menu(turn)


def _press(turn: Turn, data: str) -> None:
    _ = turn._
    press = decode_button(data)
    if turn.inbound.user_id != turn.inbound.chat_id:
        turn.notice(_("Sorry, that button is not for you."))
        return
    if press is not None and press.version.startswith(jobs.CARD_TAG):
        _order_press(turn, press)
        return
    if press is not None and press.version.startswith(callbacks.TAG):
        callbacks.on_press(turn, press)
        return
    if press is not None and press.version.startswith(complaints.TAG):
        complaints.on_press(turn, press)
        return
    if press is None or (press.version != GLOBAL and press.version != str(turn.convo.version)):
        # the press's own notice; no reprompt or menu: the current step is already on screen
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    if press.version == GLOBAL:
        _global_press(turn, press)
        return
    step = STEPS.get(turn.convo.step)
    if step is None:
        choose_buttons_hint(turn)
        return
    step.on_press(turn, press)


def _order_press(turn: Turn, press: Press) -> None:
    """A button about one order, in a private chat: the owner's or the assignee's."""
    if press.action in assign.ACTIONS:
        assign.on_press(turn, press)
    elif press.action == "claim":  # a job card's own copy in a private chat (WeCom)
        jobs.on_order_button(turn, press)
    elif press.action in signoff.OWNER_ACTIONS:
        signoff.on_owner_press(turn, press)
    elif press.action in quotes.PRESSES:
        quotes.on_quote_press(turn, press)
    elif press.action in materials.PRESSES:
        materials.on_materials_press(turn, press)
    else:
        engineer.on_engineer_press(turn, press)


def _global_press(turn: Turn, press: Press) -> None:
    if press.action == "help":
        show_help(turn)
    elif press.action == "language":
        ask_language(turn)
    elif press.action == "lang":
        set_language(turn, press.arg)
    elif turn.person is None:
        registration.start_registration(turn)
    elif press.action in ("approve", "reject"):
        approvals.decide(turn, press.arg, press.action == "approve")
    elif press.action == "arrears":
        finance.show_arrears(turn)
    elif press.action == "board":  # the staff menu (issue 11.10)
        board.show_board(turn)
    elif press.action == "cmplist":
        complaints.show_list(turn)
    elif press.action == "fdnew":  # the front desk files for a caller (R1)
        front_desk.start_for_owner(turn)
    elif press.action == "fdcmp":  # ... a complaint or suggestion too (R1, R30)
        front_desk.start_for_owner(turn, complaint=True)
    elif press.action == "paybill":
        finance.ask_method(turn, press.arg)
    elif press.action == "paymethod":
        finance.pay_in_full(turn, press.arg)
    elif press.action == "repair":
        repair.start_repair(turn, press.arg)
    elif press.action == "home":  # staff without a home register theirs (issue 11.4)
        registration.start_home_registration(turn)
    elif press.action == "requests":
        show_requests(turn)
    elif press.action == "order":
        show_order(turn, press.arg)
    elif press.action == "complaint":
        complaints.start_intake(turn, press.arg)
    elif press.action == "cmpview":
        complaints.show_mine(turn, press.arg)
    else:
        show_menu(turn)
