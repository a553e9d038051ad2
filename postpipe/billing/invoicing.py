"""Monthly invoicing: meter every tenant, price, assemble, render, number and store, exactly once.

``prepare`` reads (a few set-based queries for all tenants) and computes in memory; ``issue_batch`` writes one
batch in one transaction: lock the counter, skip tenants already invoiced, number, render, insert, finalize.
Callers open the sessions (tasks, the benchmark); nothing here commits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from postpipe.billing.documents import (
    DocumentLine,
    InvoiceDocument,
    issued_label,
    local_period_labels,
    render,
    usage_rows,
)
from postpipe.billing.periods import ONE_DAY, Period, PeriodBounds, TimeZoneError
from postpipe.billing.pricing import (
    PlanDefinitionError,
    PricedLine,
    adjustment_lines,
    plan_from_dict,
    price_usage,
)
from postpipe.billing.usage import Usage, quantize_quantity
from postpipe.models import utcnow
from postpipe.repositories import invoices, metering, plans
from postpipe.repositories.invoices import LineRecord, NewInvoice
from postpipe.repositories.metering import BillableTenant, MeteredTenant

log = logging.getLogger(__name__)
MICROSECOND = timedelta(microseconds=1)
MICROSECONDS_PER_DAY = Decimal(ONE_DAY // MICROSECOND)


@dataclass(frozen=True)
class PreparedInvoice:
    """One tenant's invoice, computed but not yet numbered or stored."""

    tenant: BillableTenant
    period: str
    bounds: PeriodBounds
    plan: dict[str, Any]
    usage: Usage
    lines: tuple[PricedLine, ...]

    @property
    def currency(self) -> str:
        return str(self.plan["currency"])

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class SkippedTenant:
    tenant_id: uuid.UUID | None
    slug: str
    reason: str


@dataclass
class PreparedRun:
    period: str
    invoices: list[PreparedInvoice] = field(default_factory=list)
    skipped: list[SkippedTenant] = field(default_factory=list)


@dataclass(frozen=True)
class IssueOutcome:
    tenant_id: uuid.UUID
    tenant_slug: str
    number: int
    currency: str
    total: Decimal
    outcome: str  # issued | already-invoiced | draft-finalized


def bounds_by_zone(zones: Iterable[str], period: Period) -> tuple[dict[str, PeriodBounds], dict[str, str]]:
    """Period bounds for each time zone; zones zoneinfo does not know are returned with the error."""
    good: dict[str, PeriodBounds] = {}
    bad: dict[str, str] = {}
    for zone in zones:
        try:
            good[zone] = period.bounds(zone)
        except TimeZoneError as exc:
            bad[zone] = str(exc)
    return good, bad


def _as_tuples(bounds: dict[str, PeriodBounds]) -> dict[str, tuple[datetime, datetime]]:
    return {zone: (b.start, b.end) for zone, b in bounds.items()}


def usage_from_metering(raw: MeteredTenant | None, bounds: PeriodBounds, account_metering: str) -> Usage:
    """Usage of one tenant from the raw metered numbers (account-days and prorated months exact, then rounded)."""
    raw = raw or MeteredTenant(tenant_id=uuid.UUID(int=0))
    micros = Decimal(raw.account_microseconds)
    period_micros = Decimal((bounds.end - bounds.start) // MICROSECOND)
    return Usage(
        published_posts=raw.published_posts,
        seats=raw.peak_seats,
        peak_accounts=raw.peak_accounts,
        account_days=quantize_quantity(micros / MICROSECONDS_PER_DAY),
        account_months=quantize_quantity(micros / period_micros) if period_micros else Decimal("0.0000"),
        account_metering=account_metering,
    )


def meter_tenants(
    session: Session, period: Period, *, until: datetime | None = None
) -> tuple[list[BillableTenant], dict[uuid.UUID, MeteredTenant], dict[str, PeriodBounds], dict[str, str]]:
    """Billable tenants of ``period`` and their raw usage (``until`` cuts the period short: month to date)."""
    bounds, bad_zones = bounds_by_zone(metering.tenant_time_zones(session), period)
    if until is not None:
        bounds = {z: PeriodBounds(b.start, min(b.end, max(until, b.start))) for z, b in bounds.items()}
    if not bounds:
        return [], {}, bounds, bad_zones
    as_tuples = _as_tuples(bounds)
    return metering.billable_tenants(session, as_tuples), metering.meter(session, as_tuples), bounds, bad_zones


def prepare(session: Session, period: Period) -> PreparedRun:
    """Meter, price and assemble every billable tenant's invoice for ``period`` (reads only)."""
    run = PreparedRun(period=str(period))
    tenants, raw, bounds, bad_zones = meter_tenants(session, period)
    for zone, error in bad_zones.items():
        run.skipped.append(SkippedTenant(None, f"(time zone {zone})", error))
    plan_snapshots = {plan_id: plans.plan_as_dict(session, plan_id) for plan_id in {t.plan_id for t in tenants}}
    previous = _previous_period_usage(session, period)
    for tenant in tenants:
        try:
            snapshot = plan_snapshots[tenant.plan_id]
            plan = plan_from_dict(snapshot)
            usage = usage_from_metering(raw.get(tenant.id), bounds[tenant.time_zone], plan.account_metering)
            lines = price_usage(plan, usage)
            if tenant.id in previous:
                invoiced, remetered, previous_plan = previous[tenant.id]
                lines.extend(adjustment_lines(previous_plan, str(period.previous), invoiced, remetered))
        except (PlanDefinitionError, KeyError, ValueError) as exc:
            run.skipped.append(SkippedTenant(tenant.id, tenant.slug, f"{type(exc).__name__}: {exc}"))
            continue
        run.invoices.append(
            PreparedInvoice(tenant, str(period), bounds[tenant.time_zone], snapshot, usage, tuple(lines))
        )
    return run


def _previous_period_usage(session: Session, period: Period) -> dict[uuid.UUID, tuple[Usage, Usage, Any]]:
    """For tenants whose previous period is finalized: (usage as invoiced, usage re-metered now, plan as billed)."""
    previous = period.previous
    stored = invoices.finalized_usage(session, str(previous))
    if not stored:
        return {}
    bounds, _ = bounds_by_zone(metering.tenant_time_zones(session), previous)
    raw = metering.meter(session, _as_tuples(bounds)) if bounds else {}
    zones = metering.tenant_zones(session, list(stored))
    result: dict[uuid.UUID, tuple[Usage, Usage, Any]] = {}
    for tenant_id, (usage_json, plan_json) in stored.items():
        zone = zones.get(tenant_id)
        if zone not in bounds:
            continue
        invoiced = Usage.from_json(usage_json)
        remetered = usage_from_metering(raw.get(tenant_id), bounds[zone], invoiced.account_metering)
        result[tenant_id] = (invoiced, remetered, plan_from_dict(plan_json))
    return result


def document(prepared: PreparedInvoice, number: int, issued_at: datetime) -> InvoiceDocument:
    first, last = local_period_labels(prepared.bounds, prepared.tenant.time_zone)
    return InvoiceDocument(
        number=number,
        period=prepared.period,
        tenant_name=prepared.tenant.name,
        tenant_slug=prepared.tenant.slug,
        time_zone=prepared.tenant.time_zone,
        period_start_local=first,
        period_end_local=last,
        plan_name=str(prepared.plan["name"]),
        currency=prepared.currency,
        issued_on=issued_label(issued_at),
        lines=tuple(
            DocumentLine(i, line.kind, line.description, line.quantity, line.unit_price, line.amount)
            for i, line in enumerate(prepared.lines, start=1)
        ),
        total=prepared.total,
        usage_rows=usage_rows(prepared.usage),
    )


def _record(prepared: PreparedInvoice, invoice_id: uuid.UUID, number: int, issued_at: datetime) -> NewInvoice:
    rendered = render(document(prepared, number, issued_at))
    total = prepared.total
    return NewInvoice(
        id=invoice_id,
        tenant_id=prepared.tenant.id,
        period=prepared.period,
        number=number,
        currency=prepared.currency,
        subtotal=total,
        total=total,
        plan_snapshot=prepared.plan,
        usage=prepared.usage.as_json(),
        html=rendered.html,
        text_body=rendered.text,
        lines=tuple(
            LineRecord(i, line.kind, line.metric, line.description, line.quantity, line.unit_price, line.amount,
                       line.adjusts_period)
            for i, line in enumerate(prepared.lines, start=1)
        ),
    )


def issue_batch(
    session: Session, batch: Sequence[PreparedInvoice], *, issued_at: datetime | None = None
) -> list[IssueOutcome]:
    """Store and finalize a batch in the caller's transaction; already-finalized invoices are left untouched.

    The invoice counter stays locked until the caller commits, so concurrent runs number one after the other,
    and a tenant that another run invoiced meanwhile is seen here and skipped.
    """
    if not batch:
        return []
    issued_at = issued_at or utcnow()
    period = batch[0].period
    if any(p.period != period for p in batch):
        raise ValueError("batch: every invoice of a batch must be for the same period")
    last_number = invoices.lock_counter(session)
    stored = invoices.stored_for_period(session, period, [p.tenant.id for p in batch])
    outcomes: list[IssueOutcome] = []
    new_records: list[NewInvoice] = []
    drafts: list[NewInvoice] = []
    for prepared in batch:
        existing = stored.get(prepared.tenant.id)
        if existing is not None and existing.status == "finalized":
            outcomes.append(IssueOutcome(prepared.tenant.id, prepared.tenant.slug, existing.number,
                                         existing.currency, existing.total, "already-invoiced"))
            continue
        if existing is not None:  # a draft (never ours: we finalize in the same transaction): recompute it
            record = _record(prepared, existing.id, existing.number, issued_at)
            drafts.append(record)
            outcomes.append(IssueOutcome(prepared.tenant.id, prepared.tenant.slug, record.number, record.currency,
                                         record.total, "draft-finalized"))
            continue
        last_number += 1
        record = _record(prepared, uuid.uuid4(), last_number, issued_at)
        new_records.append(record)
    inserted = invoices.insert_drafts(session, new_records)
    slugs = {p.tenant.id: p.tenant.slug for p in batch}
    for record in new_records:
        if record.id in inserted:
            outcomes.append(IssueOutcome(record.tenant_id, slugs[record.tenant_id], record.number,
                                         record.currency, record.total, "issued"))
    for record in drafts:
        invoices.replace_draft(session, record)
    invoices.set_counter(session, last_number)
    invoices.finalize(session, [*inserted, *(d.id for d in drafts)], at=issued_at)
    return outcomes

