"""ApiError is a plain exception (issue 11.18): passing through a @contextmanager sets its
__traceback__, which a frozen dataclass exception refused (FrozenInstanceError hid the error)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.wechat.api import TOKEN_ERRORS, ApiError


@contextmanager
def _unit_of_work(log: list[str]) -> Iterator[None]:
    """Like the desk's own context managers: clean up, then let the error through."""
    try:
        yield
    except Exception:
        log.append("rolled back")
        raise


def test_api_error_passes_through_a_context_manager() -> None:
    """The caller sees the WeChat error itself, with its code, after the cleanup ran."""
    log: list[str] = []
    with pytest.raises(ApiError) as caught, _unit_of_work(log):
        raise ApiError(42001, "access_token expired")
    assert (caught.value.errcode, caught.value.errmsg) == (42001, "access_token expired")
    assert (
        caught.value.errcode in TOKEN_ERRORS and str(caught.value) == "42001 access_token expired"
    )
    assert log == ["rolled back"] and caught.value.__traceback__ is not None


def test_api_error_chains_and_survives_a_copy() -> None:
    """Chained from a network error inside a context manager; pickled (worker threads) intact."""
    with pytest.raises(ApiError) as caught, _unit_of_work([]):
        try:
            raise OSError("connection refused")
        except OSError as exc:
            raise ApiError(-2, f"network: {exc!r}") from exc
    assert isinstance(caught.value.__cause__, OSError)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.errcode, copy.errmsg) == (-2, caught.value.errmsg)
