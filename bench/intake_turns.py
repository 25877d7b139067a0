"""The turn alone (issue 15.4): CPU and SQL statements per update of whole repair intakes,
in-process through handle_inbound, no transport, no sender.

Each owner walks bench/versus.py's intake (register with name, home and shared contact, then a
home plumbing repair to the submit: 16 updates, 11 of them presses of the buttons last shown,
with their message ids as Telegram sends them) on the Telegram channel with a staff group; after
each update the outbox is marked sent, as the sender would, outside the measurement. Prints CPU
ms per update (this process's, the turn being all it does), SQL statements per update (cursor
executions: BEGIN, SAVEPOINTs and the driver's own statements included) and both per step,
and checks one order per owner.

    .venv/bin/python bench/intake_turns.py                          # 40 owners, SQLite
    .venv/bin/python bench/intake_turns.py --postgres --show submit  # and list a step's SQL
    PYTHONPATH=/path/to/old .venv/bin/python bench/intake_turns.py   # an older checkout
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH: see above

from sqlalchemy import event, func, select, update

from bench.versus import INTAKE, _button, owners, prepare
from handlers.desk import Desk
from handlers.inbox import handle_inbound
from handlers.messages import Inbound
from store.db import Database
from store.models import Order, OutboxMessage
from tests.harness import MONDAY_MORNING, FakeClock

GROUP = "-1001500"


class Walk:
    """The database, the desk, and the statements of the update being handled."""

    def __init__(self, url: str) -> None:
        prepare(url)
        clock = FakeClock(MONDAY_MORNING)  # office hours: the booked visit needs them
        self.db = Database(url, clock)
        self.desk = Desk(
            clock=clock, staff_groups=frozenset({GROUP}), default_group=GROUP, default_language="en"
        )
        self.ids = itertools.count(1)
        self.counting = False
        self.statements: list[str] = []
        event.listen(self.db.engine, "before_cursor_execute", self._count)

    def _count(self, _conn: Any, _cur: Any, statement: str, _p: Any, _c: Any, many: bool) -> None:
        if self.counting:
            self.statements.append(("(many) " if many else "") + " ".join(statement.split()))

    def inbound(self, chat: str, **kw: Any) -> Inbound:
        """An update from the owner of a private chat."""
        return Inbound(
            channel="telegram",
            update_id=str(next(self.ids)),
            chat_id=chat,
            chat_kind="private",
            user_id=chat,
            user_name="Owner",
            language_hint="en",
            press_notices=True,
            **kw,
        )

    def handle(self, inbound: Inbound) -> tuple[float, list[str]]:
        """Handle one update: its CPU seconds and statements."""
        self.statements = []
        self.counting = True
        started = time.process_time()
        handled = handle_inbound(self.db, self.desk, inbound)
        took = time.process_time() - started
        self.counting = False
        if not handled.fresh:
            raise RuntimeError(f"update {inbound.update_id} taken for a duplicate")
        return took, self.statements

    def deliver(self) -> list[tuple[str, dict[str, Any], str]]:
        """Mark every pending message sent, as the sender would: (chat, payload, message id)."""
        with self.db.unit_of_work() as uow:
            rows = uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == "pending")
                .order_by(OutboxMessage.id)
            ).all()
            sent = []
            for row in rows:
                message_id = row.payload.get("edit_message_id") or str(row.id)
                uow.session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)
                    .values(status="sent", external_id=message_id)
                )
                sent.append((row.chat_id, row.payload, message_id))
            uow.commit()
        return sent


def _pressed(shown: list[tuple[dict[str, Any], str]], action: str) -> tuple[str, str]:
    """The newest shown button for `action` and its message id."""
    for payload, message_id in reversed(shown):
        keyboard = [[{"callback_data": data} for _label, data in row] for row in payload["buttons"]]
        data = _button({"reply_markup": {"inline_keyboard": keyboard}}, action)
        if data is not None:
            return data, message_id
    raise RuntimeError(f"no {action} button shown")


def run(url: str, count: int, warm: int, show: list[str]) -> dict[str, Any]:
    """Walk `count` owners' intakes (the first `warm` not measured); the figures."""
    walk = Walk(url)
    cpu: dict[str, list[float]] = defaultdict(list)
    statements: dict[str, list[int]] = defaultdict(list)
    listed: dict[str, list[str]] = {}
    try:
        for n, owner in enumerate(owners(count)):
            chat, shown = str(owner.user.id), []
            for i, (kind, what, _ends) in enumerate(INTAKE):
                if kind == "text":
                    inbound = walk.inbound(chat, text=what.format(name=owner.name, room=owner.room))
                elif kind == "contact":
                    inbound = walk.inbound(
                        chat, contact_phone="+86" + owner.phone, contact_user_id=chat
                    )
                else:
                    data, message_id = _pressed(shown, what)
                    inbound = walk.inbound(chat, button=data, button_message_id=message_id)
                took, ran = walk.handle(inbound)
                step = f"{i + 1:2d} {kind} {what}"
                if n >= warm:
                    cpu[step].append(took)
                    statements[step].append(len(ran))
                listed[step] = ran
                shown += [(p, m) for c, p, m in walk.deliver() if c == chat]
        with walk.db.unit_of_work() as uow:
            orders = uow.session.scalar(select(func.count()).select_from(Order))
    finally:
        walk.db.dispose()
    updates = sum(len(v) for v in cpu.values())
    result = {
        "database": url.split(":", 1)[0].split("+", 1)[0],
        "owners": count,
        "orders": orders,
        "updates": updates,
        "cpu_ms_per_update": sum(map(sum, cpu.values())) * 1000 / updates,
        "statements_per_update": sum(map(sum, statements.values())) / updates,
        "steps": {
            step: {
                "cpu_ms": statistics.mean(cpu[step]) * 1000,
                "statements": statistics.mean(statements[step]),
            }
            for step in cpu
        },
        "listed": {step: ran for step, ran in listed.items() if any(s in step for s in show)},
    }
    return result


def main() -> int:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owners", type=int, default=40)
    parser.add_argument("--warm", type=int, default=5, help="owners walked before measuring")
    parser.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL")
    parser.add_argument("--show", nargs="*", default=[], help="list the SQL of these steps")
    args = parser.parse_args()
    if args.postgres:
        from tests.pgserver import ThrowawayPostgres

        with ThrowawayPostgres() as pg:
            r = run(pg.create_database("intake_turns"), args.owners, args.warm, args.show)
    else:
        with tempfile.TemporaryDirectory() as folder:
            r = run(f"sqlite:///{folder}/turns.db", args.owners, args.warm, args.show)
    print(
        f"{r['database']}: {r['updates']} updates of {r['owners'] - args.warm} owners measured, "
        f"orders {r['orders']}/{r['owners']}: {r['cpu_ms_per_update']:.2f} ms CPU/update, "
        f"{r['statements_per_update']:.2f} statements/update"
    )
    for step, figures in r["steps"].items():
        print(f"  {step:30s} {figures['statements']:5.1f} statements {figures['cpu_ms']:6.2f} ms")
    for step, ran in r["listed"].items():
        print(f"--- SQL of step {step}:")
        for statement in ran:
            print(f"    {statement[:160]}")
    return 0 if r["orders"] == r["owners"] else 1


if __name__ == "__main__":
    sys.exit(main())
