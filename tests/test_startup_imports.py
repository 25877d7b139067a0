"""`propdesk run` (long polling, WeChat, WeCom and the web chat off) imports only what polling
and the turns need (issue 15: start-up to the first getUpdates): a real process answers /start,
and Python's own import log of the whole run names no module of an unused feature."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.fake_telegram import FakeTelegram, TgUser
from tests.harness import run_env

# feature -> modules a polling desk with that feature off never needs
UNUSED = {
    "WeChat / WeCom": ("wechatpy",),
    "HTTP serving (webhook, WeChat, web chat)": ("uvicorn", "starlette", "bot.web"),
    "monthly workbook and digest chart": ("openpyxl", "matplotlib", "numpy"),
    "migrations (the database is at head)": ("alembic",),
    "YAML price import": ("yaml",),
    "phone numbers (nobody typed one)": ("phonenumbers",),
}


def _imported(importtime_log: str) -> set[str]:
    """Every module named by `python -X importtime`'s log."""
    names: set[str] = set()
    for line in importtime_log.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name and name != "imported package":
                names.add(name)
    return names


def test_polling_start_imports_no_unused_feature(
    fake_tg: FakeTelegram, db_url: str, db_backend: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The desk answers /start; nothing of WeChat, HTTP serving, reports, Alembic, YAML or
    phone parsing was imported, nor the PostgreSQL dialect on SQLite."""
    monkeypatch.setenv("PROPDESK_DATABASE_URL", db_url)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    env = run_env(fake_tg, db_url, PROPDESK_OUTBOX_POLL_SECONDS="0.1")
    log_path = tmp_path / "run.log"  # a file: the import log would fill a pipe and block
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "bot.cli", "run"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        fake_tg.user_text(TgUser(id=9002, first_name="Op", language_code="en"), "/start")
        asked = lambda _: any("What is your name?" in m for m in fake_tg.messages_to(9002))  # noqa: E731
        fake_tg.wait_for(lambda calls: asked(calls) or None, timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    log = log_path.read_text()
    assert proc.returncode == 0, log[-2000:]
    imported = _imported(log)
    assert "telegram.ext" in imported and "handlers.inbox" in imported  # the log is complete
    unused = dict(UNUSED)
    if db_backend == "sqlite":
        unused["PostgreSQL (the database is SQLite)"] = ("sqlalchemy.dialects.postgresql",)
    found = {
        feature: sorted(m for m in imported if any(m == p or m.startswith(p + ".") for p in mods))
        for feature, mods in unused.items()
    }
    assert {feature: mods for feature, mods in found.items() if mods} == {}


def test_the_collector_runs_again_when_run_stops_before_serving(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`propdesk run` pauses Python's cyclic garbage collector during start-up (issue 15); a
    start that ends early (here: a read-only database, exit 3) leaves it running again."""
    import gc

    from store import migrate
    from tests.test_read_only_database import _read_only_url

    migrate.upgrade(db_url)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:RUN-TEST")
    monkeypatch.setenv("PROPDESK_DATABASE_URL", _read_only_url(db_url, tmp_path))
    monkeypatch.chdir(tmp_path)
    assert gc.isenabled()
    try:
        assert main(["run"]) == 3
    finally:  # a non-root run made the folder read-only: give it back for the clean-up
        if os.geteuid() != 0 and not db_url.startswith("postgresql"):
            Path(db_url.split("///", 1)[1]).parent.chmod(0o755)
    assert gc.isenabled()
