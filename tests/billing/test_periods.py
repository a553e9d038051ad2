"""Billing periods: local months converted to UTC, DST included; the ``period`` parameter validated."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from postpipe.billing.periods import PeriodFormatError, TimeZoneError, parse_period, resolve_period


def test_bounds_are_local_midnight_of_the_first_in_utc() -> None:
    la = parse_period("2026-09").bounds("America/Los_Angeles")  # PDT, UTC-7
    assert (la.start, la.end) == (datetime(2026, 9, 1, 7, tzinfo=UTC), datetime(2026, 10, 1, 7, tzinfo=UTC))
    tokyo = parse_period("2026-09").bounds("Asia/Tokyo")  # UTC+9, no DST
    assert (tokyo.start, tokyo.end) == (datetime(2026, 8, 31, 15, tzinfo=UTC), datetime(2026, 9, 30, 15, tzinfo=UTC))


def test_a_month_with_a_dst_change_is_an_hour_longer_or_shorter() -> None:
    november = parse_period("2026-11").bounds("America/Los_Angeles")  # PDT -> PST on Nov 1
    assert (november.start, november.end) == (datetime(2026, 11, 1, 7, tzinfo=UTC), datetime(2026, 12, 1, 8, tzinfo=UTC))
    assert november.days == Decimal(30) + Decimal(1) / Decimal(24)
    march = parse_period("2026-03").bounds("Europe/Paris")  # CET -> CEST on Mar 29
    assert march.days == Decimal(31) - Decimal(1) / Decimal(24)


def test_december_rolls_over_to_the_next_year() -> None:
    period = parse_period("2026-12")
    assert str(period.next) == "2027-01" and str(period.previous) == "2026-11"
    assert period.bounds("UTC").end == datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["2026-13", "2026-9", "26-09", "2026/09", "", "2026-00", "september"])
def test_bad_periods_are_refused_naming_the_parameter(bad: str) -> None:
    with pytest.raises(PeriodFormatError, match="period: expected YYYY-MM"):
        parse_period(bad)


def test_default_period_is_the_previous_month_in_utc() -> None:
    assert str(resolve_period(None, now=datetime(2026, 10, 1, 0, 30, tzinfo=UTC))) == "2026-09"
    assert str(resolve_period(None, now=datetime(2027, 1, 15, tzinfo=UTC))) == "2026-12"
    assert str(resolve_period("2026-05")) == "2026-05"


def test_unknown_time_zone_is_named() -> None:
    with pytest.raises(TimeZoneError, match="Mars/Olympus"):
        parse_period("2026-09").bounds("Mars/Olympus")
