"""Monthly invoices, exactly once per tenant and period."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_progress_artifact, acreate_table_artifact, aupdate_progress_artifact
from prefect.runtime import flow_run

from postpipe.billing.periods import resolve_period
from tasks.billing import issue_invoice_batch, list_period_invoices, prepare_invoices

BATCH_SIZE = 500


def _run_name() -> str:
    return f"invoice-month-{flow_run.parameters.get('period') or 'previous-month'}"


@flow(name="invoice-month", flow_run_name=_run_name)
async def invoice_month(period: str | None = None, batch_size: int = BATCH_SIZE) -> dict[str, Any]:
    """Meter, price, render, number and finalize every tenant's invoice for a month.
    Re-running, or running twice at once, yields the same single invoice per tenant and period.

    Args:
        period: The month to bill, YYYY-MM, in each tenant's own time zone (empty: the previous month).
        batch_size: Invoices stored per transaction.
    """
    logger = get_run_logger()
    billed = str(resolve_period(period))
    if batch_size < 1:
        raise ValueError(f"batch_size: must be at least 1, got {batch_size}")
    run = prepare_invoices(billed)
    for skipped in run.skipped:
        logger.error("%s: not invoiced for %s: %s", skipped.slug, billed, skipped.reason)
    progress = await acreate_progress_artifact(
        progress=0.0, key=f"invoice-progress-{billed}", description=f"Invoices issued for {billed}"
    )
    batches = [run.invoices[i : i + batch_size] for i in range(0, len(run.invoices), batch_size)]
    counts = {"issued": 0, "already-invoiced": 0, "draft-finalized": 0}
    for done, batch in enumerate(batches, start=1):
        for outcome in issue_invoice_batch(batch):
            counts[outcome.outcome] += 1
            logger.info(
                "%s: invoice %d for %s %s (%s %s)",
                outcome.tenant_slug, outcome.number, billed, outcome.outcome, outcome.total, outcome.currency,
            )
        await aupdate_progress_artifact(artifact_id=progress, progress=100.0 * done / len(batches))
    if not batches:
        await aupdate_progress_artifact(artifact_id=progress, progress=100.0)
    stored = list_period_invoices(billed)
    table = [
        {"number": s.number, "tenant": s.tenant_slug, "status": s.status, "currency": s.currency, "total": str(s.total)}
        for s in stored
    ]
    await acreate_table_artifact(
        key=f"invoices-{billed}", table=table, description=f"Every invoice of {billed} with its total"
    )
    logger.info("%s: %s, %d skipped, %d stored", billed, counts, len(run.skipped), len(stored))
    return {
        "period": billed,
        **{k.replace("-", "_"): v for k, v in counts.items()},
        "skipped": [{"tenant": s.slug, "reason": s.reason} for s in run.skipped],
        "invoices": table,
    }
