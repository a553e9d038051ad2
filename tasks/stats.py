"""Tasks of the ``collect-stats`` flow: which tenants, the Prefect limits that pace Postproxy, one tenant's
collection (a handful of requests and one set-based insert), and the run's artifacts.

Pacing uses Prefect global concurrency limits, acquired with ``strict=True`` on purpose: a limit that is
missing must not silently turn into "unlimited" (the default ``strict=False`` only logs a warning). The flow
creates missing limits itself before fanning out (``ensure_stats_limits``); values an operator has tuned are
never overwritten.

- ``postproxy-api-rate``: a rate limit shared by everything that calls Postproxy. Every acquisition is a round
  trip to the Prefect API, and Prefect's client serializes the acquisitions of one limit name, so one acquisition
  per request would make the limit itself the bottleneck (measured: ~70 ms each, well below the configured
  rate). ``PostproxyPacing`` therefore takes slots in blocks (coarse pacing) and hands them out to requests
  locally: one Prefect call per ``PACING_BLOCK`` requests.
- ``postproxy-key-<api key id>``: a concurrency limit per Postproxy key, held while the tenant is collected.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
from prefect import get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError, rate_limit
from prefect.exceptions import ObjectAlreadyExists

from postpipe.db import system_scope, tenant_scope
from postpipe.models import utcnow
from postpipe.postproxy import call_with_retries, tenant_client
from postpipe.repositories import stats
from postpipe.repositories.stats import CollectionPlan, CollectTarget, SnapshotRow
from postpipe.stats_collection import (
    CollectedStats,
    TenantStatsResult,
    TopPost,
    plan_requests,
)

GLOBAL_RATE_LIMIT = "postproxy-api-rate"
GLOBAL_RATE_LIMIT_SLOTS = 60
"""Burst size of the shared Postproxy rate limit when the flow has to create it."""
GLOBAL_RATE_LIMIT_DECAY_PER_SECOND = 20.0
"""Sustained requests per second of the shared Postproxy rate limit when the flow has to create it."""
KEY_LIMIT_PREFIX = "postproxy-key-"
KEY_LIMIT_SLOTS = 2
"""Concurrent holders per Postproxy key when the flow has to create the key's limit."""
SLOT_TIMEOUT_SECONDS = 600.0
LEASE_SECONDS = 300.0
"""Lease of a key slot; renewed at half-time while the tenant is being collected."""
"""Longest wait for a Prefect slot before the tenant is reported as failed (the next run retries)."""
PACING_BLOCK = 25
"""Requests covered by one acquisition of the shared rate limit (capped by the limit's size)."""
REFETCH_OVERLAP = timedelta(hours=2)
"""How far before a post's latest snapshot a later run asks again, so that late records still land."""
_PAGE = 200


def key_limit_name(api_key_id: str) -> str:
    return f"{KEY_LIMIT_PREFIX}{api_key_id}"


class PostproxyPacing:
    """The run's pacing of Postproxy calls with Prefect global limits, through one Prefect client.

    ``permit()`` before each request: slots of the shared rate limit are taken ``block`` at a time and handed
    out locally (slots left unused at the end of the run were still counted: pacing errs on the safe side).
    ``key_slot(api_key_id)`` holds one slot of the key's concurrency limit, as a lease renewed while held.

    Why not ``prefect.concurrency.asyncio.concurrency()`` for the key limits: it starts one acquisition
    service, with a Prefect client of its own, per distinct limit name; with one name per tenant that cost
    ~0.28 s per tenant in the benchmark, four times the tenant's actual work. Here every tenant's acquire and
    release are two requests on the run's one client. Semantics are kept: a missing limit is an error (strict),
    ``423 Locked`` waits for the server's Retry-After, and waiting longer than ``timeout_seconds`` fails.
    """

    def __init__(
        self,
        client: PrefectClient,
        *,
        rate_limit_name: str,
        block: int,
        lease_seconds: float = LEASE_SECONDS,
        timeout_seconds: float = SLOT_TIMEOUT_SECONDS,
    ) -> None:
        if block < 1:
            raise ValueError(f"block must be at least 1, got {block}")
        self.rate_limit_name = rate_limit_name
        self.block = block
        self.rate_acquisitions = 0
        self.key_acquisitions = 0
        self._client = client
        self._lease_seconds = lease_seconds
        self._timeout_seconds = timeout_seconds
        self._left = 0
        self._lock = asyncio.Lock()

    async def permit(self) -> None:
        async with self._lock:
            if self._left == 0:
                await rate_limit(self.rate_limit_name, occupy=self.block, strict=True, timeout_seconds=self._timeout_seconds)
                self.rate_acquisitions += 1
                self._left = self.block
            self._left -= 1

    @asynccontextmanager
    async def key_slot(self, api_key_id: str) -> AsyncIterator[None]:
        name = key_limit_name(api_key_id)
        lease_id = await self._acquire(name)
        self.key_acquisitions += 1
        renewal = asyncio.create_task(self._renew(lease_id))
        try:
            yield
        finally:
            renewal.cancel()
            try:
                await self._client.release_concurrency_slots_with_lease(lease_id)
            except httpx.HTTPError as exc:  # the lease expires on its own; never hide the tenant's own outcome
                get_run_logger().warning("could not release the slot of %s: %s", name, exc)

    async def _acquire(self, name: str) -> uuid.UUID:
        deadline = time.monotonic() + self._timeout_seconds
        while True:
            try:
                response = await self._client.increment_concurrency_slots_with_lease(
                    names=[name], slots=1, mode="concurrency", lease_duration=self._lease_seconds
                )
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 423:
                    raise ConcurrencySlotAcquisitionError(
                        f"cannot acquire a slot of {name!r}: HTTP {exc.response.status_code} {exc.response.text}"
                    ) from exc
                wait = float(exc.response.headers.get("Retry-After", "1"))
                if time.monotonic() + wait > deadline:
                    raise TimeoutError(f"no free slot of {name!r} within {self._timeout_seconds:.0f} s") from exc
                await asyncio.sleep(wait)
                continue
            body = response.json()
            if not body.get("limits"):
                raise ConcurrencySlotAcquisitionError(f"concurrency limit {name!r} must be created before acquiring slots")
            return uuid.UUID(body["lease_id"])

    async def _renew(self, lease_id: uuid.UUID) -> None:
        while True:
            await asyncio.sleep(self._lease_seconds / 2)
            await self._client.renew_concurrency_lease(lease_id, self._lease_seconds)


@task(name="tenants-for-stats", cache_policy=NO_CACHE)
def tenants_for_stats() -> list[CollectTarget]:
    """Active tenants with a scoped Postproxy key."""
    with system_scope("collect-stats: list tenants") as session:
        return stats.tenants_to_collect(session)


@task(name="ensure-stats-limits", cache_policy=NO_CACHE)
async def ensure_stats_limits(api_key_ids: list[str]) -> int:
    """Create the shared rate limit and each key's concurrency limit where missing; returns the rate limit's size."""
    wanted: dict[str, tuple[int, float | None]] = {GLOBAL_RATE_LIMIT: (GLOBAL_RATE_LIMIT_SLOTS, GLOBAL_RATE_LIMIT_DECAY_PER_SECOND)}
    wanted.update({key_limit_name(k): (KEY_LIMIT_SLOTS, None) for k in api_key_ids})
    existing: dict[str, int] = {}
    async with get_client() as client:
        offset = 0
        while True:
            page = await client.read_global_concurrency_limits(limit=_PAGE, offset=offset)
            existing.update({limit.name: limit.limit for limit in page})
            if len(page) < _PAGE:
                break
            offset += _PAGE
        created = 0
        for name, (slots, decay) in wanted.items():
            if name in existing:
                continue
            spec: dict[str, Any] = {"name": name, "limit": slots}
            if decay is not None:
                spec["slot_decay_per_second"] = decay
            try:
                await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(**spec))
                created += 1
            except ObjectAlreadyExists:  # another run created it meanwhile
                pass
            existing.setdefault(name, slots)
    if created:
        get_run_logger().info("created %d missing concurrency/rate limit(s)", created)
    return max(1, existing[GLOBAL_RATE_LIMIT])


def _plan(tenant_id: uuid.UUID, window_start: datetime) -> CollectionPlan:
    with tenant_scope(tenant_id) as session:
        return stats.collection_plan(session, tenant_id, window_start=window_start, refetch_overlap=REFETCH_OVERLAP)


def _store(tenant_id: uuid.UUID, rows: list[SnapshotRow]) -> int:
    with tenant_scope(tenant_id) as session:
        return stats.insert_snapshots(session, tenant_id, rows, collected_at=utcnow())


@task(name="collect-tenant-stats", task_run_name="stats-{target.slug}", cache_policy=NO_CACHE)
async def collect_tenant_stats(target: CollectTarget, window_start: datetime, pacing: PostproxyPacing) -> TenantStatsResult:
    """Fetch the stats of one tenant's published posts (50 ids a request) and store the new snapshots."""
    plan = await asyncio.to_thread(_plan, target.id, window_start)
    requests = plan_requests(plan.posts)
    collected = CollectedStats(plan)
    if requests:
        async with pacing.key_slot(target.api_key_id), tenant_client(target.id) as client:
            for request in requests:
                await pacing.permit()
                response = await call_with_retries(
                    lambda r=request: client.posts.stats(list(r.post_ids), from_date=r.from_date),  # type: ignore[misc]
                    what=f"post stats of {target.slug}",
                )
                collected.add(response.data)
    added = await asyncio.to_thread(_store, target.id, collected.rows) if collected.rows else 0
    result = collected.result(target.slug, requests=len(requests), snapshots_added=added)
    get_run_logger().debug(
        "%s: %d posts, %d requests, %d records, %d new snapshots, %d records ignored (profiles not the tenant's)",
        target.slug, result.posts_published, result.requests, result.records, added, result.ignored_records,
    )
    return result


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
