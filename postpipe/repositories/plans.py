"""Plans and their prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from postpipe.billing.catalog import PLAN_CATALOG
from postpipe.models import Plan, PlanPrice


class UnknownPlanError(LookupError):
    pass


def ensure_catalog(session: Session, catalog: tuple[dict[str, Any], ...] = PLAN_CATALOG) -> list[str]:
    """Make the plans table hold the catalog (insert or update; prices replaced). Returns the plan ids."""
    for spec in catalog:
        plan = session.get(Plan, spec["id"]) or Plan(id=spec["id"])
        plan.name, plan.currency = spec["name"], spec["currency"]
        plan.base_fee, plan.account_metering = Decimal(spec["base_fee"]), spec["account_metering"]
        session.add(plan)
        session.flush()
        session.execute(delete(PlanPrice).where(PlanPrice.plan_id == plan.id))
        for price in spec["prices"]:
            session.add(
                PlanPrice(
                    plan_id=plan.id,
                    metric=price["metric"],
                    model=price["model"],
                    unit_price=Decimal(price.get("unit_price", "0")),
                    included_quantity=Decimal(price.get("included_quantity", "0")),
                    tiers=[{"up_to": t["up_to"], "unit_price": str(t["unit_price"])} for t in price.get("tiers", [])],
                )
            )
    session.flush()
    return [spec["id"] for spec in catalog]


def plan_exists(session: Session, plan_id: str) -> bool:
    return session.get(Plan, plan_id) is not None


def plan_as_dict(session: Session, plan_id: str) -> dict[str, Any]:
    """A JSON-ready copy of a plan and its prices (what an invoice stores as 'the plan as billed')."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise UnknownPlanError(f"unknown plan {plan_id!r}")
    prices = session.scalars(select(PlanPrice).where(PlanPrice.plan_id == plan_id).order_by(PlanPrice.metric))
    return {
        "id": plan.id,
        "name": plan.name,
        "currency": plan.currency,
        "base_fee": str(plan.base_fee),
        "account_metering": plan.account_metering,
        "prices": [
            {
                "metric": p.metric,
                "model": p.model,
                "unit_price": str(p.unit_price),
                "included_quantity": str(p.included_quantity),
                "tiers": p.tiers,
            }
            for p in prices
        ],
    }


def plan_ids(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(select(Plan.id)))
