"""Phone numbers: parse what people type into E.164, and match them against the unit registry."""

from __future__ import annotations

import re
import unicodedata

from store.models import Unit

_LIST_SEPARATORS = re.compile(r"[;/,、|]+")
#: what may appear in a typed number: digits, a leading +, spaces and punctuation
_PHONE_CHARS = re.compile(r"\+?[\d\s().\-]+")
#: longer than any phone number with its punctuation: do not bother the parser
_MAX_LEN = 40


def parse_phone(text: str, region: str = "CN") -> str | None:
    """The number in `text` as E.164 (e.g. "+8613812345678"), or None if it is not valid."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if len(cleaned) > _MAX_LEN or not _PHONE_CHARS.fullmatch(cleaned):
        return None  # letters would be read as a keypad word: "138abcd5678"
    import phonenumbers  # its metadata on the first number typed, not at every start (issue 15)

    try:
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_phone_list(text: str, region: str = "CN") -> tuple[list[str], list[str]]:
    """Split a list of numbers (";", "/", "," or spaces) into (valid E.164, unreadable pieces).

    A piece separated by ";" "/" "," that reads as one number is kept whole, so
    "138 1234 5678; 139 0000 1111" gives two numbers. Duplicates are dropped, order kept.
    """
    valid: list[str] = []
    bad: list[str] = []
    for chunk in _LIST_SEPARATORS.split(unicodedata.normalize("NFKC", text)):
        for piece, e164 in _read_chunk(chunk, region):
            if e164 is None:
                bad.append(piece)
            elif e164 not in valid:
                valid.append(e164)
    return valid, bad


def _read_chunk(chunk: str, region: str) -> list[tuple[str, str | None]]:
    """The chunk as one number if it reads as one, else each space-separated piece."""
    chunk = chunk.strip()
    if not chunk:
        return []
    whole = parse_phone(chunk, region)
    if whole is not None:
        return [(chunk, whole)]
    return [(piece, parse_phone(piece, region)) for piece in chunk.split()]


def unit_phones(unit: Unit) -> list[str]:
    """The E.164 numbers on file for a unit."""
    return unit.phones.split()


def phone_matches(unit: Unit, e164: str) -> bool:
    """True when `e164` (or anything parse_phone reads the same) is on file for the unit."""
    wanted = parse_phone(e164) or e164.strip()
    return bool(wanted) and wanted in unit_phones(unit)
