"""WeCom has no bot groups: a "group" chat id names who receives its messages."""

from __future__ import annotations

from bot.config import DEPARTMENTS

PREFIX = "@"
DEFAULT_GROUP = "@staff"  # every staff member with a WeCom account


def department_groups() -> tuple[tuple[str, str], ...]:
    """(department, group chat id) of every department: "@engineering", ..."""
    return tuple((department, PREFIX + department) for department in DEPARTMENTS)


def is_group(chat_id: str) -> bool:
    """Whether a WeCom chat id is a group (its recipients are looked up when sending)."""
    return chat_id.startswith(PREFIX)


def department_of(chat_id: str) -> str | None:
    """The department a group chat id stands for; None for the whole staff."""
    name = chat_id.removeprefix(PREFIX)
    return name if name in DEPARTMENTS else None
