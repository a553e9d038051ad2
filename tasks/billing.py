"""Tasks of the monthly invoicing run and the usage report (database work; Postproxy only for the cross-check)."""

from __future__ import annotations

import uuid
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import OperationalError

from postpipe.billing import invoicing, usage_report
from postpipe.billing.periods import parse_period
from postpipe.db import system_scope
from postpipe.postproxy import call_with_retries, tenant_client
from postpipe.repositories import invoices


def _transient_database_error(task: Any, task_run: Any, state: Any) -> bool:
    return isinstance(state.result(raise_on_failure=False), OperationalError)


@task(name="prepare-invoices", cache_policy=NO_CACHE)
def prepare_invoices(period: str) -> invoicing.PreparedRun:
    """Meter every billable tenant for the period and price its invoice (reads only)."""
    with system_scope(f"invoice-month {period}: meter") as session:
        return invoicing.prepare(session, parse_period(period))


@task(
    name="issue-invoice-batch",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=_transient_database_error,
)
def issue_invoice_batch(batch: list[invoicing.PreparedInvoice]) -> list[invoicing.IssueOutcome]:
    """Number, render, store and finalize one batch of invoices in one transaction (safe to retry)."""
    period = batch[0].period if batch else "-"
    with system_scope(f"invoice-month {period}: issue") as session:
        return invoicing.issue_batch(session, batch)


@task(name="list-period-invoices", cache_policy=NO_CACHE)
def list_period_invoices(period: str) -> list[invoices.InvoiceSummary]:
    """Every invoice stored for the period, as read back from the database."""
    with system_scope(f"invoice-month {period}: read back") as session:
        return invoices.list_for_period(session, period)


@task(name="month-to-date-usage", cache_policy=NO_CACHE)
def month_to_date_usage() -> list[usage_report.TenantUsageReport]:
    """Month-to-date usage of every open tenant, from Postgres."""
    with system_scope("usage-report: meter") as session:
        return usage_report.month_to_date(session)


@task(name="postproxy-active-profiles", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=2)
async def postproxy_active_profiles(tenant_id: uuid.UUID) -> set[str]:
    """The ids of the tenant's active profiles as Postproxy lists them through its scoped key."""
    async with tenant_client(tenant_id) as client:
        profiles = (await call_with_retries(client.profiles.list, what="list profiles")).data
    return {p.id for p in profiles if p.status == "active"}
