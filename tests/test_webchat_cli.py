"""`bin/run` without a token opens the sandbox (issue 12): `propdesk sandbox` as a newcomer
runs it, on its own database, bound to 127.0.0.1, printing the URL to open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bot.webchat.sandbox import OffsetClock

ROOT = Path(__file__).resolve().parent.parent


def test_bin_run_without_a_token_opens_the_sandbox() -> None:
    """The token check in bin/run leads to `propdesk sandbox`; with a token, `propdesk run`."""
    script = (ROOT / "bin" / "run").read_text(encoding="utf-8")
    no_token, _, with_token = script.partition("exec propdesk sandbox")
    assert "TELEGRAM_BOT_TOKEN" in no_token and with_token
    assert "exec propdesk run" in with_token


def test_propdesk_sandbox_prints_its_url_and_serves_the_page(tmp_path: Path) -> None:
    """A fresh start loads the example estate and the staff into var/sandbox.db, prints a
    127.0.0.1 URL that serves the sandbox page; Ctrl+C stops it cleanly; a second start
    finds everything in place."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROPDESK_", "TELEGRAM_"))}
    command = [sys.executable, "-m", "bot.cli", "sandbox", "--port", "0"]
    for start in (1, 2):
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env | {"PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            said = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = process.stdout.readline()
                assert line, (
                    f"the sandbox stopped: {process.stderr.read() if process.stderr else ''}"
                )
                said.append(line)
                if "the desk is at" in line:
                    break
            url = said[-1].split("the desk is at ", 1)[1].split()[0]
            assert url.startswith("http://127.0.0.1:")
            page = httpx.get(url, timeout=10)
            assert page.status_code == 200 and "SANDBOX" in page.text
            if start == 1:
                assert "sandbox: loaded the example estate\n" in said
                assert any("joined as engineer" in line for line in said)
            else:
                assert not any("loaded" in line or "joined" in line for line in said)
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(30) == 0
    assert (tmp_path / "var" / "sandbox.db").is_file()
    assert not (tmp_path / "var" / "propdesk.db").exists()


def test_the_offset_clock_only_moves_ahead_and_survives_a_restart(tmp_path: Path) -> None:
    """Skipping adds to the offset; a new clock reads it back, so the desk never goes back."""
    base = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    keep = tmp_path / "sandbox.clock"
    clock = OffsetClock(lambda: base, keep)
    assert clock() == base
    clock.skip(timedelta(minutes=30))
    clock.skip(timedelta(days=1))
    assert clock() == base + timedelta(days=1, minutes=30)
    assert OffsetClock(lambda: base, keep)() == base + timedelta(days=1, minutes=30)
    keep.write_text("-5\n")  # a damaged or negative file never moves the desk back
    assert OffsetClock(lambda: base, keep)() == base
