"""Queued posts, crash-and-re-run at every step boundary, and many tenants' pipelines at once."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import datetime

import pytest
from postproxy import PostProxy

from flows.publishing import approve_and_publish
from postpipe.commands.review import submit
from postpipe.db import system_scope
from postpipe.postproxy import idempotency_key
from postpipe.repositories import deliveries
from postpipe.sandbox import SandboxServer
from tasks.publishing import ensure_draft, publish_post, record_decision, review_status
from tests.publishing.conftest import FlowInThread, wait_for, wait_until_paused
from tests.publishing.test_pipeline import TEAM, delivery_states, fault, new_post, post_of, postproxy_posts
from tests.tenants import connected_tenant

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _sdk(sandbox: SandboxServer, key: str):
    return PostProxy(key, base_url=sandbox.base_url)


def test_queued_post_takes_the_next_slot_in_the_queue_time_zone(world: SandboxServer) -> None:
    acme = connected_tenant(world, "acme", ["twitter"], team=TEAM)
    now_local = world.now().astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    slot_day = (now_local.isoweekday() + 1) % 7  # tomorrow, 0 = Sunday

    async def make_queue() -> str:
        async with _sdk(world, acme.key) as client:
            queue = await client.queues.create(
                "Weekday mornings", acme.group_id, timezone="America/New_York",
                timeslots=[{"day": slot_day, "time": "09:30"}],
            )
            return queue.id

    queue_id = asyncio.run(make_queue())
    post_id = new_post(acme, ["twitter"], mode="queue", queue_id=queue_id, queue_priority="high")
    run = FlowInThread(approve_and_publish, post_id)
    wait_until_paused(post_id)
    submit(post_id, "approve", "ann@acme.example")
    assert run.join()["status"] == "queued"
    (remote,) = postproxy_posts(world, acme.key)
    assert remote.status == "scheduled" and remote.queue_id == queue_id
    slot = datetime.fromisoformat(str(remote.scheduled_at)).astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert (slot.hour, slot.minute) == (9, 30)
    world.advance((slot - world.now()).total_seconds() + 120)
    wait_for(lambda: delivery_states(post_id)["twitter"][0] == "published")


def test_crash_at_every_step_boundary_then_rerun_publishes_exactly_once(world: SandboxServer) -> None:
    """Each case leaves the world as a crash at that point would, then runs the whole flow again."""
    acme = connected_tenant(world, "acme", ["twitter", "linkedin"], team=TEAM)

    def crash_after_draft_created_before_stored(post_id: uuid.UUID) -> None:
        post = post_of(post_id)

        async def lost_response() -> None:  # Postproxy created the draft; our process died before storing its id
            async with _sdk(world, acme.key) as client:
                await client.posts.create(
                    post.body, profiles=[t.profile_id for t in post.targets], draft=True,
                    idempotency_key=idempotency_key("post", post.id, "create"),
                )

        asyncio.run(lost_response())

    def crash_after_draft(post_id: uuid.UUID) -> None:
        asyncio.run(ensure_draft(post_id))

    def crash_after_approval(post_id: uuid.UUID) -> None:
        asyncio.run(ensure_draft(post_id))
        review_status(post_id)
        record_decision(post_id, "approve", "ann@acme.example", "")

    def crash_after_publish_before_stored(post_id: uuid.UUID) -> None:
        crash_after_approval(post_id)
        post = post_of(post_id)

        async def lost_response() -> None:
            async with _sdk(world, acme.key) as client:
                await client.posts.publish_draft(post.postproxy_post_id, idempotency_key=idempotency_key("post", post.id, "publish"))

        asyncio.run(lost_response())

    def crash_after_publish(post_id: uuid.UUID) -> None:
        crash_after_approval(post_id)
        asyncio.run(publish_post(post_id, publish_now=False))

    cases = [crash_after_draft_created_before_stored, crash_after_draft, crash_after_approval,
             crash_after_publish_before_stored, crash_after_publish]
    for number, crash in enumerate(cases):
        post_id = new_post(acme, ["twitter", "linkedin"], body=f"Exactly once, case {number}")
        crash(post_id)
        if post_of(post_id).status == "awaiting_approval":
            run = FlowInThread(approve_and_publish, post_id)
            wait_until_paused(post_id)
            submit(post_id, "approve", "ann@acme.example")
            result = run.join()
        else:
            result = asyncio.run(approve_and_publish(post_id))
        assert result["status"] == "published", (crash.__name__, result)
        asyncio.run(approve_and_publish(post_id))  # and a re-run of the finished post
        remote = [p for p in postproxy_posts(world, acme.key) if p.body == f"Exactly once, case {number}"]
        assert len(remote) == 1, crash.__name__
        assert {s for s, _ in delivery_states(post_id).values()} == {"published"}, crash.__name__


def test_transient_postproxy_errors_are_retried(world: SandboxServer) -> None:
    acme = connected_tenant(world, "acme", ["twitter"], team=TEAM)
    post_id = new_post(acme, ["twitter"])
    fault(world, scope="api", status=503, count=2, path_prefix="/api/posts")
    fault(world, scope="api", status=429, count=1, retry_after=0.2, path_prefix="/api/posts")
    run = FlowInThread(approve_and_publish, post_id)
    wait_until_paused(post_id)
    submit(post_id, "approve", "ann@acme.example")
    assert run.join()["status"] == "published"
    assert len(postproxy_posts(world, acme.key)) == 1


def test_ten_tenants_publish_at_once_each_seeing_only_its_own(world: SandboxServer) -> None:
    team = lambda slug: {f"author@{slug}.example": "creator", f"ann@{slug}.example": "approver"}  # noqa: E731
    tenants = [connected_tenant(world, f"t{i}", ["twitter"], team=team(f"t{i}")) for i in range(10)]
    post_ids = [
        new_post(t, ["twitter"], author=f"author@{t.slug}.example", body=f"Hello from {t.slug}") for t in tenants
    ]

    async def all_runs() -> list[dict]:
        return await asyncio.gather(*(approve_and_publish(p) for p in post_ids))

    results: list[dict] = []
    runner = threading.Thread(target=lambda: results.extend(asyncio.run(all_runs())), daemon=True)
    runner.start()
    for tenant, post_id in zip(tenants, post_ids, strict=True):
        wait_until_paused(post_id, timeout=60)
        other = tenants[(tenants.index(tenant) + 1) % len(tenants)]
        with pytest.raises(Exception, match="not a member"):  # another tenant's approver cannot decide
            submit(post_id, "approve", f"ann@{other.slug}.example")
        submit(post_id, "approve", f"ann@{tenant.slug}.example")
    runner.join(120)
    assert [r["status"] for r in results] == ["published"] * 10
    for tenant, post_id in zip(tenants, post_ids, strict=True):
        bodies = [p.body for p in postproxy_posts(world, tenant.key)]
        assert bodies == [f"Hello from {tenant.slug}"]  # a scoped key sees its own post only
        with system_scope("test") as session:
            assert [d.status for d in deliveries.for_post(session, post_id)] == ["published"]
