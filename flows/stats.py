"""Hourly engagement stats for every active tenant, stored as a time series."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Failed, State

from postpipe.models import utcnow
from postpipe.stats_collection import TenantFailure, TenantStatsResult, describe_failure
from tasks.stats import (
    TENANTS_PER_TASK,
    collect_stats_batch,
    ensure_stats_limits,
    publish_stats_report,
    stats_pacing,
    tenants_for_stats,
)

TOP_POSTS = 10


@flow(name="collect-stats", flow_run_name="collect-stats-{lookback_days}d")
async def collect_stats(
    lookback_days: int = 30, max_parallel_tenants: int = 16, tenants_per_task: int = TENANTS_PER_TASK
) -> dict[str, Any] | State:
    """Fetch Postproxy stats of each active tenant's posts published in the last ``lookback_days`` days and
    store one snapshot per post, account and record time (a re-run adds nothing).

    One tenant's failure (revoked key, throttling beyond retries) does not stop the others: the run ends
    Failed, naming each failed tenant and why, after storing everything else and publishing its artifacts.

    Args:
        lookback_days: Collect the posts published in this many days before now.
        max_parallel_tenants: Tenants collected at once.
        tenants_per_task: Tenants per task run (each still on its own: own key slot, own outcome). Fewer task
            runs keep the Prefect server's work small at thousands of tenants; 1 gives a task run per tenant.
    """
    for name, value in (
        ("lookback_days", lookback_days), ("max_parallel_tenants", max_parallel_tenants),
        ("tenants_per_task", tenants_per_task),
    ):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    window_start = utcnow() - timedelta(days=lookback_days)
    targets = await asyncio.to_thread(tenants_for_stats)
    rate_slots = await ensure_stats_limits([t.api_key_id for t in targets])
    batches = [targets[i : i + tenants_per_task] for i in range(0, len(targets), tenants_per_task)]
    gate = asyncio.Semaphore(max_parallel_tenants)
    async with stats_pacing(targets, rate_slots=rate_slots, parallel=max_parallel_tenants) as pacing:
        outcomes = await asyncio.gather(
            *(collect_stats_batch(batch, window_start, pacing.rate, pacing.keys, gate) for batch in batches),
            return_exceptions=True,
        )
    results: list[TenantStatsResult | TenantFailure] = []
    for batch, outcome in zip(batches, outcomes, strict=True):
        if isinstance(outcome, BaseException):  # the batch itself broke: each of its tenants failed with it
            results += [TenantFailure(t.slug, describe_failure(outcome)) for t in batch]
        else:
            results += outcome
    rows = [r.as_row() for r in results]
    failed = {r.tenant: r.reason for r in results if isinstance(r, TenantFailure)}
    top = [p for r in results if isinstance(r, TenantStatsResult) for p in r.top_posts]
    top = sorted(top, key=lambda p: (-p.impressions, p.tenant, str(p.post_id)))[:TOP_POSTS]
    await publish_stats_report(rows, top, failed, lookback_days)
    summary = {
        "window_start": window_start.isoformat(),
        "tenants": len(targets),
        "snapshots_added": sum(r.get("snapshots_added", 0) for r in rows),
        "rate_limit_acquisitions": pacing.rate.acquisitions,
        "key_slot_acquisitions": pacing.keys.acquisitions,
        "per_tenant": rows,
        "top_posts": [
            {"tenant": p.tenant, "post_id": str(p.post_id), "postproxy_post_id": p.postproxy_post_id,
             "impressions": p.impressions}
            for p in top
        ],
        "failed": failed,
    }
    if failed:
        message = f"stats collection failed for {len(failed)} of {len(targets)} tenant(s): " + "; ".join(
            f"{slug}: {reason}" for slug, reason in sorted(failed.items())
        )
        get_run_logger().error(message)
        return Failed(message=message, data=summary)
    return summary
