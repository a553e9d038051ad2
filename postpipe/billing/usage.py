"""What a tenant used in a period, as metered from Postgres, and how it is stored on an invoice."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

METRICS: tuple[str, ...] = ("published_posts", "connected_accounts", "seats")
METRIC_LABELS: dict[str, str] = {
    "published_posts": "Published posts",
    "connected_accounts": "Connected accounts",
    "seats": "Team seats",
}
QUANTITY_PLACES = Decimal("0.0001")


def quantize_quantity(value: Decimal) -> Decimal:
    return value.quantize(QUANTITY_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Usage:
    """Metered facts of one tenant and period.

    ``account_days`` is the sum of connection overlaps in days (4 decimals); ``account_months`` is that
    divided by the period's length in days, i.e. the prorated number of accounts billed for the month.
    """

    published_posts: int = 0
    seats: int = 0
    peak_accounts: int = 0
    account_days: Decimal = Decimal("0.0000")
    account_months: Decimal = Decimal("0.0000")
    account_metering: str = "peak"

    def quantity(self, metric: str) -> Decimal:
        """The billed quantity of ``metric`` (connected accounts follow the plan's account_metering)."""
        if metric == "published_posts":
            return Decimal(self.published_posts)
        if metric == "seats":
            return Decimal(self.seats)
        if metric == "connected_accounts":
            return self.account_months if self.account_metering == "prorated" else Decimal(self.peak_accounts)
        raise ValueError(f"metric: unknown metric {metric!r}")

    def as_json(self) -> dict[str, Any]:
        return {
            "published_posts": self.published_posts,
            "seats": self.seats,
            "peak_accounts": self.peak_accounts,
            "account_days": str(self.account_days),
            "account_months": str(self.account_months),
            "account_metering": self.account_metering,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Usage:
        return cls(
            published_posts=int(data.get("published_posts", 0)),
            seats=int(data.get("seats", 0)),
            peak_accounts=int(data.get("peak_accounts", 0)),
            account_days=Decimal(str(data.get("account_days", "0"))),
            account_months=Decimal(str(data.get("account_months", "0"))),
            account_metering=str(data.get("account_metering", "peak")),
        )
