"""Business hours (store.hours): spans counted only while the desk is open."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from store.hours import BusinessHours

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = BusinessHours(time(8, 0), time(18, 0), SHANGHAI)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A local moment in November 2026 (the 23rd is a Monday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def test_inside_the_day() -> None:
    assert HOURS.add(at(23, 9, 30), timedelta(minutes=30)) == at(23, 10, 0)


def test_carries_over_to_the_next_morning() -> None:
    assert HOURS.add(at(23, 17, 50), timedelta(minutes=30)) == at(24, 8, 20)
    assert HOURS.add(at(23, 16, 0), timedelta(hours=4)) == at(24, 10, 0)


def test_starting_at_night_waits_for_opening() -> None:
    assert HOURS.add(at(23, 20, 0), timedelta(hours=4)) == at(24, 12, 0)
    assert HOURS.add(at(24, 6, 0), timedelta(minutes=30)) == at(24, 8, 30)


def test_round_trip_through_timer_data() -> None:
    assert BusinessHours.from_data(HOURS.to_data()) == HOURS
    assert BusinessHours.from_data(["x", "18:00", "Asia/Shanghai"]) is None
    assert BusinessHours.from_data(None) is None


@given(
    st.integers(min_value=0, max_value=7 * 24 * 60),
    st.integers(min_value=1, max_value=3 * 10 * 60),
)
def test_result_is_in_business_hours_and_never_early(start_min: int, span_min: int) -> None:
    """Whatever the start and span: the end falls inside opening hours and is never earlier
    than the plain sum."""
    start = at(23, 0) + timedelta(minutes=start_min)
    end = HOURS.add(start, timedelta(minutes=span_min))
    assert end >= start + timedelta(minutes=span_min)
    assert time(8, 0) <= end.astimezone(SHANGHAI).time() <= time(18, 0)
