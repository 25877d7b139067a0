"""Owner text is data: typed text is normalised at the inbox, and shown to staff inside its field.

`normalise` runs on every typed text before any handler sees it. `one_line` (names) and
`field_text` (descriptions, notes) render stored text into a message so that no line of it can
pass for one of the desk's own lines ("Price: free", "✅ Taken by …", a second phone line).
"""

from __future__ import annotations

import re
import unicodedata

# Direction controls reorder what follows them: a right-to-left override at the start of a name
# shows the rest of an agent's approval line (room, phone) backwards. Nobody needs them in a
# Chinese/English property desk, so all of them go.
BIDI_CONTROLS = frozenset(
    [
        *map(chr, range(0x202A, 0x202F)),
        *map(chr, range(0x2066, 0x206A)),
        "\u200e",
        "\u200f",
        "\u061c",
    ]
)
ZWJ = "\u200d"
ZERO_WIDTH = frozenset(["\u200b", "\u200c", ZWJ, "\u2060", "\ufeff"])
# letters that render as nothing (Hangul fillers, the blank braille pattern): a name made of them
# looks empty; modern Korean input never produces them between syllables
BLANK_LETTERS = frozenset(["\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"])
# spaces of another width are spaces; U+3000 (ideographic) stays, Chinese text uses it
_SPACES = frozenset(["\u00a0", *map(chr, range(0x2000, 0x200B)), "\u202f", "\u205f"])
# fullwidth Latin letters and digits, and the signs used in rooms, phones, amounts and commands,
# fold to ASCII (NFKC); fullwidth punctuation of Chinese prose (，：！？（）) is kept as typed
_FOLDED_SIGNS = frozenset("＋－．／＠＃＿")
# emoji sequences: a ZWJ between two pictographs (👩‍🔧) is part of one emoji and is kept
_EMOJI_MODIFIERS = frozenset(["\ufe0f", "\ufe0e", *map(chr, range(0x1F3FB, 0x1F400))])
_TAGS = range(0xE0020, 0xE0080)  # subdivision flags (🏴 + tags + cancel tag)
# every line break str.splitlines knows (\r\n, \r, U+2028/2029, NEL, ...) becomes "\n"
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
QUOTE_MARK = "   ┆ "  # starts every continuation line of a multi-line field
ELLIPSIS = "…"


def normalise(text: str) -> str:
    """Typed text as the desk keeps it: one kind of line break, no controls, no bidi or
    zero-width characters (ZWJ inside emoji stays), fullwidth ASCII folded; "" if invisible."""
    if _plain(text):  # the usual case, checked in C: nothing to drop or fold
        text = unicodedata.normalize("NFC", text)
        return text if is_visible(text) else ""
    text = _LINE_BREAKS.sub("\n", text)
    text = unicodedata.normalize("NFC", text)
    kept = [_fold(c) for c in text if _keeps(c)]
    text = _emoji_joins("".join(kept))
    text = _flag_tags(text)
    text = unicodedata.normalize("NFC", text)
    return text if is_visible(text) else ""


# printable characters that still need work: blank letters and the fullwidth forms we fold
_NOT_PLAIN = re.compile(
    "["
    + "".join(
        re.escape(c)
        for c in sorted(BLANK_LETTERS | set(map(chr, range(0xFF01, 0xFF5F))))
        if c in BLANK_LETTERS or c.isalnum() or c in _FOLDED_SIGNS
    )
    + "]"
)


def _plain(text: str) -> bool:
    """No control, format, line-separator or odd-space character (str.isprintable refuses
    them all, and ZWJ too), and nothing to fold."""
    return text.replace("\n", " ").isprintable() and _NOT_PLAIN.search(text) is None


def _keeps(c: str) -> bool:
    if c in "\n\t" or c == ZWJ:
        return True
    if c in BIDI_CONTROLS or c in ZERO_WIDTH or c in BLANK_LETTERS:
        return False
    category = unicodedata.category(c)
    if category in ("Cc", "Cs"):  # controls (PostgreSQL refuses NUL); lone surrogates
        return False
    return category != "Cf" or ord(c) in _TAGS  # soft hyphens, invisible operators...


def _fold(c: str) -> str:
    if c in _SPACES:
        return " "
    if "\uff01" <= c <= "\uff5e" and (c.isalnum() or c in _FOLDED_SIGNS):
        return unicodedata.normalize("NFKC", c)
    return c


def _pictograph(c: str) -> bool:
    return unicodedata.category(c) == "So"


def _emoji_joins(text: str) -> str:
    """Keep a ZWJ only between two pictographs (skin tones and VS16 may sit before it)."""
    if ZWJ not in text:
        return text
    out: list[str] = []
    for i, c in enumerate(text):
        if c != ZWJ:
            out.append(c)
            continue
        before = next((p for p in reversed(out) if p not in _EMOJI_MODIFIERS), "")
        after = text[i + 1] if i + 1 < len(text) else ""
        if before and after and _pictograph(before) and _pictograph(after) and out[-1] != ZWJ:
            out.append(c)
    return "".join(out)


def _flag_tags(text: str) -> str:
    """Tag characters only inside a subdivision flag (🏴 followed by tags)."""
    if not any(ord(c) in _TAGS for c in text):
        return text
    out: list[str] = []
    for c in text:
        if ord(c) in _TAGS and not (out and (out[-1] == "\U0001f3f4" or ord(out[-1]) in _TAGS)):
            continue
        out.append(c)
    return "".join(out)


def is_visible(text: str) -> bool:
    """Whether the text shows anything: a letter, digit, punctuation mark or symbol."""
    return any(unicodedata.category(c)[0] in "LNPS" and c not in BLANK_LETTERS for c in text)


def _cut(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def one_line(text: str | None, limit: int | None = None) -> str:
    """A name or short value on one line: every run of whitespace (line breaks too) is a space."""
    flat = " ".join(normalise(text or "").split())
    return _cut(flat, limit) or "-"


def field_text(text: str | None, limit: int | None = None) -> str:
    """A multi-line owner text for after a field label: its first line in place, every further
    line indented behind QUOTE_MARK, so no line of it can start like one of the desk's lines."""
    lines = [" ".join(line.split()) for line in normalise(text or "").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return "-"
    body = _cut("\n".join(lines), limit)
    first, *rest = body.split("\n")
    return "\n".join([first, *(QUOTE_MARK + line for line in rest)])
