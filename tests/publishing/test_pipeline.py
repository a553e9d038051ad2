"""The approval-to-publish pipeline against the sandbox, the receiver, PostgreSQL and Prefect."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from postproxy import PostProxy

from flows.publishing import ReviewExpired, approve_and_publish
from postpipe.cli import CommandError
from postpipe.commands.review import submit
from postpipe.db import system_scope
from postpipe.drafting import NewPost, PostValidationError, create_post
from postpipe.repositories import approvals, deliveries, posts
from postpipe.sandbox import SandboxServer
from tests.publishing.conftest import FlowInThread, wait_for, wait_until_paused
from tests.tenants import connected_tenant

pytestmark = pytest.mark.usefixtures("prefect_harness")

TEAM = {"author@acme.example": "creator", "ann@acme.example": "approver", "bob@acme.example": "approver",
        "boss@acme.example": "admin"}


def new_post(tenant, targets: list[str], **extra) -> uuid.UUID:
    fields = dict(tenant=tenant.slug, author="author@acme.example", body="Launch day at Acme!",
                  targets=[tenant.profiles[p] for p in targets])
    fields.update(extra)
    with system_scope("test") as session:
        return create_post(session, NewPost(**fields)).id


def post_of(post_id: uuid.UUID) -> posts.PostInfo:
    with system_scope("test") as session:
        return posts.get(session, post_id)


def delivery_states(post_id: uuid.UUID) -> dict[str, tuple[str, str | None]]:
    with system_scope("test") as session:
        return {d.platform: (d.status, d.permalink or d.error) for d in deliveries.for_post(session, post_id)}


def postproxy_posts(sandbox: SandboxServer, key: str) -> list:
    async def fetch() -> list:
        async with PostProxy(key, base_url=sandbox.base_url) as client:
            return (await client.posts.list(per_page=100)).data

    return asyncio.run(fetch())


def fault(sandbox: SandboxServer, **body) -> None:
    httpx.post(f"{sandbox.base_url}/sandbox/faults", json=body,
               headers={"Authorization": f"Bearer {sandbox.account_key}"}).raise_for_status()


def test_publish_now_end_to_end(world: SandboxServer) -> None:
    acme = connected_tenant(world, "acme", ["twitter", "linkedin"], team=TEAM)
    post_id = new_post(acme, ["twitter", "linkedin"])
    run = FlowInThread(approve_and_publish, post_id)
    wait_until_paused(post_id)
    assert post_of(post_id).postproxy_post_id is not None  # the draft exists before anyone approves
    assert "recorded at step 1" in submit(post_id, "approve", "ann@acme.example", "ship it")
    result = run.join()
    assert result["status"] == "published"
    states = delivery_states(post_id)
    assert {p: s for p, (s, _) in states.items()} == {"twitter": "published", "linkedin": "published"}
    assert all(link and link.startswith("http") for _, link in states.values())
    assert len(postproxy_posts(world, acme.key)) == 1
    again = asyncio.run(approve_and_publish(post_id))  # a re-run of a finished post changes nothing
    assert again["status"] == "published" and len(postproxy_posts(world, acme.key)) == 1


def test_two_steps_reject_at_step_two_with_feedback_and_refusals(world: SandboxServer) -> None:
    acme = connected_tenant(world, "acme", ["twitter"], team=TEAM, steps=[("approver", 2, 3600), ("admin", 1, 3600)])
    post_id = new_post(acme, ["twitter"])
    run = FlowInThread(approve_and_publish, post_id)
    wait_until_paused(post_id)
    with pytest.raises(CommandError, match="authors cannot review"):
        submit(post_id, "approve", "author@acme.example")
    with pytest.raises(CommandError, match="needs a reviewer with role 'approver'"):
        submit(post_id, "approve", "boss@acme.example")
    submit(post_id, "approve", "ann@acme.example")
    wait_until_paused(post_id)
    with pytest.raises(CommandError, match="already approved"):
        submit(post_id, "approve", "ann@acme.example")
    submit(post_id, "approve", "bob@acme.example")
    wait_until_paused(post_id)
    with pytest.raises(CommandError, match="a rejection needs a comment"):
        submit(post_id, "reject", "boss@acme.example", "")
    submit(post_id, "reject", "boss@acme.example", "Wrong launch date, use the 12th")
    result = run.join()
    assert result["status"] == "rejected"
    post = post_of(post_id)
    assert "Wrong launch date" in (post.status_reason or "")
    with system_scope("test") as session:
        trail = [(d.reviewer_email.split("@")[0], d.step_position, d.decision, d.accepted)
                 for d in approvals.decisions(session, post_id)]
    assert trail == [
        ("author", 1, "approve", False), ("boss", 1, "approve", False), ("ann", 1, "approve", True),
        ("ann", 1, "approve", False), ("bob", 1, "approve", True), ("boss", 2, "reject", False),
        ("boss", 2, "reject", True),
    ]
    assert delivery_states(post_id) == {}  # nothing was published
    assert [p.status for p in postproxy_posts(world, acme.key)] == ["draft"]


def test_review_that_waits_too_long_expires(world: SandboxServer) -> None:
    acme = connected_tenant(world, "acme", ["twitter"], team=TEAM, steps=[("approver", 1, 2)])
    post_id = new_post(acme, ["twitter"])
    with pytest.raises(ReviewExpired, match="waited past its timeout"):
        asyncio.run(approve_and_publish(post_id))
    assert post_of(post_id).status == "expired"


def test_edit_during_review_restarts_it(world: SandboxServer) -> None:
    acme = connected_tenant(world, "acme", ["twitter"], team=TEAM, steps=[("approver", 1, 3600), ("admin", 1, 3600)])
    post_id = new_post(acme, ["twitter"])
    run = FlowInThread(approve_and_publish, post_id)
    wait_until_paused(post_id)
    submit(post_id, "approve", "ann@acme.example")
    wait_until_paused(post_id)
    with system_scope("test") as session:
        posts.edit_content(session, post_id, body="Launch day at Acme! Now with the right date.")
    with pytest.raises(CommandError, match="step 1 needs a reviewer with role 'approver'"):
        submit(post_id, "approve", "boss@acme.example")  # step 2's reviewer: but the review is back at step 1
    submit(post_id, "approve", "ann@acme.example")  # ann may approve the new content again
    wait_until_paused(post_id)
    submit(post_id, "approve", "boss@acme.example")
    assert run.join()["status"] == "published"
    (remote,) = postproxy_posts(world, acme.key)
    assert remote.body == "Launch day at Acme! Now with the right date."


def test_one_platform_failing_for_good_gives_partially_published(world: SandboxServer) -> None:
    acme = connected_tenant(world, "acme", ["twitter", "linkedin", "threads"], team=TEAM)
    fault(world, scope="platform", platform="linkedin", mode="fail", count=None, error="Organization token revoked")
    fault(world, scope="platform", platform="threads", mode="fail_then_succeed", count=1, error="Threads is busy")
    post_id = new_post(acme, ["twitter", "linkedin", "threads"])
    run = FlowInThread(approve_and_publish, post_id)
    wait_until_paused(post_id)
    submit(post_id, "approve", "ann@acme.example")
    result = run.join()
    assert result["status"] == "partially_published"
    states = delivery_states(post_id)
    assert states["linkedin"] == ("failed", "Organization token revoked")
    assert states["threads"][0] == "published" and states["twitter"][0] == "published"
    with system_scope("test") as session:
        threads = next(d for d in deliveries.for_post(session, post_id) if d.platform == "threads")
    assert threads.attempts >= 2  # failed once (waiting for retry), then published


def test_scheduled_post_publishes_when_the_sandbox_clock_reaches_it(world: SandboxServer) -> None:
    acme = connected_tenant(world, "acme", ["twitter"], team=TEAM)
    post_id = new_post(acme, ["twitter"], mode="scheduled", scheduled_at=datetime.now(UTC) + timedelta(hours=3))
    run = FlowInThread(approve_and_publish, post_id)
    wait_until_paused(post_id)
    submit(post_id, "approve", "ann@acme.example")
    assert run.join()["status"] == "scheduled"  # the run ends once Postproxy holds it
    assert delivery_states(post_id) == {"twitter": ("pending", None)}
    world.advance(3 * 3600 + 60)
    wait_for(lambda: delivery_states(post_id)["twitter"][0] == "published")


def test_bad_posts_are_refused_before_anything_is_stored(world: SandboxServer) -> None:
    acme = connected_tenant(world, "acme", ["twitter", "youtube"], team=TEAM)
    other = connected_tenant(world, "other", ["twitter"], team={"x@other.example": "creator"})
    with system_scope("test") as session:  # one session: what a refused create wrote would still be visible here
        with pytest.raises(PostValidationError) as error:
            create_post(session, NewPost(tenant="acme", author="author@acme.example", body="x" * 300,
                                         targets=[acme.profiles["twitter"], acme.profiles["youtube"]]))
        assert "twitter.body: 300 characters, the limit is 280" in str(error.value)
        assert "youtube.media" in str(error.value) and "youtube.title: required" in str(error.value)
        with pytest.raises(PostValidationError, match="is not an account of acme"):
            create_post(session, NewPost(tenant="acme", author="author@acme.example", body="hi",
                                         targets=[other.profiles["twitter"]]))
        assert posts.count_by_status(session) == {}
