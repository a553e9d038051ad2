"""Fault injection (API and platform), the sandbox clock, stats growth, seeding, profile expiry."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from postproxy import PostProxy, PostProxyError, RateLimitError

from postpipe.sandbox import SandboxServer

from .conftest import Tenant
from .helpers import close_client, connect_profile, control, sdk_client

pytestmark = pytest.mark.anyio


async def test_api_fault_429_with_retry_after_then_recovers(tenant: Tenant, sandbox: SandboxServer) -> None:
    fault = {"scope": "api", "status": 429, "count": 2, "retry_after": 2, "path_prefix": "/api/posts", "delay_ms": 0}
    assert control(sandbox, "POST", "/sandbox/faults", fault).status_code == 201
    assert (await tenant.client.profiles.list()).data  # other paths are untouched
    for _ in range(2):
        with pytest.raises(RateLimitError) as caught:
            await tenant.client.posts.list()
        assert caught.value.retry_after == 2.0 and caught.value.status_code == 429
    assert (await tenant.client.posts.list()).total == 0


async def test_api_fault_targets_one_tenant_key(account_client: PostProxy, tenant: Tenant, sandbox: SandboxServer) -> None:
    other_group = await account_client.profile_groups.create("B")
    other_key = await account_client.api_keys.create("b", other_group.id)
    assert other_key.token
    control(sandbox, "POST", "/sandbox/faults", {"scope": "api", "status": 429, "count": None, "retry_after": 1.5, "api_key": tenant.token})
    other = sdk_client(other_key.token, sandbox.base_url)
    try:
        for _ in range(3):
            with pytest.raises(RateLimitError) as caught:
                await tenant.client.posts.list()
            assert caught.value.retry_after == 1.5
            assert (await other.posts.list()).total == 0
    finally:
        await close_client(other)
    cleared = control(sandbox, "DELETE", "/sandbox/faults")
    assert cleared.json() == {"deleted": True, "count": 1}
    assert (await tenant.client.posts.list()).total == 0


@pytest.mark.parametrize("status", [500, 503])
async def test_api_fault_server_errors(tenant: Tenant, sandbox: SandboxServer, status: int) -> None:
    control(sandbox, "POST", "/sandbox/faults", {"scope": "api", "status": status, "count": 1})
    with pytest.raises(PostProxyError) as caught:
        await tenant.client.posts.create("during outage", [tenant.twitter], idempotency_key="outage-1")
    assert caught.value.status_code == status and type(caught.value) is PostProxyError
    # the error was not stored under the idempotency key: the retry really runs
    created = await tenant.client.posts.create("during outage", [tenant.twitter], idempotency_key="outage-1")
    assert created.body == "during outage"


async def test_api_fault_delay_only(tenant: Tenant, sandbox: SandboxServer) -> None:
    control(sandbox, "POST", "/sandbox/faults", {"scope": "api", "status": None, "count": 1, "delay_ms": 600})
    started = time.monotonic()
    assert (await tenant.client.posts.list()).total == 0  # delayed, not failed
    assert time.monotonic() - started >= 0.6  # a lower bound only: a busy machine can only make it slower
    assert control(sandbox, "GET", "/sandbox/faults").json()["data"] == []  # used up: the next call is not delayed


async def test_platform_fault_fail_always_and_counted(tenant: Tenant, sandbox: SandboxServer) -> None:
    control(sandbox, "POST", "/sandbox/faults", {"scope": "platform", "platform": "twitter", "profile_id": None, "mode": "fail", "count": None, "error": "Duplicate content"})
    control(sandbox, "POST", "/sandbox/faults", {"scope": "platform", "platform": None, "profile_id": tenant.instagram, "mode": "fail", "count": 1, "error": "Aspect ratio"})
    first = await tenant.client.posts.create("one", [tenant.twitter, tenant.instagram], media=["https://cdn.example.com/1.jpg"])
    second = await tenant.client.posts.create("two", [tenant.twitter, tenant.instagram], media=["https://cdn.example.com/2.jpg"])
    sandbox.advance(3)
    one = {p.platform: p for p in (await tenant.client.posts.get(first.id)).platforms}
    two = {p.platform: p for p in (await tenant.client.posts.get(second.id)).platforms}
    assert (await tenant.client.posts.get(first.id)).status == "processed"
    assert (one["twitter"].status, one["twitter"].error) == ("failed", "Duplicate content")
    assert one["twitter"].error_details is not None and one["twitter"].error_details.platform_error_message == "Duplicate content"
    assert (one["instagram"].status, one["instagram"].error) == ("failed", "Aspect ratio")
    assert two["twitter"].status == "failed" and two["instagram"].status == "published"


async def test_platform_fault_fail_then_succeed(tenant: Tenant, sandbox: SandboxServer) -> None:
    control(sandbox, "POST", "/sandbox/faults", {"scope": "platform", "platform": "twitter", "mode": "fail_then_succeed", "count": 2, "error": "Rate limited by X"})
    post = await tenant.client.posts.create("eventually", [tenant.twitter])
    sandbox.advance(1.6)
    waiting = await tenant.client.posts.get(post.id)
    assert waiting.status == "processing"
    assert (waiting.platforms[0].status, waiting.platforms[0].error) == ("failed", "Rate limited by X")
    sandbox.advance(10)
    done = await tenant.client.posts.get(post.id)
    assert done.status == "processed" and done.platforms[0].status == "published" and done.platforms[0].error is None
    assert sandbox.state.posts[post.id].platform_posts[0].attempts == 3  # two injected failures, then success


async def test_invalid_faults_are_422(sandbox: SandboxServer) -> None:
    assert control(sandbox, "POST", "/sandbox/faults", {"scope": "api", "status": 418}).status_code == 422
    assert control(sandbox, "POST", "/sandbox/faults", {"scope": "platform", "platform": "myspace"}).status_code == 422
    assert control(sandbox, "POST", "/sandbox/faults", {"scope": "weather"}).status_code == 422


async def test_control_surface_needs_the_account_key(tenant: Tenant, sandbox: SandboxServer) -> None:
    assert control(sandbox, "POST", "/sandbox/clock/advance", {"seconds": 5}, key=tenant.token).status_code == 401
    assert control(sandbox, "DELETE", "/sandbox/faults", key="nope").status_code == 401
    assert httpx.get(sandbox.base_url + "/sandbox/clock").status_code == 401


async def test_clock_only_moves_forward(sandbox: SandboxServer) -> None:
    before = sandbox.now()
    shown = control(sandbox, "GET", "/sandbox/clock").json()["now"]
    assert shown.endswith("Z")
    advanced = control(sandbox, "POST", "/sandbox/clock/advance", {"seconds": 86400}).json()["now"]
    from datetime import datetime

    moved = datetime.fromisoformat(advanced.replace("Z", "+00:00"))
    assert moved - before >= timedelta(days=1)
    assert sandbox.now() >= moved
    assert control(sandbox, "POST", "/sandbox/clock/advance", {"seconds": -1}).status_code == 422
    assert sandbox.advance(0) >= moved


async def test_stats_grow_monotonically_with_the_clock(tenant: Tenant, sandbox: SandboxServer) -> None:
    post = await tenant.client.posts.create("measure me", [tenant.twitter, tenant.instagram], media=["https://cdn.example.com/m.jpg"])
    sandbox.advance(2)
    empty = await tenant.client.posts.stats([post.id])
    assert [len(p.records) for p in empty.data[post.id].platforms] == [0, 0]
    sandbox.advance(5 * 3600)
    stats = await tenant.client.posts.stats([post.id])
    by_platform = {p.platform: p for p in stats.data[post.id].platforms}
    twitter = by_platform["twitter"].records
    assert len(twitter) == 5
    assert set(twitter[0].stats) == {"impressions", "likes", "retweets", "comments", "quotes", "saved"}
    assert set(twitter[0].raw_stats) == {"impression_count", "like_count", "retweet_count", "reply_count", "quote_count", "bookmark_count"}
    assert set(by_platform["instagram"].records[0].stats) == {"impressions", "likes", "comments", "saved", "profile_visits", "follows"}
    assert by_platform["instagram"].records[0].raw_stats["views"] == by_platform["instagram"].records[0].stats["impressions"]
    for metric in twitter[0].stats:
        values = [r.stats[metric] for r in twitter]
        assert values == sorted(values)
    assert twitter[-1].stats["impressions"] > twitter[0].stats["impressions"]
    assert [r.recorded_at for r in twitter] == sorted(r.recorded_at for r in twitter)
    again = await tenant.client.posts.stats([post.id])
    assert again == stats  # deterministic
    window = await tenant.client.posts.stats(
        [post.id], profiles=["twitter"], from_date=twitter[1].recorded_at, to_date=twitter[3].recorded_at
    )
    assert [p.platform for p in window.data[post.id].platforms] == ["twitter"]
    assert [r.recorded_at for r in window.data[post.id].platforms[0].records] == [r.recorded_at for r in twitter[1:4]]
    fetched = await tenant.client.posts.get(post.id)
    tw = next(p for p in fetched.platforms if p.platform == "twitter")
    assert tw.insights is not None and tw.insights.impressions == twitter[-1].stats["impressions"]


async def test_expire_profile_makes_publishing_fail(tenant: Tenant, sandbox: SandboxServer) -> None:
    assert control(sandbox, "POST", f"/sandbox/profiles/{tenant.twitter}/expire").json()["status"] == "expired"
    assert (await tenant.client.profiles.get(tenant.twitter)).status == "expired"
    post = await tenant.client.posts.create("to an expired profile", [tenant.twitter])
    sandbox.advance(3)
    result = (await tenant.client.posts.get(post.id)).platforms[0]
    assert result.status == "failed" and "expired" in (result.error or "")


async def test_seed_creates_published_posts_in_bulk(account_client: PostProxy, sandbox: SandboxServer) -> None:
    group = await account_client.profile_groups.create("Bench")
    profile = await connect_profile(account_client, group.id, "linkedin")
    response = control(sandbox, "POST", "/sandbox/seed", {"profile_id": profile, "count": 250, "spacing_seconds": 0})
    assert response.status_code == 201
    post_ids = response.json()["post_ids"]
    assert len(post_ids) == 250 and len(sandbox.state.posts) == 250
    page = await account_client.posts.list(profile_group_id=group.id, per_page=100)
    assert page.total == 250 and all(p.status == "processed" for p in page.data)
    assert (await account_client.profiles.get(profile)).post_count == 250
    sandbox.advance(2 * 3600)
    stats = await account_client.posts.stats(post_ids[:50])
    assert len(stats.data) == 50 and all(len(s.platforms[0].records) == 2 for s in stats.data.values())


async def test_direct_profile_creation_for_setup(account_client: PostProxy, sandbox: SandboxServer) -> None:
    group = await account_client.profile_groups.create("Direct")
    made = control(sandbox, "POST", "/sandbox/profiles", {"profile_group_id": group.id, "platform": "tiktok", "name": "Acme TikTok"})
    assert made.status_code == 201
    profile = await account_client.profiles.get(made.json()["id"])
    assert (profile.platform, profile.name, profile.status) == ("tiktok", "Acme TikTok", "active")
