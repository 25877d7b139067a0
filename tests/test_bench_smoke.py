"""`python -m bench` at its smoke size runs and its self-checks hold (issue 15.5), so the
benchmark command never rots. Figures are printed, never asserted: no timing here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_smoke_runs_and_checks_itself(db_url: str, tmp_path: Path) -> None:
    """Every benchmark runs at the smoke size; every owner answered, every due timer ran once,
    the report holds the month's orders; a storm night's three owners got every answer and
    their cards within Telegram's limits; propdesk and the bare PTB echo bot each answered
    every step of two owners' whole repairs, one order each, the outbox's sent messages are
    exactly the ones delivered; a table is printed and the JSON written."""
    out = tmp_path / "bench.json"
    args = [sys.executable, "-m", "bench", "--size", "smoke", "--json", str(out)]
    if not db_url.startswith("sqlite"):
        args += ["--url", db_url]  # storm, timers and reports on this PostgreSQL database
    proc = subprocess.run(
        args,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "all self-checks hold" in proc.stdout
    result = json.loads(out.read_text())
    assert result["ok"] is True
    assert {"versus", "turns", "storm", "night", "timers", "reports"} <= result.keys()
    versus = result["versus"]["figures"]
    for program in ("echo", "propdesk"):
        assert versus[program]["answered"] == versus[program]["steps"] == 2 * 16
    assert versus["propdesk"]["one_order_each"] and versus["propdesk"]["outbox_matches"]
    assert "propdesk/echo" in proc.stdout
    turns = result["turns"]["figures"]
    assert turns["answered"] == turns["updates"] == 3 * 2
    assert result["storm"]["figures"]["answered"] == 3
    night = result["night"]["figures"]  # limits on: every step, every card, within the limits
    assert night["answered"] == night["steps"] == 3 * 16
    assert night["carded"] == night["orders"] == 3 and night["within_limits"]
    (timers,) = result["timers"]["figures"]
    assert timers["ran"] == timers["due"] == 50 and timers["ok"]
    (reports,) = result["reports"]["figures"]
    assert reports["orders_in_month"] > 0 and reports["ok"]
