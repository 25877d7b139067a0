"""Whatever a page sends, the web chat answers in its own terms (issue 12): any text is a
turn of the dialog or a polite refusal, any body a clear 4xx; never a 5xx, never an apology
for a failure of ours."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

with warnings.catch_warnings():  # Starlette 1.x would like httpx2; httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from bot.webchat.sandbox import GROUP, OffsetClock, Sandbox, sandbox_settings
from store.models import OutboxMessage
from tests.harness import FakeClock

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "text": st.none() | st.text(max_size=60) | st.integers(),
        "button": st.none() | st.text(max_size=30) | st.integers(),
        "message": st.none() | st.text(max_size=20),
        "chat": st.sampled_from(["me", "", GROUP, "sandbox-owner2", "../x"]) | st.integers(),
        "nonce": st.text(max_size=12) | st.integers(),
    },
)
POLITE = {200, 400, 403, 409, 413}


@pytest.fixture
def client(db_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[tuple[TestClient, Sandbox]]:
    """The sandbox's app in Starlette's test client (the simplest HTTP for many examples)."""
    settings_ = sandbox_settings(db_url, outbox_poll_seconds=0.05)
    sandbox = Sandbox(settings_, clock=OffsetClock(base=clock), files=tmp_path, scheduler=False)
    sandbox.prepare()
    try:
        with TestClient(sandbox.app()) as test_client:
            yield test_client, sandbox
    finally:
        sandbox.close()


def test_any_text_or_body_gets_a_clear_answer(client: tuple[TestClient, Sandbox]) -> None:
    """Typed text (any characters, controls, bidi, huge numbers) and malformed bodies: 2xx or
    a 4xx with a message; nothing fails on our side."""
    http, sandbox = client
    token = sandbox.panes()[0]["people"][0]["token"]  # type: ignore[index]
    headers = {"X-Propdesk-Session": str(token), "X-Propdesk-Request": "1"}
    nonces = itertools.count()

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(text=st.text(max_size=80))
    def typed(text: str) -> None:
        body = {"chat": "me", "nonce": f"typed-{next(nonces):06d}", "text": text}
        answer = http.post("/web/send", json=body, headers=headers)
        assert answer.status_code in POLITE, answer.text
        assert answer.status_code == 200 or answer.json()["error"]

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=FIELDS | JSON)
    def anything(body: Any) -> None:
        answer = http.post("/web/send", json=body, headers=headers)
        assert answer.status_code in POLITE, answer.text
        assert answer.status_code == 200 or answer.json()["error"]

    typed()
    anything()
    with sandbox.services.db.unit_of_work() as uow:
        texts = [p["text"] for p in uow.session.scalars(select(OutboxMessage.payload))]
    assert texts and not any("something went wrong" in t or "系统出了点问题" in t for t in texts)
