"""The managers' digest chart in Chinese (issue 11.12): with a CJK font installed (CI and
bin/run install fonts-noto-cjk) the chart is drawn in Chinese with that font, no glyph missing."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest

from scheduler.digest import CJK_FONTS, cjk_font, digest_chart
from store.db import Database
from store.reports import daily_figures
from tests.test_reports_daily import DAY, NOW, TZ, db  # noqa: F401  (fixture)


def test_chinese_chart_uses_a_cjk_font(db: Database) -> None:  # noqa: F811
    """Every label of the zh chart is drawn by a font that has the glyphs (matplotlib warns
    "Glyph … missing from font" otherwise, and the labels would be empty boxes)."""
    font = cjk_font()
    if font is None:
        pytest.skip(
            "no CJK font installed on this machine (apt-get install fonts-noto-cjk; .ci/run and "
            "bin/run install it)"
        )
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    assert font in CJK_FONTS
    wanted = font_manager.FontProperties(family=font)
    path = font_manager.findfont(wanted, fallback_to_default=False)
    face = FT2Font(path)
    assert all(face.get_char_index(ord(c)) for c in "新完成水路管道")
    with db.unit_of_work() as uow:
        figures = daily_figures(uow.session, DAY, TZ, now=NOW)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = digest_chart(figures, "zh")
    assert png.startswith(b"\x89PNG")
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_a_chinese_chart_of_a_day_without_orders_has_its_line_in_chinese(
    db: Database,  # noqa: F811
) -> None:
    """The empty chart's "没有工单" line is drawn with the CJK font too (it was drawn in the
    default font: four empty boxes)."""
    if cjk_font() is None:
        pytest.skip("no CJK font installed on this machine (apt-get install fonts-noto-cjk)")
    with db.unit_of_work() as uow:
        empty = replace(daily_figures(uow.session, DAY, TZ, now=NOW), categories=())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = digest_chart(empty, "zh")
    assert png.startswith(b"\x89PNG")
    assert not [w for w in caught if "missing from font" in str(w.message)]
