"""Supervisors hand out jobs (R6): Assign on a job card, Reassign from the board."""

from __future__ import annotations

from handlers.i18n import Translate, translator
from handlers.jobs import hand_over, order_button, pressed_order, show_on_card, tell_owner_taken
from handlers.labels import DEPARTMENT_LABELS, N_
from handlers.messages import Button
from handlers.notify import notify_person
from handlers.owner_text import one_line
from handlers.turn import Press, Turn, parse_id
from store.assign import REASSIGNABLE, assign, may_assign, reassign, takers
from store.jobs import may_take
from store.models import Order, Person
from store.order_states import OrderStatus

# the button that asks for a person, and the choice of one, for each way of handing out a job
CHOICE_OF = {"assign": "assignto", "reassign": "reassignto"}
ACTIONS = frozenset({*CHOICE_OF, *CHOICE_OF.values()})


def on_press(turn: Turn, press: Press) -> None:
    """Assign / Reassign, or the person chosen for it; only the order's supervisors or managers."""
    _ = turn._
    found = pressed_order(turn, press)
    if found is None or press.action not in ACTIONS:
        turn.notice(_("That button is out of date, so nothing was changed."))
        return
    order, version, extra = found
    if turn.person is None or not may_assign(turn.session, turn.person.id, order.department):
        department = _(DEPARTMENT_LABELS.get(order.department, order.department))
        turn.notice(
            _("Sorry, only the {department} supervisor or a manager can assign this job.").format(
                department=department
            ),
            alert=True,
        )
        return
    if not _current(turn, order, version, press.action):
        return
    if press.action in CHOICE_OF:
        _offer(turn, order, CHOICE_OF[press.action])
    else:
        _choose(turn, order, version, extra, turn.person)


def _current(turn: Turn, order: Order, version: int, action: str) -> bool:
    """Whether the button still fits the order; otherwise say why nothing happens."""
    _ = turn._
    reassigning = action in ("reassign", "reassignto")
    states = REASSIGNABLE if reassigning else (OrderStatus.SUBMITTED,)
    if version == order.version and order.status in states:
        return True
    if not reassigning and order.assignee is not None:
        turn.notice(
            _("{number} is already taken by {name}.").format(
                number=order.number, name=one_line(order.assignee.name)
            ),
            alert=True,
        )
    else:
        turn.notice(_("That button is out of date, so nothing was changed."))
    return False


def _offer(turn: Turn, order: Order, choice: str) -> None:
    """The people who may take the job, one button each, in the asker's private chat."""
    people = [p for p in takers(turn.session, order.department) if p.id != order.assignee_id]

    def compose(_: Translate) -> tuple[str, list[list[Button]]]:
        if not people:
            return _("Nobody else can take {number} yet.").format(number=order.number), []
        rows = [[order_button(one_line(p.name, 40), order, choice, str(p.id))] for p in people]
        return _("Who should take {number}?").format(number=order.number), rows

    asker = turn.person
    in_group = turn.inbound.chat_kind == "group"
    if asker is not None and in_group and notify_person(turn, asker, compose):
        return
    text, rows = compose(turn._)
    turn.say(text, rows)


def _choose(turn: Turn, order: Order, version: int, extra: str, actor: Person) -> None:
    """Give the order to the chosen person, if they may take the department's jobs."""
    _ = turn._
    person_id = parse_id(extra)
    person = turn.session.get(Person, person_id) if person_id is not None else None
    if person is None or not may_take(turn.session, person.id, order.department):
        turn.notice(_("That person cannot take this job, so nothing was changed."), alert=True)
        return
    now = turn.desk.now()
    if order.status == OrderStatus.SUBMITTED:
        if assign(turn.session, order.id, version, person, actor.id, now):
            turn.session.refresh(order)
            _after_assign(turn, order, person, actor)
            return
    else:
        old = reassign(turn.session, order, version, person, actor.id, now)
        if old is not None:
            turn.session.refresh(order)
            _after_reassign(turn, order, person, old, actor)
            return
    turn.notice(_("That button is out of date, so nothing was changed."))


def _after_assign(turn: Turn, order: Order, person: Person, actor: Person) -> None:
    """The card, the assignee, the owner and the supervisor hear of the assignment."""
    _ = translator(turn.desk.default_language)  # the group reads the desk's language
    stamp = turn.desk.local(turn.desk.now()).strftime("%H:%M")
    line = _("👤 Assigned to {name} by {actor} at {time}")
    show_on_card(
        turn, order, line.format(name=one_line(person.name), actor=one_line(actor.name), time=stamp)
    )
    heading = N_("{actor} assigned {number} to you. Full details:")
    hand_over(turn, order, person, heading, one_line(actor.name))
    tell_owner_taken(turn, order, person)
    _ = turn._
    done = _("Done: {number} is assigned to {name}.")
    turn.say(done.format(number=order.number, name=one_line(person.name)))


def _after_reassign(turn: Turn, order: Order, person: Person, old: Person, actor: Person) -> None:
    """The new and the old holder, the owner and the supervisor hear of the change."""
    _ = translator(turn.desk.default_language)  # the group reads the desk's language
    stamp = turn.desk.local(turn.desk.now()).strftime("%H:%M")
    line = _("🔁 Reassigned to {name} by {actor} at {time}")
    show_on_card(
        turn, order, line.format(name=one_line(person.name), actor=one_line(actor.name), time=stamp)
    )
    heading = N_("{actor} handed {number} over to you. Full details:")
    hand_over(turn, order, person, heading, one_line(actor.name))
    values = {
        "number": order.number,
        "name": one_line(person.name),
        "actor": one_line(actor.name),
        "old": one_line(old.name),
    }
    notify_person(turn, old, lambda t: (t(_TOLD_OLD).format(**values), []))
    notify_person(turn, order.owner, lambda t: (t(_TOLD_OWNER).format(**values), []))
    _ = turn._
    turn.say(_("Done: {number} is now with {name} (was {old}).").format(**values))


_TOLD_OLD = N_(
    "{actor} handed {number} over to {name}. You no longer need to do it; its buttons no "
    "longer work."
)
_TOLD_OWNER = N_("{name} will now take care of your request {number}.")
