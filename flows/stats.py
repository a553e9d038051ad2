"""Hourly engagement stats for every active tenant, stored as a time series."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Failed, State

from postpipe.models import utcnow
from postpipe.repositories.stats import CollectTarget
from postpipe.stats_collection import TenantStatsResult, TopPost, describe_failure
from tasks.stats import (
    collect_tenant_stats,
    ensure_stats_limits,
    publish_stats_report,
    stats_pacing,
    tenants_for_stats,
)

TOP_POSTS = 10


@flow(name="collect-stats", flow_run_name="collect-stats-{lookback_days}d")
async def collect_stats(lookback_days: int = 30, max_parallel_tenants: int = 16) -> dict[str, Any] | State:
    """Fetch Postproxy stats of each active tenant's posts published in the last ``lookback_days`` days and
    store one snapshot per post, account and record time (a re-run adds nothing).

    One tenant's failure (revoked key, throttling beyond retries) does not stop the others: the run ends
    Failed, naming each failed tenant and why, after storing everything else and publishing its artifacts.
    """
    if lookback_days < 1:
        raise ValueError(f"lookback_days must be at least 1, got {lookback_days}")
    if max_parallel_tenants < 1:
        raise ValueError(f"max_parallel_tenants must be at least 1, got {max_parallel_tenants}")
    window_start = utcnow() - timedelta(days=lookback_days)
    targets = await asyncio.to_thread(tenants_for_stats)
    rate_slots = await ensure_stats_limits([t.api_key_id for t in targets])
    gate = asyncio.Semaphore(max_parallel_tenants)
    async with stats_pacing(targets, rate_slots=rate_slots, parallel=max_parallel_tenants) as pacing:

        async def one(target: CollectTarget) -> TenantStatsResult:
            async with gate, pacing.key_slot(target):
                return await collect_tenant_stats(target, window_start, pacing.rate)

        outcomes = await asyncio.gather(*(one(t) for t in targets), return_exceptions=True)
    rows: list[dict[str, Any]] = []
    top: list[TopPost] = []
    failed: dict[str, str] = {}
    for target, outcome in zip(targets, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            failed[target.slug] = describe_failure(outcome)
            rows.append({"tenant": target.slug, "status": "failed", "error": failed[target.slug]})
        else:
            rows.append(outcome.as_row())
            top.extend(outcome.top_posts)
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
