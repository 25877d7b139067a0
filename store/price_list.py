"""The paid-service price list (有偿服务收费标准): import from CSV or YAML, browse by category.

Prices are given in yuan ("35", "35.50") and stored as integer fen (3550); "on_site",
"现场报价", "面议" or an empty price mean the item is quoted on site (R5) and stored as None.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.imports import (
    CsvRow,
    FileProblem,
    ImportReport,
    duplicates,
    load_by_code,
    read_csv,
    read_text,
    upsert,
)
from store.models import PriceItem

if TYPE_CHECKING:  # PyYAML is imported by the YAML import alone, not at every start (issue 15)
    import yaml

#: the fixed category keys, in the order they are shown to owners
CATEGORIES = (
    "plumbing",
    "electrical",
    "doors_windows",
    "walls_floors",
    "appliances",
    "cleaning",
    "greening",
    "office",
)
# paid services (特约服务: callbacks sampled, R23); every other category is a repair (维修, R20)
SERVICE_CATEGORIES: frozenset[str] = frozenset({"cleaning", "greening", "office"})
FIELDS = ("code", "category", "name_zh", "name_en", "unit", "price")
MAX_PRICE_FEN = 100_000 * 100
ON_SITE_WORDS = frozenset({"", "on_site", "on site", "onsite", "现场报价", "面议"})


def is_service(category: str) -> bool:
    """Whether a category is a paid service (cleaning, greening, office) rather than a repair."""
    return category in SERVICE_CATEGORIES


_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,19}")
_YUAN = re.compile(r"(\d+)(?:\.(\d+))?")
_YAML_NULLS = frozenset({"~", "null", "Null", "NULL"})
_LIMITS = {"name_zh": 100, "name_en": 100, "unit": 20}
_RANK: Mapping[str, int] = {c: i for i, c in enumerate(CATEGORIES)}


class PriceError(ValueError):
    """A price that cannot be read; the message says why."""


def price_to_fen(text: str) -> int | None:
    """Yuan text ("35", "35.50", "¥35元") as fen; None for on-site; PriceError if unreadable."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if cleaned.lower() in ON_SITE_WORDS:
        return None
    cleaned = cleaned.removeprefix("¥").removesuffix("元").strip()
    if cleaned.startswith("-"):
        raise PriceError(f"negative price {text!r}")
    match = _YUAN.fullmatch(cleaned)
    if match is None:
        raise PriceError(f"price {text!r} is not a number of yuan like 35 or 35.50 or on_site")
    whole, decimals = match.group(1), (match.group(2) or "").rstrip("0")
    if len(decimals) > 2:
        raise PriceError(f"price {text!r} has more than 2 decimals")
    fen = int(whole) * 100 + int(decimals.ljust(2, "0"))
    if fen > MAX_PRICE_FEN:
        raise PriceError(f"price {text!r} is over {MAX_PRICE_FEN // 100} yuan")
    return fen


def import_prices(session: Session, path: Path) -> ImportReport:
    """Import the price list from .csv or .yaml/.yml: all rows or none.

    Items are matched by code: new ones are added, changed ones updated (and made active
    again if they had been withdrawn). Items in the database but not in the file are left
    alone: withdraw an item by marking it inactive, not by leaving it out. For YAML (a list of
    mappings, or a mapping with an ``items`` list) errors carry each entry's real line number.
    The caller commits.
    """
    report = ImportReport()
    records = _read_prices(path, report)
    if report.ok:
        existing = load_by_code(session, PriceItem, PriceItem.code, list(records))
        upsert(session, records, existing, lambda code: PriceItem(code=code), report)
    report.errors.sort(key=lambda e: e.line)
    return report


def _read_prices(path: Path, report: ImportReport) -> dict[str, dict[str, object]]:
    try:
        text = read_text(path)
        if path.suffix.lower() in (".yaml", ".yml"):
            rows = _yaml_rows(text, report)
        else:
            rows = read_csv(text, FIELDS, report)
    except FileProblem as exc:
        report.error(exc.line, exc.reason, exc.kind)
        return {}
    parsed = [(row.line, rec) for row in rows if (rec := _price_record(row, report))]
    duplicates(((code, line) for line, (code, _) in parsed), "code", report)
    return {code: values for _, (code, values) in parsed}


def _yaml_rows(text: str, report: ImportReport) -> list[CsvRow]:
    """The entries of a YAML price list as rows (all values as text), with their line numbers."""
    import yaml

    loader = yaml.BaseLoader(text)  # every scalar stays text: no 1.1 surprises ("no" → False)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise _yaml_problem(exc) from exc
    finally:
        loader.dispose()
    nodes = _entry_nodes(node, data)
    if nodes is None:
        raise FileProblem(
            1, "expected a list of price items (or a mapping with an 'items' list)", "syntax"
        )
    rows = [_yaml_row(n, entry, report) for n, entry in nodes]
    return [r for r in rows if r is not None]


def _yaml_problem(exc: yaml.YAMLError) -> FileProblem:
    """A one-line reason and the line of a YAML syntax error."""
    mark = getattr(exc, "problem_mark", None)
    what = " ".join(
        str(x) for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x
    )
    return FileProblem(mark.line + 1 if mark else 1, f"YAML syntax error: {what or exc}", "syntax")


def _entry_nodes(node: yaml.Node | None, data: object) -> list[tuple[yaml.Node, object]] | None:
    import yaml

    if isinstance(node, yaml.MappingNode) and isinstance(data, dict) and "items" in data:
        node = next(v for k, v in node.value if k.value == "items")
        data = data["items"]
    if isinstance(node, yaml.SequenceNode) and isinstance(data, list):
        return list(zip(node.value, data, strict=True))
    return None


def _yaml_row(node: yaml.Node, entry: object, report: ImportReport) -> CsvRow | None:
    line = node.start_mark.line + 1
    if not isinstance(entry, dict):
        report.error(line, "entry is not a mapping of code, category, name_zh, ...")
        return None
    cells: dict[str, str] = {}
    for key, value in entry.items():
        if not isinstance(value, str):
            report.error(line, f"{key} must be a single value")
            return None
        cells[str(key).strip().lower()] = "" if value in _YAML_NULLS else value.strip()
    return CsvRow(line, cells)


def _price_record(row: CsvRow, report: ImportReport) -> tuple[str, dict[str, object]] | None:
    """The code and column values of one price row, or None after reporting what is wrong."""
    errors = len(report.errors)
    code = _code(row, report)
    category = _category(row, report)
    texts = {name: _text(row, name, report) for name in _LIMITS}
    price = _price(row, report)
    if price is not None and not texts["unit"]:
        report.error(row.line, "missing unit (needed when a price is given)")
    if len(report.errors) > errors or code is None or category is None:
        return None
    values: dict[str, object] = {"category": category, **texts, "price_fen": price, "active": True}
    return code, values


def _code(row: CsvRow, report: ImportReport) -> str | None:
    raw = row.cells.get("code", "")
    code = unicodedata.normalize("NFKC", raw).strip().upper()
    if not code:
        report.error(row.line, "missing code")
        return None
    if not _CODE.fullmatch(code):
        report.error(row.line, f"bad code {raw!r}: letters, digits, '-' or '_', at most 20")
        return None
    return code


def _category(row: CsvRow, report: ImportReport) -> str | None:
    raw = row.cells.get("category", "")
    category = raw.strip().lower()
    if not category:
        report.error(row.line, "missing category")
        return None
    if category not in CATEGORIES:
        report.error(row.line, f"unknown category {raw!r}: use one of {', '.join(CATEGORIES)}")
        return None
    return category


def _text(row: CsvRow, name: str, report: ImportReport) -> str:
    value = " ".join(row.cells.get(name, "").split())
    if not value and name != "unit":
        report.error(row.line, f"missing {name}")
    elif len(value) > _LIMITS[name]:
        report.error(row.line, f"{name} longer than {_LIMITS[name]} characters")
    return value


def _price(row: CsvRow, report: ImportReport) -> int | None:
    try:
        return price_to_fen(row.cells.get("price", ""))
    except PriceError as exc:
        report.error(row.line, str(exc))
        return None


def categories(session: Session) -> list[str]:
    """The categories that have active items, in the fixed CATEGORIES order."""
    query = select(PriceItem.category).where(PriceItem.active.is_(True)).distinct()
    found = set(session.scalars(query))
    return sorted(found, key=_category_rank)


def _category_rank(category: str) -> tuple[int, str]:
    return (_RANK.get(category, len(CATEGORIES)), category)


def items_in(session: Session, category: str) -> list[PriceItem]:
    """The active items of a category, by code."""
    query = (
        select(PriceItem)
        .where(PriceItem.category == category, PriceItem.active.is_(True))
        .order_by(PriceItem.code)
    )
    return list(session.scalars(query))
