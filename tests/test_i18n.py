"""The zh_CN message catalog: complete, placeholder-safe, in sync with the code, and loaded.

When a test here fails after changing user-facing text, run ``bin/i18n`` (it merges new
msgids from the code into the .po) and translate the new entries.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from handlers.i18n import DOMAIN, LOCALE_DIR, translator

ROOT = Path(__file__).resolve().parent.parent
PO_PATH = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / f"{DOMAIN}.po"
# the directories babel.cfg maps to the python extractor; bin/i18n adds the N_ keyword
SOURCE_DIRS = ("handlers", "bot", "scheduler")
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}


def _catalog() -> Catalog:
    with PO_PATH.open("rb") as po:
        return read_po(po, locale="zh_CN")


def _messages() -> list[Message]:
    """Every real entry of the catalog (not the header, not obsolete #~ entries)."""
    return [m for m in _catalog() if m.id]


def _texts(value: str | tuple[str, ...] | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _placeholders(text: str) -> set[str]:
    """The str.format fields of a text, e.g. {"name", "room"}; "{{" escapes are not fields."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def _label(message: Message) -> str:
    return _texts(message.id)[0][:60]


def test_catalog_has_messages() -> None:
    assert len(_messages()) > 50, f"{PO_PATH} looks empty"


def test_every_message_is_translated_and_not_fuzzy() -> None:
    untranslated = [
        _label(m) for m in _messages() if not all(s.strip() for s in _texts(m.string or ""))
    ]
    fuzzy = [_label(m) for m in _messages() if m.fuzzy]
    assert not untranslated, f"untranslated in {PO_PATH.name}: {untranslated}"
    assert not fuzzy, f"fuzzy (needs review) in {PO_PATH.name}: {fuzzy}"


def test_placeholders_match_the_source() -> None:
    wrong = []
    for message in _messages():
        expected = set().union(*(_placeholders(t) for t in _texts(message.id)))
        for text in _texts(message.string or ""):
            try:
                got = _placeholders(text)
            except ValueError as exc:  # unbalanced braces would break .format() at runtime
                wrong.append((_label(message), f"bad braces: {exc}"))
                continue
            if got != expected:
                wrong.append((_label(message), f"expected {sorted(expected)}, got {sorted(got)}"))
    assert not wrong, f"placeholders differ from the msgid: {wrong}"


def _extracted() -> list[tuple[str, int, str | tuple[str, ...], str | None]]:
    found = []
    for directory in SOURCE_DIRS:
        path = ROOT / directory
        if not path.is_dir():
            continue
        for filename, lineno, msgid, _comments, context in extract_from_dir(
            path, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.append((f"{directory}/{filename}", lineno, msgid, context))
    return found


def test_catalog_is_in_sync_with_the_code() -> None:
    extracted = _extracted()
    assert extracted, "extraction found no messages; is SOURCE_DIRS right?"
    catalog = _catalog()
    missing = sorted(
        {
            f"{_texts(msgid)[0]!r} ({where}:{line})"
            for where, line, msgid, context in extracted
            if catalog.get(msgid, context=context) is None
        }
    )
    assert not missing, "run bin/i18n and translate:\n  " + "\n  ".join(missing)


def test_translator_loads_the_catalog() -> None:
    source = "What can I do for you?"
    expected = _catalog().get(source)
    assert expected is not None and expected.string
    assert translator("zh")(source) == expected.string
    assert translator("zh")(source) == "您好，请问有什么可以帮您？"
    assert translator("en")(source) == source


@pytest.mark.parametrize("language", ["zh", "en"])
def test_language_confirmation_is_in_the_chosen_language(language: str) -> None:
    _ = translator(language)
    assert _("Language set to Chinese.") == (
        "已切换为中文。" if language == "zh" else "Language set to Chinese."
    )
    assert _("Language set to English.") == "Language set to English."
