"""Tasks of the ``collect-stats`` flow: which tenants, the Prefect limits that pace Postproxy, the collection of
a batch of tenants (each tenant on its own: a handful of requests and one set-based insert), and the run's
artifacts.

Pacing (``postpipe.pacing``) uses the Prefect global limits of ``postpipe.prefect_limits``, acquired strictly: a
missing limit is an error, never a silent "unlimited". The flow creates missing limits itself before fanning out
(``ensure_stats_limits``); values an operator has tuned are never overwritten.

- ``postproxy-api-rate``: a rate limit shared by everything that calls Postproxy, taken in blocks of
  requests (one Prefect call per block, the next block fetched ahead).
- ``postproxy-key-<api key id>``: a concurrency limit per Postproxy key, held while its tenant is collected
  (taken for groups of tenants in one lease, in the order the run collects them).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.context import FlowRunContext
from prefect.runtime import task_run

from postpipe.db import system_scope, tenant_scope
from postpipe.models import utcnow
from postpipe.pacing import KeySlots, LimitCalls, RateBlocks
from postpipe.postproxy import call_with_retries, tenant_client
from postpipe.prefect_limits import GLOBAL_RATE_LIMIT, ensure_limits, key_limit_name
from postpipe.repositories import stats
from postpipe.repositories.stats import CollectionPlan, CollectTarget, SnapshotRow
from postpipe.stats_collection import (
    CollectedStats,
    TenantFailure,
    TenantStatsResult,
    TopPost,
    describe_failure,
    plan_requests,
)

SLOT_TIMEOUT_SECONDS = 600.0
"""Longest wait for a Prefect slot before the tenant is reported as failed (the next run retries)."""
LEASE_SECONDS = 300.0
"""Lease of key slots; renewed at half-time while held."""
MAX_PACING_BLOCK = 250
"""Most requests covered by one acquisition of the shared rate limit; a block is at most half the limit's size,
so that the block in use and the one fetched ahead never exceed its burst."""
KEY_GROUPS_PER_WINDOW = 8
"""Key slots are taken for this many times ``max_parallel_tenants`` tenants per request."""
TENANTS_PER_TASK = 10
"""Tenants per task run of ``collect-stats``: at 1,000 tenants a task run each, recording the task runs was
the Prefect server's largest cost (about 40 ms of its CPU each)."""
REFETCH_OVERLAP = timedelta(hours=2)
"""How far before a post's latest snapshot a later run asks again, so that late records still land."""


@dataclass
class StatsPacing:
    """The run's pacing: the shared Postproxy rate limit and each tenant key's concurrency limit."""

    rate: RateBlocks
    keys: KeySlots


@asynccontextmanager
async def stats_pacing(targets: list[CollectTarget], *, rate_slots: int, parallel: int) -> AsyncIterator[StatsPacing]:
    """Pacing for one run over ``targets`` (in the order they will be collected), on one Prefect client."""
    context = FlowRunContext.get()
    holder = ConcurrencyLeaseHolder(type="flow_run", id=context.flow_run.id) if context and context.flow_run else None
    async with LimitCalls.open() as calls:
        block = max(1, min(MAX_PACING_BLOCK, rate_slots // 2))
        rate = RateBlocks(calls, GLOBAL_RATE_LIMIT, block=block, timeout_seconds=SLOT_TIMEOUT_SECONDS)
        keys = KeySlots(
            calls,
            [key_limit_name(t.api_key_id) for t in targets],
            group_size=KEY_GROUPS_PER_WINDOW * parallel,
            lease_seconds=LEASE_SECONDS,
            timeout_seconds=SLOT_TIMEOUT_SECONDS,
            holder=holder,
        )
        try:
            async with keys:
                yield StatsPacing(rate, keys)
        finally:
            await rate.close()


@task(name="tenants-for-stats", cache_policy=NO_CACHE)
def tenants_for_stats() -> list[CollectTarget]:
    """Active tenants with a scoped Postproxy key."""
    with system_scope("collect-stats: list tenants") as session:
        return stats.tenants_to_collect(session)


@task(name="ensure-stats-limits", cache_policy=NO_CACHE)
async def ensure_stats_limits(api_key_ids: list[str]) -> int:
    """Create the shared rate limit and each key's concurrency limit where missing; returns the rate limit's size."""
    async with get_client() as client:
        states = await ensure_limits(client, api_key_ids)
    created = sum(state.outcome == "created" for state in states)
    if created:
        get_run_logger().info("created %d missing concurrency/rate limit(s)", created)
    return max(1, next(state.slots for state in states if state.name == GLOBAL_RATE_LIMIT))


def _plan(tenant_id: uuid.UUID, window_start: datetime) -> CollectionPlan:
    with tenant_scope(tenant_id) as session:
        return stats.collection_plan(session, tenant_id, window_start=window_start, refetch_overlap=REFETCH_OVERLAP)


def _store(tenant_id: uuid.UUID, rows: list[SnapshotRow]) -> int:
    with tenant_scope(tenant_id) as session:
        return stats.insert_snapshots(session, tenant_id, rows, collected_at=utcnow())


async def collect_tenant(target: CollectTarget, window_start: datetime, rate: RateBlocks) -> TenantStatsResult:
    """Fetch the stats of one tenant's published posts (50 ids a request) and store the new snapshots."""
    plan = await asyncio.to_thread(_plan, target.id, window_start)
    requests = plan_requests(plan.posts)
    collected = CollectedStats(plan)
    if requests:
        async with tenant_client(target.id) as client:
            for request in requests:
                await rate.permit()
                response = await call_with_retries(
                    lambda r=request: client.posts.stats(list(r.post_ids), from_date=r.from_date),  # type: ignore[misc]
                    what=f"post stats of {target.slug}",
                )
                collected.add(response.data)
    added = await asyncio.to_thread(_store, target.id, collected.rows) if collected.rows else 0
    return collected.result(target.slug, requests=len(requests), snapshots_added=added)


def _batch_run_name() -> str:
    targets = task_run.parameters.get("targets") or []
    if len(targets) == 1:
        return f"stats-{targets[0].slug}"
    return f"stats-{targets[0].slug}..{targets[-1].slug}" if targets else "stats-none"


@task(name="collect-stats-batch", task_run_name=_batch_run_name, cache_policy=NO_CACHE)
async def collect_stats_batch(
    targets: list[CollectTarget], window_start: datetime, rate: RateBlocks, keys: KeySlots, gate: asyncio.Semaphore
) -> list[TenantStatsResult | TenantFailure]:
    """Collect a batch of tenants, each on its own: at most ``gate`` tenants of the run at once, each holding its
    key's slot; a tenant that fails is logged and returned as a failure, and the others go on."""
    logger = get_run_logger()

    async def one(target: CollectTarget) -> TenantStatsResult | TenantFailure:
        try:
            async with gate, keys.hold(key_limit_name(target.api_key_id)):
                result = await collect_tenant(target, window_start, rate)
        except Exception as exc:  # one tenant's failure is its own outcome, never the batch's
            failure = TenantFailure(target.slug, describe_failure(exc))
            logger.error("%s: %s", failure.tenant, failure.reason)
            return failure
        logger.debug(
            "%s: %d posts, %d requests, %d records, %d new snapshots, %d records ignored (profiles not the tenant's)",
            target.slug, result.posts_published, result.requests, result.records, result.snapshots_added,
            result.ignored_records,
        )
        return result

    return list(await asyncio.gather(*(one(t) for t in targets)))


@task(name="publish-stats-report", cache_policy=NO_CACHE)
async def publish_stats_report(
    rows: list[dict[str, Any]], top_posts: list[TopPost], failed: dict[str, str], lookback_days: int
) -> None:
    """Publish the run's per-tenant totals (table) and its top posts and failures (markdown)."""
    await acreate_table_artifact(
        key="collect-stats",
        table=rows,
        description=f"Stats collected per tenant (posts published in the last {lookback_days} days)",
    )
    lines = [
        "# Stats collection",
        "",
        (
            f"**{sum(r.get('snapshots_added', 0) for r in rows)}** snapshots added for "
            f"**{len(rows) - len(failed)}** of **{len(rows)}** tenants (lookback {lookback_days} days)."
        ),
        "",
    ]
    if failed:
        lines += ["## Failed tenants", "", "| tenant | reason |", "|---|---|"]
        lines += [f"| {_cell(slug)} | {_cell(reason)} |" for slug, reason in sorted(failed.items())]
        lines.append("")
    lines += ["## Top posts by impressions", "", "| # | tenant | post | Postproxy id | impressions |", "|---|---|---|---|---|"]
    lines += [
        f"| {rank} | {_cell(p.tenant)} | {p.post_id} | {_cell(p.postproxy_post_id)} | {p.impressions} |"
        for rank, p in enumerate(top_posts, start=1)
    ]
    await acreate_markdown_artifact(key="collect-stats-summary", markdown="\n".join(lines) + "\n")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
