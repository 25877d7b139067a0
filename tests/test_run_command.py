"""`propdesk run` as an operator starts it: a real process, polling the fake Bot API."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from store.db import Database
from store.price_list import import_prices
from store.units import import_units
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import EXAMPLES, MONDAY_MORNING, FakeClock, run_env


def test_run_polls_answers_and_stops_on_sigterm(
    fake_tg: FakeTelegram, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console command migrates, answers /start over HTTP and exits 0 on SIGTERM."""
    env = run_env(fake_tg, db_url, PROPDESK_OUTBOX_POLL_SECONDS="0.1")
    monkeypatch.setenv("PROPDESK_DATABASE_URL", db_url)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    db = Database(db_url, FakeClock(MONDAY_MORNING))
    with db.unit_of_work() as uow:
        assert import_units(uow.session, EXAMPLES / "units.csv").ok
        assert import_prices(uow.session, EXAMPLES / "prices.csv").ok
        uow.commit()
    db.dispose()

    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        fake_tg.user_text(TgUser(id=9001, first_name="Op", language_code="en"), "/start")
        fake_tg.wait_for(  # the welcome and the first question come as one message (15.2)
            lambda _: any("What is your name?" in m for m in fake_tg.messages_to(9001)) or None,
            timeout=30,
        )
        assert "What is your name?" in fake_tg.messages_to(9001)[-1]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "propdesk is running as @propdesk_test_bot" in out
