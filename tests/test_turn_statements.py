"""What one turn asks of the database (issue 15.4): each update reads its conversation (locked)
and its person once, records itself once, and writes the conversation and its replies at
most once each; a duplicate or a stale press writes nothing else. Whole repair intakes
through handle_inbound on both databases, counted with SQLAlchemy's cursor event."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from handlers.desk import Desk
from handlers.inbox import handle_inbound
from handlers.messages import Inbound
from store import migrate
from store.db import Database
from store.models import Conversation, Order, OutboxMessage
from store.price_list import import_prices
from store.units import import_units
from tests.harness import FakeClock

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GROUP = "-1001500"
OWNER = "5002"  # Alice Li of 1-1-101, the registry's phone for that home
# the intake of bench/versus.py: (what the owner does, the text or the button's action|arg)
INTAKE = [
    ("text", "/start"),
    ("text", "Alice Li"),
    ("text", "1-1-101"),
    ("contact", "+8613900001111"),
    ("press", "repair"),
    ("press", "where|home"),
    ("press", "cat|plumbing"),
    ("press", "item"),
    ("text", "The kitchen tap drips"),
    ("press", "photos_done"),
    ("press", "when|book"),
    ("press", "date"),
    ("press", "slot"),
    ("press", "phone|mine"),
    ("press", "quote|agree"),
    ("press", "submit"),
]


class Intake:
    """The database, the desk and what the owner has been shown so far."""

    def __init__(self, db_url: str, clock: FakeClock) -> None:
        migrate.upgrade(db_url)
        self.db = Database(db_url, clock)
        self.desk = Desk(
            clock=clock, staff_groups=frozenset({GROUP}), default_group=GROUP, default_language="en"
        )
        with self.db.unit_of_work() as uow:
            assert import_units(uow.session, EXAMPLES / "units.csv").ok
            assert import_prices(uow.session, EXAMPLES / "prices.csv").ok
            uow.commit()
        self.shown: list[tuple[dict[str, Any], str]] = []  # (payload, message id), oldest first
        self.statements: list[str] = []
        self.counting = False
        self.updates = 0
        self.flushes = 0
        event.listen(self.db.engine, "before_cursor_execute", self._count)
        event.listen(Session, "after_flush", self._flushed)

    def _count(self, _conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        if self.counting:
            self.statements.append(" ".join(statement.split()).upper())

    def _flushed(self, *_: Any) -> None:
        if self.counting:
            self.flushes += 1

    def close(self) -> None:
        """Stop listening; close the database."""
        event.remove(Session, "after_flush", self._flushed)
        self.db.dispose()

    def inbound(self, update_id: str | None = None, **kw: Any) -> Inbound:
        """The owner's next update (or a given update id again: a duplicate delivery)."""
        if update_id is None:
            self.updates += 1
            update_id = str(self.updates)
        return Inbound(
            channel="telegram",
            update_id=update_id,
            chat_id=OWNER,
            chat_kind="private",
            user_id=OWNER,
            user_name="Alice",
            language_hint="en",
            press_notices=True,
            **kw,
        )

    def button(self, action: str) -> tuple[str, str]:
        """The newest shown button for `action` ("cat|plumbing", or "item": the first item)."""
        name, _, arg = action.partition("|")
        for payload, message_id in reversed(self.shown):
            for row in payload["buttons"]:
                for _label, data in row:
                    parts = data.split("|")
                    if parts[1] == name and (not arg or parts[2] == arg) and parts[2] != "other":
                        return data, message_id
        raise AssertionError(f"no {action} button among {self.shown}")

    @contextmanager
    def counted(self) -> Iterator[list[str]]:
        """The statements run inside the block, upper-cased, one line each."""
        self.statements = []
        self.flushes = 0
        self.counting = True
        try:
            yield self.statements
        finally:
            self.counting = False

    def handle(self, inbound: Inbound) -> list[str]:
        """Handle one update; its statements. Then deliver the outbox, as the sender would."""
        with self.counted() as statements:
            handle_inbound(self.db, self.desk, inbound)
        with self.db.unit_of_work() as uow:
            pending = uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == "pending")
                .order_by(OutboxMessage.id)
            ).all()
            for row in pending:
                message_id = row.payload.get("edit_message_id") or str(row.id)
                uow.session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)
                    .values(status="sent", external_id=message_id)
                )
                if row.chat_id == OWNER:
                    self.shown.append((row.payload, message_id))
            uow.commit()
        return statements

    def step(self, kind: str, what: str) -> Inbound:
        """The update for one step of the intake."""
        if kind == "text":
            return self.inbound(text=what)
        if kind == "contact":
            return self.inbound(contact_phone=what, contact_user_id=OWNER)
        data, message_id = self.button(what)
        return self.inbound(button=data, button_message_id=message_id)


def _count(statements: list[str], start: str) -> int:
    return sum(1 for s in statements if s.startswith(start))


def test_each_update_reads_and_writes_its_rows_once(
    db_url: str, db_backend: str, clock: FakeClock
) -> None:
    """Per update of a whole registration and repair: one record of the update, one read of the
    conversation (FOR UPDATE on PostgreSQL) and of the person, at most one write of the
    conversation and one INSERT of the owner's replies (the submit also writes the job card)."""
    d = Intake(db_url, clock)
    try:
        for kind, what in INTAKE:
            before = clock()
            statements = d.handle(d.step(kind, what))
            assert _count(statements, "INSERT INTO PROCESSED_UPDATES") == 1, statements
            reads = [s for s in statements if s.startswith("SELECT CONVERSATIONS.")]
            first = what == "/start"  # created on first contact, then read (locked) again
            assert len(reads) == (2 if first else 1), statements
            if db_backend == "postgres":
                assert reads[0].endswith("FOR UPDATE"), reads
            assert _count(statements, "SELECT PEOPLE.") == 1, statements
            assert _count(statements, "UPDATE CONVERSATIONS") == 1, (what, statements)
            sends = _count(statements, "INSERT INTO OUTBOX")
            assert sends == (2 if what == "submit" else 1), (what, statements)
            if INTAKE.index((kind, what)) > INTAKE.index(("press", "repair")) and what != "submit":
                # the conversation and the replies go out as two Core statements: no ORM
                # unit of work runs (it ran two or three times per turn: issue 15.4)
                assert d.flushes == 0, what
        with d.db.unit_of_work() as uow:
            assert uow.session.scalar(select(func.count()).select_from(Order)) == 1
            convo = uow.session.scalars(select(Conversation)).one()
            assert (convo.step, convo.data) == ("idle", {})
            assert before <= convo.updated_at <= clock()  # stamped by the desk's clock
    finally:
        d.close()


def test_a_duplicate_or_a_stale_press_writes_nothing_more(db_url: str, clock: FakeClock) -> None:
    """A second delivery of an update only finds it recorded; a press of a button drawn for an
    older step answers on the button and changes neither the conversation nor the outbox."""
    d = Intake(db_url, clock)
    try:
        for kind, what in INTAKE[:6]:  # up to the category question
            d.handle(d.step(kind, what))
        stale, message_id = d.button("where|home")  # drawn one step ago
        last = str(d.updates)
        again = d.handle(d.inbound(update_id=last, text="repeat"))
        assert [s for s in again if not s.startswith("BEGIN")] == [
            s for s in again if s.startswith("INSERT INTO PROCESSED_UPDATES")
        ]
        with d.counted() as statements:
            handled = handle_inbound(
                d.db, d.desk, d.inbound(button=stale, button_message_id=message_id)
            )
        assert handled.notice is not None and "out of date" in handled.notice.text
        assert _count(statements, "UPDATE CONVERSATIONS") == 0, statements
        assert _count(statements, "INSERT INTO OUTBOX") == 0, statements
        with d.db.unit_of_work() as uow:
            convo = uow.session.scalars(select(Conversation)).one()
            assert convo.step == "rep_category"
    finally:
        d.close()
