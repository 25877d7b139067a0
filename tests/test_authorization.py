"""Every staff action × every role, an owner and a stranger: only the right people succeed.

Driven through `handle_inbound` on a Database + Desk (no Telegram) so the whole matrix runs on
both databases quickly. Each actor gets fresh fixtures; a refusal must be polite and must leave
every order, event, bill, payment and owner status exactly as it was."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from handlers.desk import Desk
from handlers.inbox import handle_inbound
from handlers.messages import Inbound
from store.db import Database
from store.finance import open_bill
from store.migrate import upgrade
from store.models import Bill, Order, OrderEvent, OutboxMessage, Payment, Person
from store.people import add_person
from store.staff import ROLES, create_invite, redeem_invite
from tests.harness import MONDAY_MORNING, STAFF_GROUP

DEPARTMENT_OF_ROLE = {
    "engineer": "engineering",
    "cleaner": "cleaning",
    "gardener": "greening",
    "supervisor": "engineering",
}
ACTORS = (*ROLES, "owner", "stranger")
ENGINEER_ACTIONS = {  # action: (status the order is in, button action)
    "depart": ("claimed", "depart"),
    "arrive": ("claimed", "arrive"),
    "not_home": ("on_the_way", "not_home"),
    "release": ("claimed", "release"),
    "done": ("arrived", "complete"),
}


@dataclass
class World:
    """The database, the desk and the ids of the standing cast."""

    db: Database
    desk: Desk
    people: dict[str, int]
    counter: Iterator[int]


@dataclass(frozen=True)
class Case:
    """What one actor does: the order status it needs, the message, who may do it."""

    status: str
    allowed: frozenset[str]
    message: Callable[[World, dict[str, int], str], Inbound]
    success_text: str | None = None  # for read-only actions: what a success says


def _private(world: World, actor: str, text: str | None = None,
             button: str | None = None) -> Inbound:
    update = f"u{next(world.counter)}"
    return Inbound(channel="t", update_id=update, chat_id=actor, chat_kind="private",
                   user_id=actor, language_hint="en", text=text, button=button)


def _press(action: str, extra: str = "") -> Callable[[World, dict[str, int], str], Inbound]:
    def make(world: World, made: dict[str, int], actor: str) -> Inbound:
        arg = f"{made['order']}-{world.people[extra]}" if extra else str(made["order"])
        return _private(world, actor, button=f"o0|{action}|{arg}")

    return make


def _claim(world: World, made: dict[str, int], actor: str) -> Inbound:
    return Inbound(channel="t", update_id=f"u{next(world.counter)}", chat_id=str(STAFF_GROUP),
                   chat_kind="group", user_id=actor, language_hint="en",
                   button=f"o0|claim|{made['order']}")


def _decide(verdict: str) -> Callable[[World, dict[str, int], str], Inbound]:
    def make(world: World, made: dict[str, int], actor: str) -> Inbound:
        return _private(world, actor, button=f"g|{verdict}|{made['pending']}")

    return make


def _text(template: str) -> Callable[[World, dict[str, int], str], Inbound]:
    def make(world: World, made: dict[str, int], actor: str) -> Inbound:
        number = f"R-20261123-{made['serial']:04d}"
        return _private(world, actor, text=template.format(number=number))

    return make


ASSIGNERS = frozenset({"supervisor", "manager"})
CASES: dict[str, Case] = {
    "claim": Case("submitted", frozenset({"engineer", "supervisor"}), _claim),
    "assign": Case("submitted", ASSIGNERS, _press("assignto", "target")),
    "reassign": Case("claimed", ASSIGNERS, _press("reassignto", "target")),
    **{
        name: Case(status, frozenset({"assignee"}), _press(button))
        for name, (status, button) in ENGINEER_ACTIONS.items()
    },
    "approve": Case("submitted", frozenset({"agent", "supervisor", "manager"}), _decide("approve")),
    "reject": Case("submitted", frozenset({"agent", "supervisor", "manager"}), _decide("reject")),
    "arrears": Case("submitted", frozenset({"agent", "finance", "manager"}), _text("/arrears"),
                    success_text="Unpaid bills"),
    "paid": Case("submitted", frozenset({"finance", "manager"}), _text("/paid {number} 30 cash")),
    "board": Case("submitted", ASSIGNERS, _text("/board"), success_text="Open work"),
}


def _world(db_url: str) -> World:
    upgrade(db_url)
    db = Database(db_url, lambda: MONDAY_MORNING)
    desk = Desk(clock=db.clock, staff_groups=frozenset({str(STAFF_GROUP)}),
                default_group=str(STAFF_GROUP))
    people: dict[str, int] = {}
    with db.unit_of_work() as uow:
        for name in (*ROLES, "assignee", "target"):
            role = name if name in ROLES else "engineer"
            person = add_person(uow.session, channel="t", external_id=name, name=name,
                                language="en")
            department = DEPARTMENT_OF_ROLE.get(role)
            invite = create_invite(uow.session, role, department, MONDAY_MORNING)
            redeem_invite(uow.session, invite.code, person, MONDAY_MORNING)
            people[name] = person.id
        owner = add_person(uow.session, channel="t", external_id="owner", name="Owner",
                           language="en")
        owner.owner_status = "verified"
        people["owner"] = owner.id
        uow.commit()
    return World(db, desk, people, itertools.count(1))


def _fixtures(world: World, status: str) -> dict[str, int]:
    """A fresh order (held by `assignee` unless waiting), its unpaid bill, a pending owner."""
    n = next(world.counter)
    number = f"R-20261123-{n:04d}"
    with world.db.unit_of_work() as uow:
        held = status != "submitted"
        order = Order(number=number, owner_id=world.people["owner"], location="public",
                      category="plumbing", description="leak", contact_phone="+8613900001111",
                      quote_kind="free", status=status, created_at=MONDAY_MORNING,
                      assignee_id=world.people["assignee"] if held else None,
                      claimed_at=MONDAY_MORNING if held else None)
        uow.session.add(order)
        uow.session.flush()
        open_bill(uow.session, order, 3000, MONDAY_MORNING)
        pending = Person(name=f"Pending {n}", phone="+8613911112222", owner_status="pending",
                         language="en")
        uow.session.add(pending)
        uow.commit()
        return {"order": order.id, "serial": n, "pending": pending.id}


def _snapshot(world: World) -> tuple[object, ...]:
    """Everything a staff action could change."""
    with world.db.unit_of_work() as uow:
        s = uow.session
        return (
            s.execute(select(Order.id, Order.status, Order.version, Order.assignee_id)
                      .order_by(Order.id)).all(),
            s.scalar(select(func.count()).select_from(OrderEvent)),
            s.execute(select(Bill.id, Bill.paid_fen, Bill.status).order_by(Bill.id)).all(),
            s.scalar(select(func.count()).select_from(Payment)),
            s.execute(select(Person.id, Person.owner_status).order_by(Person.id)).all(),
        )


def _replies(world: World, chat_id: str, after: int) -> list[str]:
    with world.db.unit_of_work() as uow:
        return [str(row.payload["text"]) for row in uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == chat_id,
                                        OutboxMessage.id > after).order_by(OutboxMessage.id))]


def _last_outbox(world: World) -> int:
    with world.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.max(OutboxMessage.id))) or 0)


@pytest.mark.parametrize("action", list(CASES))
def test_only_the_right_roles_may(db_url: str, action: str) -> None:
    """Each actor tries the action on fresh fixtures; see the module docstring."""
    case = CASES[action]
    world = _world(db_url)
    actors = (*ACTORS, "assignee") if "assignee" in case.allowed else ACTORS
    wrong: list[str] = []
    for actor in actors:
        made = _fixtures(world, case.status)
        inbound = case.message(world, made, actor)
        before, mark = _snapshot(world), _last_outbox(world)
        assert handle_inbound(world.db, world.desk, inbound).fresh
        # a refused group-card press is answered privately, to the presser (issue 11.5)
        chats = {inbound.chat_id, inbound.user_id}
        after = _snapshot(world)
        said = " | ".join(r for chat in sorted(chats) for r in _replies(world, chat, mark))
        succeeded = (case.success_text in said) if case.success_text else after != before
        if actor in case.allowed:
            if not succeeded:
                wrong.append(f"{actor} should succeed but got: {said}")
        elif succeeded or after != before:
            wrong.append(f"{actor} should be refused but changed things; said: {said}")
        elif not ("Sorry" in said or (actor == "stranger" and "your name" in said)):
            wrong.append(f"{actor} was refused without a polite word: {said!r}")
    world.db.dispose()
    assert not wrong, "\n".join(wrong)
