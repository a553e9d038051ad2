"""Small helpers shared by billing tests."""

from __future__ import annotations

from postpipe.billing.invoicing import IssueOutcome, issue_batch, meter_tenants, prepare, usage_from_metering
from postpipe.billing.periods import parse_period
from postpipe.billing.usage import Usage
from postpipe.db import system_scope
from postpipe.repositories import invoices, plans, tenants
from postpipe.repositories.invoices import InvoiceRecord


def metered(period: str) -> dict[str, Usage]:
    """Usage of every billable tenant in ``period``, by slug, as the invoicing run meters it."""
    with system_scope("test metering") as session:
        tenants, raw, bounds, _ = meter_tenants(session, parse_period(period))
        metering_of = {t.plan_id: plans.plan_as_dict(session, t.plan_id)["account_metering"] for t in tenants}
    return {
        t.slug: usage_from_metering(raw.get(t.id), bounds[t.time_zone], metering_of[t.plan_id]) for t in tenants
    }


def invoice_period(period: str, *, batch_size: int = 500) -> list[IssueOutcome]:
    """What the invoice-month flow does, without Prefect: prepare, then issue in batches."""
    with system_scope("test invoicing: prepare") as session:
        run = prepare(session, parse_period(period))
    assert not run.skipped, run.skipped
    outcomes: list[IssueOutcome] = []
    for start in range(0, len(run.invoices), batch_size):
        with system_scope("test invoicing: issue") as session:
            outcomes.extend(issue_batch(session, run.invoices[start : start + batch_size]))
    return outcomes


def stored_invoice(slug: str, period: str) -> InvoiceRecord:
    with system_scope("test: read invoice") as session:
        tenant = tenants.get_by_slug(session, slug)
        record = invoices.get(session, tenant.id, period)
    assert record is not None, f"no invoice for {slug} {period}"
    return record
