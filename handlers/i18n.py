"""gettext catalogs (Babel): English source strings, zh-CN translations."""

from __future__ import annotations

import gettext
from collections.abc import Callable
from functools import cache
from io import BytesIO
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "propdesk"
LANGUAGES = ("zh", "en")
_CATALOG_LOCALE = {"zh": "zh_CN"}

Translate = Callable[[str], str]


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog for a language; English is the source and needs none."""
    locale = _CATALOG_LOCALE.get(language)
    if locale is None:
        return gettext.NullTranslations()
    # Babel's catalog reader only when a catalog is first compiled, not at every start (issue 15)
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_path.open("rb") as po:
        catalog = read_po(po, locale=locale)
    buf = BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def translator(language: str) -> Translate:
    """The `_` function for a language."""
    return translations(language if language in LANGUAGES else "zh").gettext


def pick_language(hint: str | None, default: str) -> str:
    """Map a client language code such as "zh-hans" or "en-US" to a supported language."""
    code = (hint or "").lower()
    for language in LANGUAGES:
        if code.startswith(language):
            return language
    return default if default in LANGUAGES else "zh"
