"""Faults a test switches on in a running desk's database engines, through listeners attached
as each engine is made. SQLAlchemy's event lists must not change while another thread runs
them: a listener added to a live engine while the outbox's thread was connecting broke that
connection with "deque mutated during iteration" (a red CI run). A test module that makes
faults takes `hook_new_engines` as an autouse fixture; its faults then add plain callbacks
to the engine's lists here, which are safe to extend while another thread walks them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

import pytest
from sqlalchemy import Engine, event

from store import db as store_db

Hook = Callable[..., None]
_BEFORE_CURSOR: WeakKeyDictionary[Engine, list[Hook]] = WeakKeyDictionary()
_ON_CONNECT: WeakKeyDictionary[Engine, list[Hook]] = WeakKeyDictionary()


def hook_new_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now until the test ends, every engine the desk makes runs the hooks added here."""
    make_engine = store_db.make_engine

    def hooked(url: str) -> Engine:
        engine = make_engine(url)
        cursor_hooks: list[Hook] = []
        connect_hooks: list[Hook] = []
        _BEFORE_CURSOR[engine], _ON_CONNECT[engine] = cursor_hooks, connect_hooks

        def before_cursor(*args: Any) -> None:
            for hook in list(cursor_hooks):
                hook(*args)

        def on_connect(*args: Any) -> None:
            for hook in list(connect_hooks):
                hook(*args)

        event.listen(engine, "before_cursor_execute", before_cursor)
        event.listen(engine, "connect", on_connect)
        return engine

    monkeypatch.setattr(store_db, "make_engine", hooked)


def before_cursor(engine: Engine, hook: Hook) -> None:
    """Run `hook` (SQLAlchemy's before_cursor_execute arguments) before each statement."""
    _hooks(_BEFORE_CURSOR, engine).append(hook)


def on_connect(engine: Engine, hook: Hook) -> None:
    """Run `hook(dbapi_connection, record)` on each new connection."""
    _hooks(_ON_CONNECT, engine).append(hook)


def _hooks(table: WeakKeyDictionary[Engine, list[Hook]], engine: Engine) -> list[Hook]:
    try:
        return table[engine]
    except KeyError:
        raise AssertionError("engine made before hook_new_engines: take it as a fixture") from None
