"""Keeping social accounts in step with Postproxy."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
from prefect.runtime import flow_run

from tasks.accounts import sync_tenant_accounts, tenants_to_sync

MAX_PARALLEL_TENANTS = 8


def _run_name() -> str:
    return f"sync-accounts-{flow_run.parameters.get('tenant_slug') or 'all'}"


@flow(name="sync-accounts", flow_run_name=_run_name)
async def sync_accounts(tenant_slug: str | None = None) -> dict[str, Any]:
    """List every tenant's profiles through its own scoped key and update accounts and connection intervals.

    Args:
        tenant_slug: Sync only this tenant (leave empty for every open tenant).
    """
    targets = tenants_to_sync(tenant_slug)
    gate = asyncio.Semaphore(MAX_PARALLEL_TENANTS)

    async def one(tenant_id: Any) -> dict[str, Any]:
        async with gate:
            return await sync_tenant_accounts(tenant_id)

    results = await asyncio.gather(*(one(tid) for tid, _ in targets), return_exceptions=True)
    report, failed = {}, {}
    for (_, slug), result in zip(targets, results, strict=True):
        if isinstance(result, BaseException):
            failed[slug] = f"{type(result).__name__}: {result}"
        else:
            report[slug] = result
    await acreate_table_artifact(
        key="sync-accounts",
        table=[{"tenant": s, **r} for s, r in report.items()] + [{"tenant": s, "error": e} for s, e in failed.items()],
        description="Accounts synced from Postproxy, per tenant",
    )
    if failed:
        get_run_logger().error("sync failed for %d tenant(s): %s", len(failed), failed)
        raise RuntimeError(f"sync-accounts failed for: {', '.join(sorted(failed))}")
    return report
