"""Billing periods: a calendar month ``YYYY-MM`` in a tenant's own time zone.

A period starts at local midnight of the 1st and ends at local midnight of the next 1st; both are
converted to UTC with ``zoneinfo``, so a month that crosses a DST change is 1 hour shorter or longer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
ONE_DAY = timedelta(days=1)


class PeriodFormatError(ValueError):
    """A billing period that is not ``YYYY-MM``."""


class TimeZoneError(ValueError):
    """A tenant time zone that zoneinfo does not know."""


@dataclass(frozen=True)
class Period:
    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def previous(self) -> Period:
        return Period(self.year - 1, 12) if self.month == 1 else Period(self.year, self.month - 1)

    @property
    def next(self) -> Period:
        return Period(self.year + 1, 1) if self.month == 12 else Period(self.year, self.month + 1)

    def bounds(self, time_zone: str) -> PeriodBounds:
        """The period in ``time_zone`` as a half-open UTC interval [start, end)."""
        zone = zone_info(time_zone)
        start = datetime(self.year, self.month, 1, tzinfo=zone).astimezone(UTC)
        following = self.next
        end = datetime(following.year, following.month, 1, tzinfo=zone).astimezone(UTC)
        return PeriodBounds(start, end)


@dataclass(frozen=True)
class PeriodBounds:
    start: datetime
    end: datetime

    @property
    def days(self) -> Decimal:
        """Length in days, exact (a DST month is 30.9583… or 31.0416… days long)."""
        return Decimal((self.end - self.start) // timedelta(microseconds=1)) / Decimal(ONE_DAY // timedelta(microseconds=1))


def parse_period(value: str) -> Period:
    """``YYYY-MM`` → Period; anything else raises PeriodFormatError naming the ``period`` parameter."""
    match = _PERIOD.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise PeriodFormatError(f"period: expected YYYY-MM (for example 2026-09), got {value!r}")
    return Period(int(match.group(1)), int(match.group(2)))


def previous_period(now: datetime | None = None) -> Period:
    """The calendar month before the one that contains ``now`` (UTC)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return Period(now.year, now.month).previous


def current_period(now: datetime | None = None, time_zone: str = "UTC") -> Period:
    """The month that contains ``now`` in ``time_zone``."""
    local = (now or datetime.now(UTC)).astimezone(zone_info(time_zone))
    return Period(local.year, local.month)


def resolve_period(value: str | None, now: datetime | None = None) -> Period:
    """A flow's ``period`` parameter: None means the previous month (relative to UTC now)."""
    return previous_period(now) if value is None else parse_period(value)


def zone_info(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimeZoneError(f"time_zone: {time_zone!r} is not a known IANA time zone") from exc
