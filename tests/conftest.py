"""Shared pytest fixtures.

Databases
---------
Every test that uses ``db_url`` (directly or through another fixture) runs once per backend:

* ``sqlite``   -- a fresh file ``<tmp_path>/test.db``;
* ``postgres`` -- a fresh database in one throw-away PostgreSQL cluster per test session,
  started from the machine's own binaries (see tests/pgserver.py).

Which backends run: ``--db=sqlite|postgres|both`` or the env var ``PROPDESK_TEST_DB``
(the option wins; default ``both``). If the mode asks for postgres and no PostgreSQL server
binaries are found, the run FAILS (it is never silently skipped): install them
(``apt-get install postgresql``) or run with ``PROPDESK_TEST_DB=sqlite``.

Tests that only make sense on PostgreSQL (row locks, ...) take the ``@pytest.mark.postgres_only``
marker: their ``db_url`` is then only ``postgres`` (skipped when the mode is ``sqlite``).
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pgserver import ThrowawayPostgres, find_pg_bin

# --- database backend selection -------------------------------------------------------------

_MODES = {"sqlite": ["sqlite"], "postgres": ["postgres"], "both": ["sqlite", "postgres"]}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=sorted(_MODES),
        default=None,
        help="database backends to run db_url tests on (default: $PROPDESK_TEST_DB or 'both')",
    )


_BACKENDS_KEY = pytest.StashKey[list[str]]()


MOVE_CLOCK = "PROPDESK_TEST_MOVE_CLOCK_DAYS"
_MOVED_KEY = pytest.StashKey[object]()


def _move_the_machine_clock(config: pytest.Config) -> None:
    """With PROPDESK_TEST_MOVE_CLOCK_DAYS=N (CI sets 400), the whole run sees the machine's clock
    N days away (time-machine, flowing; monotonic untouched), and so do the Python subprocesses
    the tests start (tests/moved_clock/sitecustomize.py). The suite must pass on any date."""
    days = os.environ.get(MOVE_CLOCK, "").strip()
    if not days:
        return
    site = sys.modules.get("sitecustomize")
    if getattr(site, "PROPDESK_MOVED", False):  # an xdist worker: moved once at its start
        return
    from datetime import UTC, datetime, timedelta

    import time_machine

    traveller = time_machine.travel(datetime.now(UTC) + timedelta(days=float(days)), tick=True)
    traveller.start()
    config.stash[_MOVED_KEY] = traveller
    here = str(Path(__file__).resolve().parent / "moved_clock")
    path = os.environ.get("PYTHONPATH", "")
    if here not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (here, path) if p)


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = config.stash.get(_MOVED_KEY, None)
    if traveller is not None:
        traveller.stop()  # type: ignore[attr-defined]


def pytest_report_header(config: pytest.Config) -> str | None:
    days = os.environ.get(MOVE_CLOCK, "").strip()
    return f"machine clock moved {days} days (time-machine)" if days else None


def pytest_configure(config: pytest.Config) -> None:
    _move_the_machine_clock(config)
    config.addinivalue_line(
        "markers", "postgres_only: the test's db_url is only ever the PostgreSQL one"
    )
    mode = config.getoption("--db") or os.environ.get("PROPDESK_TEST_DB", "").strip() or "both"
    if mode not in _MODES:
        raise pytest.UsageError(f"PROPDESK_TEST_DB must be sqlite, postgres or both, not {mode!r}")
    config.stash[_BACKENDS_KEY] = _MODES[mode]


def _backends(config: pytest.Config) -> list[str]:
    """The backends selected for this run: a sub-list of ["sqlite", "postgres"]."""
    return config.stash[_BACKENDS_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``db_url`` (even when only used indirectly) over the selected backends."""
    if "db_url" not in metafunc.fixturenames:
        return
    backends = _backends(metafunc.config)
    params: list[object] = list(backends)
    if metafunc.definition.get_closest_marker("postgres_only"):
        skip = pytest.mark.skip(reason="postgres_only test, and PROPDESK_TEST_DB=sqlite")
        params = ["postgres" if "postgres" in backends else pytest.param("postgres", marks=skip)]
    metafunc.parametrize("db_url", params, indirect=True, ids=lambda p: str(p))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fail the whole run up front when postgres tests were collected but can't run here."""
    if "postgres" not in _backends(config) or find_pg_bin() is not None:
        return
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("db_url") == "postgres":
            raise pytest.UsageError(
                "PostgreSQL server binaries (initdb, postgres) not found, but the tests are set "
                "to run on PostgreSQL too.\nInstall them (Debian/Ubuntu: apt-get install "
                "postgresql), point PROPDESK_PG_BIN at their folder, or run only on SQLite with "
                "PROPDESK_TEST_DB=sqlite."
            )


# --- database fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ThrowawayPostgres]:
    """One throw-away PostgreSQL cluster for the whole session.

    Started lazily: only when the first postgres-backed test needs it. Stopped (and its temp
    folder deleted) at the end of the session, pass or fail; atexit is the safety net.
    """
    server = ThrowawayPostgres()  # raises PgNotFoundError with instructions if not installed
    server.start()
    try:
        yield server
    finally:
        server.stop()


_db_counter = itertools.count(1)


def _db_name(node_name: str) -> str:
    """A unique, readable database name: t<n>_<test name>, at most 63 chars."""
    slug = re.sub(r"[^a-z0-9_]+", "_", node_name.lower()).strip("_")
    return f"t{next(_db_counter)}_{slug}"[:63]


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database, for this test only.

    Parametrized by pytest_generate_tests: ``sqlite`` -> ``sqlite:///<tmp_path>/test.db``;
    ``postgres`` -> ``postgresql+psycopg://postgres@127.0.0.1:<port>/<new db>`` (dropped after
    the test, disconnecting anything still connected).
    """
    backend = getattr(request, "param", None)
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
    elif backend == "postgres":
        server: ThrowawayPostgres = request.getfixturevalue("pg_server")
        name = _db_name(request.node.name)
        url = server.create_database(name)
        try:
            yield url
        finally:
            server.drop_database(name)
    else:  # pragma: no cover - only if pytest_generate_tests was bypassed
        raise RuntimeError(f"db_url needs a backend parameter, got {backend!r}")


@pytest.fixture
def db_backend(db_url: str) -> str:
    """``"sqlite"`` or ``"postgres"``: the backend of this test's ``db_url``."""
    return "postgres" if db_url.startswith("postgresql") else "sqlite"


# --- app fixtures ---------------------------------------------------------------------------
# Project-specific fixtures (store, handlers, bot, scheduler, ...) go below this line.

from collections.abc import AsyncIterator  # noqa: E402

from tests.fake_telegram import FakeTelegram, TgUser  # noqa: E402
from tests.fake_web import close_clients, reserve_port, start_web, web_owner, web_settings  # noqa: E402
from tests.fake_wechat import FakeWeChat, start_wechat, wechat_owner, wechat_settings  # noqa: E402
from tests.harness import MONDAY_MORNING, Bot, FakeClock, Owner, seed_examples, start_bot  # noqa: E402


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    """A fake Telegram Bot API server on 127.0.0.1."""
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    """Monday 23 November 2026, 09:30 Shanghai time, flowing."""
    return FakeClock(MONDAY_MORNING)


@pytest.fixture
def channel() -> str:
    """The owners' channel: "telegram", unless a test is parametrized with "wechat" or "web"."""
    return "telegram"


@pytest.fixture
def fake_wx() -> Iterator[FakeWeChat]:
    """A fake WeChat API server on 127.0.0.1."""
    with FakeWeChat() as fake:
        yield fake


@pytest.fixture
async def bot(
    fake_tg: FakeTelegram,
    db_url: str,
    clock: FakeClock,
    channel: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Bot]:
    """A running bot on the example estate, polling the fake Bot API (and serving the WeChat
    webhook against the fake WeChat API when the channel is "wechat", the web chat when it is
    "web")."""
    extra: dict[str, object] = {}
    web_port = reserve_port() if channel == "web" else None
    if web_port is not None:
        extra = web_settings(request.getfixturevalue("tmp_path") / "web-files", web_port)
    if channel == "wechat":  # WeChat tells no app language: the owners' language is the default
        only_zhang = "zhang" in request.fixturenames and "alice" not in request.fixturenames
        fake_wx = request.getfixturevalue("fake_wx")
        extra = wechat_settings(fake_wx, default_language="zh" if only_zhang else "en")
    running = await start_bot(fake_tg, db_url, clock, **extra)
    seed_examples(running.services)
    if channel == "wechat":
        running.wechat = await start_wechat(running, fake_wx)
    if web_port is not None:
        running.web = await start_web(running, web_port)
    try:
        yield running
    finally:
        if running.wechat is not None:
            await running.wechat.stop()
        if running.web is not None:
            await close_clients(running)
            await running.web.stop()
        await running.stop()


@pytest.fixture
def zhang(fake_tg: FakeTelegram, bot: Bot, channel: str) -> Owner:
    """张伟 of 3-2-1201 (registry phone 13812345678), Telegram (or WeChat) in Chinese."""
    user = TgUser(id=5001, first_name="伟", language_code="zh-hans")
    return owner_on(channel, fake_tg, bot, user)


@pytest.fixture
def alice(fake_tg: FakeTelegram, bot: Bot, channel: str) -> Owner:
    """An English-speaking owner of 1-1-101 (registry phone is 李娜's 13900001111)."""
    user = TgUser(id=5002, first_name="Alice", language_code="en")
    return owner_on(channel, fake_tg, bot, user)


def owner_on(channel: str, fake_tg: FakeTelegram, bot: Bot, user: TgUser) -> Owner:
    """The person chatting with the bot on the test's owners' channel."""
    if channel == "wechat":
        return wechat_owner(bot, user)
    if channel == "web":
        return web_owner(bot, user)
    return Owner(fake_tg, bot, user)
