"""Moves the machine's clock for a Python subprocess of a moved-clock test run.

tests/conftest.py puts this folder first on PYTHONPATH when PROPDESK_TEST_MOVE_CLOCK_DAYS is
set, so `propdesk run` and other subprocesses the tests start see the same moved clock as the
test process (time-machine; monotonic time is left alone)."""

from __future__ import annotations

import os

_days = os.environ.get("PROPDESK_TEST_MOVE_CLOCK_DAYS", "").strip()
if _days:
    from datetime import UTC, datetime, timedelta

    import time_machine

    time_machine.travel(datetime.now(UTC) + timedelta(days=float(_days)), tick=True).start()
    PROPDESK_MOVED = True  # tests/conftest.py must not move it a second time (xdist workers)
