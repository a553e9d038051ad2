"""The plans postpipe sells, as data. ``postpipe db upgrade`` makes the database hold exactly these."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

D = Decimal

PLAN_CATALOG: tuple[dict[str, Any], ...] = (
    {
        "id": "starter",
        "name": "Starter",
        "currency": "USD",
        "base_fee": D("29.00"),
        "account_metering": "peak",
        "prices": [
            {"metric": "published_posts", "model": "per_unit", "unit_price": D("0.05"), "included_quantity": D("100")},
            {"metric": "connected_accounts", "model": "per_unit", "unit_price": D("4.00"), "included_quantity": D("3")},
            {"metric": "seats", "model": "per_unit", "unit_price": D("9.00"), "included_quantity": D("2")},
        ],
    },
    {
        "id": "growth",
        "name": "Growth",
        "currency": "EUR",
        "base_fee": D("99.00"),
        "account_metering": "prorated",
        "prices": [
            {
                "metric": "published_posts",
                "model": "graduated",
                "tiers": [
                    {"up_to": 500, "unit_price": "0.00"},
                    {"up_to": 2000, "unit_price": "0.04"},
                    {"up_to": None, "unit_price": "0.025"},
                ],
            },
            {
                "metric": "connected_accounts",
                "model": "graduated",
                "tiers": [
                    {"up_to": 10, "unit_price": "3.50"},
                    {"up_to": None, "unit_price": "2.00"},
                ],
            },
            {"metric": "seats", "model": "per_unit", "unit_price": D("7.50"), "included_quantity": D("5")},
        ],
    },
    {
        "id": "agency",
        "name": "Agency (flat)",
        "currency": "GBP",
        "base_fee": D("499.00"),
        "account_metering": "peak",
        "prices": [],
    },
)

PLAN_IDS: frozenset[str] = frozenset(plan["id"] for plan in PLAN_CATALOG)
