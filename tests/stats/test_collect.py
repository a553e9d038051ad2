"""The collect-stats flow against the sandbox over HTTP, PostgreSQL and Prefect's harness."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import httpx
from postproxy import PostProxy
from prefect.artifacts import Artifact
from sqlalchemy import select

from flows.stats import collect_stats
from postpipe import models as m
from postpipe.db import owner_session

from .helpers import publish_posts, tenant_with_profiles


def _snapshots() -> list[tuple[Any, ...]]:
    with owner_session() as session:
        rows = session.execute(
            select(
                m.StatsSnapshot.tenant_id, m.StatsSnapshot.post_id, m.StatsSnapshot.account_id, m.StatsSnapshot.platform,
                m.StatsSnapshot.recorded_at, m.StatsSnapshot.metrics, m.StatsSnapshot.raw_metrics,
            ).order_by(m.StatsSnapshot.post_id, m.StatsSnapshot.account_id, m.StatsSnapshot.recorded_at)
        )
        return [tuple(r) for r in rows]


def test_a_rerun_over_the_same_period_adds_nothing(stats_world: Any) -> None:
    sandbox = stats_world
    tenant = tenant_with_profiles(sandbox, "acme", ["twitter", "linkedin"])
    published = publish_posts(sandbox, tenant, count=3, published_at=sandbox.now())
    sandbox.advance(3 * 3600 + 60)

    first = asyncio.run(collect_stats())
    rows = _snapshots()
    # 3 posts x 2 accounts x 3 hourly records
    assert first["snapshots_added"] == 18 and len(rows) == 18
    assert {r[1] for r in rows} == {p.id for p in published}
    assert first["per_tenant"][0]["posts_covered"] == 3

    again = asyncio.run(collect_stats())
    assert again["snapshots_added"] == 0
    assert _snapshots() == rows

    sandbox.advance(3600)
    later = asyncio.run(collect_stats())
    assert later["snapshots_added"] == 6  # one new hourly record per post and account
    assert len(_snapshots()) == 24


def test_posts_published_before_the_window_are_not_fetched(stats_world: Any) -> None:
    sandbox = stats_world
    tenant = tenant_with_profiles(sandbox, "acme", ["twitter"])
    recent = publish_posts(sandbox, tenant, count=2, published_at=sandbox.now())
    old = publish_posts(sandbox, tenant, count=1, published_at=sandbox.now() - timedelta(days=40))
    sandbox.advance(2 * 3600 + 60)

    async def old_post_records() -> int:
        async with PostProxy(tenant.key, base_url=sandbox.base_url) as client:
            answer = await client.posts.stats([old[0].postproxy_id])
        return sum(len(p.records) for p in answer.data[old[0].postproxy_id].platforms)

    assert asyncio.run(old_post_records()) > 0  # Postproxy has stats for it: the window is what leaves it out

    result = asyncio.run(collect_stats(lookback_days=30))
    assert {r[1] for r in _snapshots()} == {p.id for p in recent}
    assert result["per_tenant"][0]["posts_published"] == 2

    wide = asyncio.run(collect_stats(lookback_days=45))
    assert old[0].id in {r[1] for r in _snapshots()}
    assert wide["per_tenant"][0]["posts_published"] == 3


# Normalized names of postproxy-api.md §7.1 (LinkedIn with the SDK README's extension); network names as the
# networks' APIs spell them.
NORMALIZED = {
    "instagram": {"impressions", "likes", "comments", "saved", "profile_visits", "follows"},
    "facebook": {"impressions", "clicks", "likes"},
    "twitter": {"impressions", "likes", "retweets", "comments", "quotes", "saved"},
    "linkedin": {"impressions", "likes", "comments", "shares", "clicks"},
    "tiktok": {"impressions", "likes", "comments", "shares"},
    "youtube": {"impressions", "likes", "comments", "saved"},
    "threads": {"impressions", "likes", "replies", "reposts", "quotes", "shares"},
    "pinterest": {"impressions", "likes", "comments", "saved", "outbound_clicks"},
    "bluesky": {"likes", "reposts", "comments", "quotes"},
}
NETWORK_IMPRESSIONS = {
    "instagram": "views", "facebook": "post_impressions", "twitter": "impression_count", "linkedin": "impressionCount",
    "tiktok": "view_count", "youtube": "viewCount", "threads": "views", "pinterest": "IMPRESSION",
}
NO_POST_STATS = {"telegram", "google_business"}


def test_every_platform_stores_normalized_and_network_metric_names(stats_world: Any) -> None:
    sandbox = stats_world
    platforms = sorted(set(NORMALIZED) | NO_POST_STATS)
    tenant = tenant_with_profiles(sandbox, "acme", platforms)
    # a profile in the tenant's Postproxy group that postpipe has no account for: its records are ignored
    stranger = httpx.post(
        f"{sandbox.base_url}/sandbox/profiles", json={"profile_group_id": tenant.group_id, "platform": "twitter"},
        headers={"Authorization": f"Bearer {sandbox.account_key}"},
    ).json()["id"]
    tenant.profiles["stranger"] = stranger
    publish_posts(sandbox, tenant, count=1, published_at=sandbox.now(), platforms=[*platforms, "stranger"])
    sandbox.advance(2 * 3600 + 60)

    result = asyncio.run(collect_stats())
    rows = _snapshots()
    by_platform: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_platform.setdefault(row[3], []).append(row)
    assert set(by_platform) == set(NORMALIZED)  # telegram and google_business have no post stats
    for platform, expected in NORMALIZED.items():
        snapshots = by_platform[platform]
        assert len(snapshots) == 2, platform
        for *_, metrics, raw in snapshots:
            assert set(metrics) == expected, platform
            assert sorted(raw.values()) == sorted(metrics.values()), platform
            if platform in NETWORK_IMPRESSIONS:
                assert raw[NETWORK_IMPRESSIONS[platform]] == metrics["impressions"], platform
                assert "impressions" not in raw or platform == "tiktok", platform
    assert result["per_tenant"][0]["ignored_records"] == 2  # the stranger profile's two hourly records
    assert len([r for r in rows if r[3] == "twitter"]) == 2


def test_a_revoked_and_a_throttled_tenant_fail_alone(stats_world: Any) -> None:
    sandbox = stats_world
    from postpipe.db import system_scope
    from postpipe.repositories import tenants

    tenants_by_slug = {slug: tenant_with_profiles(sandbox, slug, ["twitter"]) for slug in ("alpha", "beta", "revoked", "throttled")}
    for tenant in tenants_by_slug.values():
        publish_posts(sandbox, tenant, count=2, published_at=sandbox.now())
    sandbox.advance(3600 + 60)
    with system_scope("test") as session:
        revoked_key_id = tenants.api_key_id(session, tenants_by_slug["revoked"].id)

    async def revoke() -> None:
        async with PostProxy(sandbox.account_key, base_url=sandbox.base_url) as client:
            await client.api_keys.delete(revoked_key_id)

    asyncio.run(revoke())
    fault = httpx.post(
        f"{sandbox.base_url}/sandbox/faults",
        json={"scope": "api", "status": 429, "count": 10, "api_key": tenants_by_slug["throttled"].key},
        headers={"Authorization": f"Bearer {sandbox.account_key}"},
    )
    assert fault.status_code == 201, fault.text

    state = asyncio.run(collect_stats(tenants_per_task=3, return_state=True))
    assert state.is_failed()
    assert state.message is not None
    assert "2 of 4 tenant(s)" in state.message
    assert "revoked: Postproxy rejected the tenant's API key (401)" in state.message
    assert "throttled: throttled by Postproxy (429)" in state.message
    assert "alpha" not in state.message and "beta" not in state.message
    summary = state.result(raise_on_failure=False)
    assert set(summary["failed"]) == {"revoked", "throttled"}

    stored_tenants = {r[0] for r in _snapshots()}
    assert stored_tenants == {tenants_by_slug["alpha"].id, tenants_by_slug["beta"].id}
    # tenants fail alone, not their batch; the server records task runs from events, a moment later
    expected_batches = {"stats-alpha..revoked": "COMPLETED", "stats-throttled": "COMPLETED"}
    deadline = time.monotonic() + 30
    while (batches := _batch_task_runs(state.state_details.flow_run_id)) != expected_batches:
        assert time.monotonic() < deadline, batches
        time.sleep(0.2)
    table = Artifact.get("collect-stats")
    assert table is not None
    statuses = {row["tenant"]: row["status"] for row in json.loads(table.data)}
    assert statuses == {"alpha": "ok", "beta": "ok", "revoked": "failed", "throttled": "failed"}
    summary_md = Artifact.get("collect-stats-summary")
    assert summary_md is not None and "| throttled |" in summary_md.data and "Top posts by impressions" in summary_md.data


def _batch_task_runs(flow_run_id: Any) -> dict[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read() -> dict[str, str]:
        async with get_client() as client:
            runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        return {run.name: run.state_type.value for run in runs if run.name.startswith("stats-") and run.state_type}

    return asyncio.run(read())
