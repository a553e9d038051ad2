"""Webhooks: subscriptions through the SDK, signed deliveries checked with the SDK's own verifier."""

from __future__ import annotations

import time

import pytest
from postproxy import NotFoundError, PostProxy, ValidationError
from postproxy.webhooks import parse_event_typed, verify_signature

from postpipe.sandbox import SandboxServer

from .conftest import Tenant
from .helpers import WebhookListener, connect_profile, control, wait_until

pytestmark = pytest.mark.anyio


def assert_genuine(request: object, secret: str) -> None:
    from .helpers import CapturedRequest

    assert isinstance(request, CapturedRequest)
    signature = request.headers["x-postproxy-signature"]
    assert verify_signature(request.text, signature, secret)
    assert not verify_signature(request.text, signature, secret + "x")
    assert not verify_signature(request.text.replace('"', "'", 1), signature, secret)
    timestamp = int(signature.split(",")[0].removeprefix("t="))
    assert abs(timestamp - time.time()) < 300  # wall-clock time, whatever the sandbox clock says
    envelope, data = parse_event_typed(request.body)
    assert envelope.id.startswith("evt_") and envelope.type == request.headers["x-postproxy-event"]
    assert request.headers["user-agent"] == "Postproxy-Webhooks/1.0"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-postproxy-delivery"]
    assert data is not None


async def test_webhook_crud(account_client: PostProxy) -> None:
    created = await account_client.webhooks.create("https://hooks.example/a", ["*"], description="all")
    assert created.secret and created.secret.startswith("whsec_") and created.enabled
    assert (await account_client.webhooks.get(created.id)).secret == created.secret
    assert [w.id for w in (await account_client.webhooks.list()).data] == [created.id]
    updated = await account_client.webhooks.update(created.id, events=["post.processed"], enabled=False, description="one")
    assert (updated.events, updated.enabled, updated.description) == (["post.processed"], False, "one")
    with pytest.raises(ValidationError, match="Unknown event type: post.published"):
        await account_client.webhooks.create("https://hooks.example/b", ["post.published"])
    with pytest.raises(ValidationError):
        await account_client.webhooks.create("ftp://hooks.example/b", ["*"])
    assert (await account_client.webhooks.delete(created.id)).deleted
    with pytest.raises(NotFoundError):
        await account_client.webhooks.get(created.id)


async def test_every_event_kind_is_signed_and_parses(
    account_client: PostProxy, sandbox: SandboxServer, listener: WebhookListener
) -> None:
    hook = await account_client.webhooks.create(listener.url, ["*"])
    assert hook.secret
    group = await account_client.profile_groups.create("Hooks")
    twitter = await connect_profile(account_client, group.id, "twitter")
    linkedin = await connect_profile(account_client, group.id, "linkedin")
    threads = await connect_profile(account_client, group.id, "threads")
    control(sandbox, "POST", "/sandbox/faults", {"scope": "platform", "platform": "linkedin", "mode": "fail", "error": "Token revoked"})
    control(sandbox, "POST", "/sandbox/faults", {"scope": "platform", "platform": "threads", "mode": "fail_then_succeed", "count": 1, "error": "Busy"})
    post = await account_client.posts.create("All kinds", [twitter, linkedin, threads], profile_group_id=group.id)
    sandbox.advance(10)
    sandbox.advance(3600)
    control(sandbox, "POST", f"/sandbox/profiles/{twitter}/expire")
    await account_client.profiles.delete(linkedin)
    sandbox.advance(1)

    kinds = {r.payload["type"] for r in listener.events()}
    assert kinds == {
        "profile.connected",
        "platform_post.published",
        "platform_post.failed",
        "platform_post.failed_waiting_for_retry",
        "post.processed",
        "platform_post.insights",
        "profile.disconnected",
    }
    for request in listener.events():
        assert_genuine(request, hook.secret)

    failed = parse_event_typed(listener.events("platform_post.failed")[0].body)[1]
    assert (failed.platform, failed.status, failed.error, failed.post_id) == ("linkedin", "failed", "Token revoked", post.id)
    retry = parse_event_typed(listener.events("platform_post.failed_waiting_for_retry")[0].body)[1]
    assert (retry.platform, retry.status, retry.error) == ("threads", "failed", "Busy")
    published = [parse_event_typed(r.body)[1] for r in listener.events("platform_post.published")]
    assert {p.platform for p in published} == {"twitter", "threads"} and all(p.platform_id for p in published)
    processed = parse_event_typed(listener.events("post.processed")[0].body)[1]
    assert processed.id == post.id and processed.status == "processed"
    assert {p.id for p in processed.platforms} == {twitter, linkedin, threads}
    insights = [parse_event_typed(r.body)[1] for r in listener.events("platform_post.insights")]
    assert {i.platform for i in insights} == {"twitter", "threads"} and all(i.insights["impressions"] > 0 for i in insights)
    disconnected = {d.id: d for d in (parse_event_typed(r.body)[1] for r in listener.events("profile.disconnected"))}
    assert disconnected[twitter].origin == "automated" and disconnected[twitter].status == "expired"
    assert disconnected[linkedin].origin == "user"

    # per post, the processed event never overtakes the platform events
    order = [r.payload["type"] for r in listener.events() if r.payload["data"].get("post_id", r.payload["data"]["id"]) == post.id]
    assert order.index("post.processed") > max(i for i, t in enumerate(order) if t.startswith("platform_post.") and t != "platform_post.insights")
    # created_at is sandbox time: the insights came an hour (of sandbox time) after publication
    envelope_times = [parse_event_typed(r.body)[0].created_at.timestamp() for r in listener.events("platform_post.insights")]
    assert all(t > time.time() + 3000 for t in envelope_times)


async def test_only_subscribed_enabled_hooks_receive(account_client: PostProxy, tenant: Tenant, sandbox: SandboxServer, listener: WebhookListener) -> None:
    await account_client.webhooks.create(listener.url + "?only=processed", ["post.processed"])
    disabled = await account_client.webhooks.create(listener.url + "?disabled=1", ["*"])
    await account_client.webhooks.update(disabled.id, enabled=False)
    scoped_hook = await tenant.client.webhooks.create(listener.url + "?scoped=1", ["*"])
    other = await account_client.profile_groups.create("Other")
    other_profile = await connect_profile(account_client, other.id, "twitter")
    await account_client.posts.create("other group", [other_profile], profile_group_id=other.id)
    await tenant.client.posts.create("tenant group", [tenant.twitter])
    sandbox.advance(5)
    by_path: dict[str, set[str]] = {}
    for request in listener.events():
        by_path.setdefault(request.path.split("?")[1], set()).add(request.payload["type"])
    assert by_path["only=processed"] == {"post.processed"}
    assert "disabled=1" not in by_path
    assert by_path["scoped=1"] == {"platform_post.published", "post.processed"}
    scoped_bodies = [r.payload["data"] for r in listener.events() if r.path.endswith("scoped=1")]
    assert all(d.get("body", "tenant group") == "tenant group" for d in scoped_bodies)
    assert [w.id for w in (await tenant.client.webhooks.list()).data] == [scoped_hook.id]
    with pytest.raises(NotFoundError):
        await tenant.client.webhooks.get(disabled.id)


async def test_failed_delivery_is_retried_with_backoff_and_logged(
    account_client: PostProxy, tenant: Tenant, sandbox: SandboxServer, listener: WebhookListener
) -> None:
    listener.statuses.extend([500, 503])
    hook = await account_client.webhooks.create(listener.url, ["post.processed"])
    post = await tenant.client.posts.create("retry me", [tenant.twitter])
    sandbox.advance(2)
    assert len(listener.events()) == 1
    sandbox.advance(59)
    assert len(listener.events()) == 1  # the next attempt is due 60 s after the first
    over_http = control(sandbox, "POST", "/sandbox/clock/advance", {"seconds": 2})
    assert over_http.status_code == 200 and over_http.json()["now"].endswith("Z")
    assert len(listener.events()) == 2  # attempted before the advance call answered
    sandbox.advance(300)
    received = listener.events()
    assert len(received) == 3
    assert {r.payload["id"] for r in received} == {received[0].payload["id"]}  # same event, new attempts
    assert len({r.headers["x-postproxy-delivery"] for r in received}) == 3
    assert received[0].payload["data"]["id"] == post.id
    deliveries = await account_client.webhooks.deliveries(hook.id)
    assert deliveries.total == 3
    log = sorted(deliveries.data, key=lambda d: d.attempt_number)
    assert [(d.attempt_number, d.response_status, d.success) for d in log] == [(1, 500, False), (2, 503, False), (3, 200, True)]
    assert log[1].attempted_at - log[0].attempted_at >= __import__("datetime").timedelta(seconds=60)
    page = await account_client.webhooks.deliveries(hook.id, page=1, per_page=2)
    assert (page.total, page.page, len(page.data)) == (3, 1, 1)


async def test_unreachable_receiver_records_null_status(account_client: PostProxy, tenant: Tenant, sandbox: SandboxServer) -> None:
    hook = await account_client.webhooks.create("http://127.0.0.1:9/nothing-listens-here", ["post.processed"])
    await tenant.client.posts.create("nobody home", [tenant.twitter])
    sandbox.advance(2)
    deliveries = await account_client.webhooks.deliveries(hook.id)
    assert [(d.response_status, d.success) for d in deliveries.data] == [(None, False)]


async def test_live_delivery_without_advancing(account_client: PostProxy, tenant: Tenant, listener: WebhookListener) -> None:
    await account_client.webhooks.create(listener.url, ["post.processed"])
    await tenant.client.posts.create("real time", [tenant.twitter])
    await wait_until(lambda: len(listener.events("post.processed")) == 1, timeout=6)
