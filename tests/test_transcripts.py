"""The checked-in transcripts of one whole repair (docs/transcripts/) are what the code says
now (issue 11, done-when): regenerated here and compared line by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.transcripts import OUT, whole_repair


@pytest.mark.parametrize("language", ["zh", "en"])
async def test_transcript_is_current(language: str, tmp_path: Path) -> None:
    """Fails when a message, button or step changed without regenerating the transcript."""
    text, counts = await whole_repair(language, tmp_path)
    checked_in = OUT / f"repair.{language}.md"
    hint = "run bin/transcripts and commit docs/transcripts/ (then read the diff: it is the UX)"
    assert checked_in.exists(), f"{checked_in} is missing: {hint}"
    assert checked_in.read_text(encoding="utf-8") == text, f"{checked_in} is stale: {hint}"
    assert counts.sent["Owner"] > 0 and counts.sent["Engineer"] > 0  # the repair really ran
