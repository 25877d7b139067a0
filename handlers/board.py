"""`/board` for supervisors and managers: what is open, waiting and overdue (R3, R6)."""

from __future__ import annotations

from handlers.i18n import Translate
from handlers.jobs import order_data
from handlers.labels import DEPARTMENT_LABELS, status_label
from handlers.messages import Button
from handlers.owner_text import one_line
from handlers.turn import Turn
from store.assign import REASSIGNABLE
from store.board import HeldJob, board
from store.people import roles_of

BOARD_ROLES = frozenset({"supervisor", "manager"})


def show_board(turn: Turn) -> None:
    """Open orders by state, the unclaimed queue with ages, and the overdue ones."""
    _ = turn._
    if turn.person is None or not roles_of(turn.session, turn.person.id) & BOARD_ROLES:
        turn.say(_("Sorry, the board is for supervisors and managers."))
        return
    view = board(turn.session, turn.desk.now())
    lines = [_("📋 Open work")]
    if not view.by_status:
        lines.append(_("Nothing is open."))
    for status, count in sorted(view.by_status.items()):
        lines.append(f"• {status_label(_, status)}: {count}")
    if view.unclaimed:
        lines.append("")
        lines.append(_("Waiting to be claimed (oldest first):"))
        for job in view.unclaimed:
            minutes = int(job.waiting.total_seconds() // 60)
            flag = " 🚨" if job.urgent else ""
            department = _(DEPARTMENT_LABELS.get(job.department, job.department))
            lines.append(
                _("{number}{flag} · {department} · waiting {minutes} min").format(
                    number=job.number, flag=flag, department=department, minutes=minutes
                )
            )
    if view.overdue:
        lines.append("")
        lines.append(_("⚠ Overdue (urgent not on site in 30 min, or visit time passed):"))
        lines.extend(f"• {number}" for number in view.overdue)
    buttons = _held(_, view.held, lines)
    turn.say("\n".join(lines), buttons)


def _held(_: Translate, held: list[HeldJob], lines: list[str]) -> list[list[Button]]:
    """List the orders people hold; a Reassign button for those that may still change hands."""
    if held:
        lines.append("")
        lines.append(_("Taken (number · who · state):"))
    buttons: list[list[Button]] = []
    for job in held:
        lines.append(f"• {job.number} · {one_line(job.assignee)} · {status_label(_, job.status)}")
        if job.status in REASSIGNABLE:
            label = _("🔁 Reassign {number}").format(number=job.number)
            buttons.append([Button(label, order_data(job.order_id, job.version, "reassign"))])
    return buttons
