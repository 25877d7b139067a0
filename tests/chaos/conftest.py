"""The chaos suite's marker: run by default at smoke size; `-m "not chaos"` leaves it out."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Register the `chaos` marker."""
    config.addinivalue_line("markers", "chaos: kill -9 / flaky Bot API runs of the real bot")
