"""Fill zh_CN translations from a small JSON file of {msgid: msgstr}: bin/translate.py FILE.json"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "handlers/locale/zh_CN/LC_MESSAGES/propdesk.po"


def main() -> int:
    """Apply the translations and list what is still missing."""
    pairs = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    with PO.open("rb") as f:
        catalog = read_po(f, locale="zh_CN")
    for msgid, msgstr in pairs.items():
        if msgid not in catalog:
            print(f"not in catalog: {msgid!r}", file=sys.stderr)
            continue
        catalog[msgid].string = msgstr
    with PO.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False, sort_output=True, no_location=True)
    missing = [m.id for m in catalog if m.id and not m.string]
    for msgid in missing:
        print(f"untranslated: {msgid!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
