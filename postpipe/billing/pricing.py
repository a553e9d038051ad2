"""Pricing: a plan turns metered usage into invoice lines, in Decimal, each line rounded half-up to the cent.

A plan (as stored on an invoice by ``plans.plan_as_dict``) has a currency, a base fee and, per metric, either
- ``per_unit``: ``unit_price`` for every unit above ``included_quantity``; or
- ``graduated``: tiers ``[{"up_to": N | None, "unit_price": "0.04"}, ...]`` with cumulative thresholds, like
  Stripe's graduated pricing: units 1..N1 at the first price, N1+1..N2 at the second, and so on.
A plan with no prices is flat: the base fee only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from postpipe.billing.usage import METRIC_LABELS, METRICS, Usage

CENT = Decimal("0.01")


class PlanDefinitionError(ValueError):
    """A plan whose prices cannot be evaluated (bad model, unordered tiers, negative price)."""


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_quantity(value: Decimal | int) -> str:
    """``20`` for whole numbers, ``1.5167`` otherwise (never scientific notation)."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize():,f}"


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None
    unit_price: Decimal


@dataclass(frozen=True)
class MetricPrice:
    metric: str
    model: str
    unit_price: Decimal
    included_quantity: Decimal
    tiers: tuple[Tier, ...]


@dataclass(frozen=True)
class PlanSpec:
    id: str
    name: str
    currency: str
    base_fee: Decimal
    account_metering: str
    prices: tuple[MetricPrice, ...]

    @property
    def is_flat(self) -> bool:
        return not self.prices

    def price_for(self, metric: str) -> MetricPrice | None:
        return next((p for p in self.prices if p.metric == metric), None)


@dataclass(frozen=True)
class PricedLine:
    """One invoice line before it is numbered: ``amount`` is already rounded to the cent."""

    kind: str  # base | usage | adjustment
    metric: str | None
    description: str
    quantity: Decimal
    unit_price: Decimal | None
    amount: Decimal
    adjusts_period: str | None = None


def _decimal(value: Any, field: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except ArithmeticError as exc:
        raise PlanDefinitionError(f"{field}: {value!r} is not a number") from exc
    if not result.is_finite() or result < 0:
        raise PlanDefinitionError(f"{field}: {value!r} must be a non-negative number")
    return result


def plan_from_dict(data: dict[str, Any]) -> PlanSpec:
    """A PlanSpec from ``plans.plan_as_dict`` output (also what invoices store as the plan as billed)."""
    prices = []
    for raw in data.get("prices", []):
        metric, model = raw["metric"], raw["model"]
        if metric not in METRICS:
            raise PlanDefinitionError(f"prices.metric: unknown metric {metric!r}")
        if model not in ("per_unit", "graduated"):
            raise PlanDefinitionError(f"prices.model: {model!r} is not per_unit or graduated")
        tiers = tuple(
            Tier(
                None if t.get("up_to") is None else _decimal(t["up_to"], f"{metric}.tiers.up_to"),
                _decimal(t["unit_price"], f"{metric}.tiers.unit_price"),
            )
            for t in raw.get("tiers") or []
        )
        if model == "graduated":
            _check_tiers(metric, tiers)
        prices.append(
            MetricPrice(
                metric=metric,
                model=model,
                unit_price=_decimal(raw.get("unit_price", "0"), f"{metric}.unit_price"),
                included_quantity=_decimal(raw.get("included_quantity", "0"), f"{metric}.included_quantity"),
                tiers=tiers,
            )
        )
    prices.sort(key=lambda p: METRICS.index(p.metric))
    return PlanSpec(
        id=data["id"],
        name=data["name"],
        currency=data["currency"],
        base_fee=_decimal(data.get("base_fee", "0"), "base_fee"),
        account_metering=data.get("account_metering", "peak"),
        prices=tuple(prices),
    )


def _check_tiers(metric: str, tiers: tuple[Tier, ...]) -> None:
    if not tiers:
        raise PlanDefinitionError(f"{metric}.tiers: a graduated price needs at least one tier")
    if tiers[-1].up_to is not None:
        raise PlanDefinitionError(f"{metric}.tiers: the last tier must have up_to null (no upper bound)")
    bounds = [t.up_to for t in tiers[:-1]]
    if any(b is None for b in bounds) or any(b2 <= b1 for b1, b2 in zip(bounds, bounds[1:])):  # type: ignore[operator]
        raise PlanDefinitionError(f"{metric}.tiers: up_to must be strictly ascending, only the last one null")


def price_metric(price: MetricPrice, quantity: Decimal, currency: str) -> list[PricedLine]:
    """The lines one metric costs at ``quantity`` (never empty: a zero line says what was included)."""
    label = METRIC_LABELS[price.metric]
    if price.model == "per_unit":
        billable = max(Decimal(0), quantity - price.included_quantity)
        description = (
            f"{label}: {format_quantity(quantity)} used, {format_quantity(price.included_quantity)} included"
            if price.included_quantity
            else f"{label}: {format_quantity(quantity)} used"
        )
        return [PricedLine("usage", price.metric, description, billable, price.unit_price,
                           to_cents(billable * price.unit_price))]
    lines: list[PricedLine] = []
    lower = Decimal(0)
    for tier in price.tiers:
        upper = tier.up_to
        in_tier = max(Decimal(0), (quantity if upper is None else min(quantity, upper)) - lower)
        if in_tier > 0 or not lines and (upper is None or quantity <= upper):  # at least one line, even for 0
            lines.append(PricedLine("usage", price.metric, f"{label} ({_tier_span(lower, upper)})", in_tier,
                                    tier.unit_price, to_cents(in_tier * tier.unit_price)))
        if upper is None or quantity <= upper:
            break
        lower = upper
    return lines


def _tier_span(lower: Decimal, upper: Decimal | None) -> str:
    if upper is None:
        return f"above {format_quantity(lower)}" if lower else "all units"
    if lower == 0:
        return f"first {format_quantity(upper)}"
    return f"over {format_quantity(lower)} up to {format_quantity(upper)}"


def metric_amount(plan: PlanSpec, metric: str, quantity: Decimal) -> Decimal:
    """What ``quantity`` of ``metric`` costs on ``plan`` (sum of its rounded lines); 0 if unpriced."""
    price = plan.price_for(metric)
    if price is None:
        return Decimal("0.00")
    return sum((line.amount for line in price_metric(price, quantity, plan.currency)), Decimal("0.00"))


def price_usage(plan: PlanSpec, usage: Usage) -> list[PricedLine]:
    """Base fee, then one or more lines per priced metric, in METRICS order."""
    lines = [
        PricedLine("base", None, f"{plan.name} plan, monthly base fee", Decimal(1), plan.base_fee,
                   to_cents(plan.base_fee))
    ]
    for price in plan.prices:
        lines.extend(price_metric(price, usage.quantity(price.metric), plan.currency))
    return lines


_ADJUSTMENT_NOUNS = {
    "published_posts": ("published post", "published posts", "delivered after invoicing"),
    "seats": ("team seat", "team seats", "more at peak than invoiced"),
}


def adjustment_lines(plan: PlanSpec, period: str, invoiced: Usage, remetered: Usage) -> list[PricedLine]:
    """Lines that bill the difference between what a finalized invoice charged and a re-metering of its period.

    For each priced metric whose quantity changed: amount = price(new total) - price(old total).
    """
    lines = []
    for price in plan.prices:
        old, new = invoiced.quantity(price.metric), remetered.quantity(price.metric)
        if old == new:
            continue
        difference = new - old
        amount = metric_amount(plan, price.metric, new) - metric_amount(plan, price.metric, old)
        lines.append(
            PricedLine(
                "adjustment",
                price.metric,
                f"Adjustment for {period}: {_describe_change(price.metric, difference, plan)}",
                difference,
                None,
                amount,
                adjusts_period=period,
            )
        )
    return lines


def _describe_change(metric: str, difference: Decimal, plan: PlanSpec) -> str:
    if metric in _ADJUSTMENT_NOUNS and difference > 0:
        singular, plural, why = _ADJUSTMENT_NOUNS[metric]
        return f"{format_quantity(difference)} {singular if difference == 1 else plural} {why}"
    unit = "account-months" if metric == "connected_accounts" and plan.account_metering == "prorated" else "units"
    label = METRIC_LABELS[metric].lower()
    sign = "+" if difference > 0 else "-"
    return f"{label} changed after invoicing by {sign}{format_quantity(abs(difference))} {unit}"
