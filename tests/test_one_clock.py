"""One clock (issue 9): the desk reads time only from its injected clock, and CI proves it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from store import migrate
from store.db import Database
from store.models import Conversation, OrderEvent, OutboxMessage, Person
from tests.harness import FakeClock

ROOT = Path(__file__).resolve().parent.parent
WALL_CLOCK_READS = [
    "from datetime import UTC, datetime\nx = datetime.now(UTC)\n",
    "from datetime import datetime\nx = datetime.utcnow()\n",
    "import datetime as dt\nx = dt.date.today()\n",
    "import time\nx = time.time()\n",
    "from sqlalchemy import func\nx = func.now()\n",
]


def _ruff(source: str, filename: str) -> subprocess.CompletedProcess[str]:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    return subprocess.run(
        [ruff, "check", "--no-cache", "--stdin-filename", filename, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize("source", WALL_CLOCK_READS)
@pytest.mark.parametrize("folder", ["bot", "handlers", "store", "scheduler"])
def test_reading_the_wall_clock_in_desk_code_fails_the_lint(folder: str, source: str) -> None:
    """`ruff check` (a step of bin/test) refuses a wall-clock read anywhere in the desk's code."""
    result = _ruff(source, f"{folder}/example.py")
    assert result.returncode == 1 and "TID251" in result.stdout, result.stdout


def test_the_clock_module_and_monotonic_timeouts_are_allowed() -> None:
    """store/clock.py is where the wall clock is read; monotonic time for timeouts is fine."""
    clock = _ruff("from datetime import UTC, datetime\n\nx = datetime.now(UTC)\n", "store/clock.py")
    assert clock.returncode == 0, clock.stdout
    monotonic = _ruff("import time\n\nx = time.monotonic()\n", "bot/example.py")
    assert monotonic.returncode == 0, monotonic.stdout


def test_rows_are_stamped_by_the_injected_clock_not_the_wall_clock(db_url: str) -> None:
    """Created rows, history lines, outbox rows and changed conversations carry the desk's
    time, years away from the machine's (R50: the history says when things happened)."""
    far = datetime(2031, 2, 28, 15, 59, tzinfo=UTC)
    clock = FakeClock(far)
    migrate.upgrade(db_url)
    db = Database(db_url, clock)
    try:
        with db.unit_of_work() as uow:
            person = Person(name="Li", language="zh")
            conversation = Conversation(channel="telegram", chat_id="1")
            message = OutboxMessage(channel="telegram", chat_id="1", payload={"text": "hi"})
            uow.session.add_all([person, conversation, message])
            uow.commit()
        clock.advance(timedelta(days=3))
        with db.unit_of_work() as uow:
            row = uow.session.get(Conversation, conversation.id)
            assert row is not None
            row.step = "menu"
            uow.commit()
        with db.unit_of_work() as uow:
            stored = uow.session.get(Person, person.id)
            sent = uow.session.get(OutboxMessage, message.id)
            changed = uow.session.get(Conversation, conversation.id)
            assert stored is not None and sent is not None and changed is not None
            assert abs(stored.created_at - far) < timedelta(minutes=5)
            assert abs(sent.next_attempt_at - far) < timedelta(minutes=5)
            assert abs(changed.updated_at - (far + timedelta(days=3))) < timedelta(minutes=5)
            assert uow.session.scalars(select(OrderEvent)).first() is None
    finally:
        db.dispose()


def test_a_session_without_a_clock_refuses_to_guess() -> None:
    """A session opened outside the unit of work has no clock: stamping fails loudly rather
    than falling back to the wall clock."""
    from sqlalchemy.orm import Session

    from store.clock import session_now

    with pytest.raises(RuntimeError, match="no clock"):
        session_now(Session())


def test_a_moved_machine_clock_reaches_the_tests_and_their_subprocesses(tmp_path: Path) -> None:
    """With PROPDESK_TEST_MOVE_CLOCK_DAYS set (CI's moved-clock run) the test process and the
    Python subprocesses it starts (`propdesk run`) agree on the moved time; the kernel's file
    stamps stay real, which measures the move."""
    import os

    probe = tmp_path / "probe"
    probe.write_text("")
    real = datetime.fromtimestamp(probe.stat().st_mtime, UTC)
    child = subprocess.run(
        [sys.executable, "-c", "from datetime import UTC, datetime; print(datetime.now(UTC))"],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = datetime.fromisoformat(child.stdout.strip())
    ours = datetime.now(UTC)
    days = float(os.environ.get("PROPDESK_TEST_MOVE_CLOCK_DAYS", "0") or 0)
    for seen in (ours, theirs):
        assert abs(seen - real - timedelta(days=days)) < timedelta(minutes=5)
