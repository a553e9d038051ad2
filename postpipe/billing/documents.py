"""Invoice documents: what the templates see, and the HTML and plain-text renderings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from postpipe.billing.periods import PeriodBounds, zone_info
from postpipe.billing.pricing import format_quantity
from postpipe.billing.usage import Usage
from postpipe.templates import DEFAULT_LOCALE, environment

HTML_TEMPLATE = "invoice.html"
TEXT_TEMPLATE = "invoice.txt"


@dataclass(frozen=True)
class DocumentLine:
    position: int
    kind: str
    description: str
    quantity: Decimal
    unit_price: Decimal | None
    amount: Decimal


@dataclass(frozen=True)
class InvoiceDocument:
    number: int
    period: str
    tenant_name: str
    tenant_slug: str
    time_zone: str
    period_start_local: str
    period_end_local: str
    plan_name: str
    currency: str
    issued_on: str
    lines: tuple[DocumentLine, ...]
    total: Decimal
    usage_rows: tuple[tuple[str, str], ...]
    locale: str = DEFAULT_LOCALE


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str


def local_period_labels(bounds: PeriodBounds, time_zone: str) -> tuple[str, str]:
    """First and last local day of the period, ISO dates."""
    zone = zone_info(time_zone)
    first = bounds.start.astimezone(zone).date()
    last = (bounds.end.astimezone(zone) - timedelta(microseconds=1)).date()
    return first.isoformat(), last.isoformat()


def usage_rows(usage: Usage) -> tuple[tuple[str, str], ...]:
    accounts = (
        f"{format_quantity(usage.account_days)} account-days = {format_quantity(usage.account_months)} account-months "
        f"(prorated; peak {usage.peak_accounts})"
        if usage.account_metering == "prorated"
        else f"{usage.peak_accounts} at peak"
    )
    return (
        ("Published posts (platform deliveries)", format_quantity(usage.published_posts)),
        ("Connected accounts", accounts),
        ("Team seats", f"{usage.seats} at peak"),
    )


def issued_label(at: datetime | date) -> str:
    return (at.date() if isinstance(at, datetime) else at).isoformat()


def render(doc: InvoiceDocument) -> Rendered:
    env = environment()
    return Rendered(
        html=env.get_template(HTML_TEMPLATE).render(doc=doc),
        text=env.get_template(TEXT_TEMPLATE).render(doc=doc),
    )
