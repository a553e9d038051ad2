"""The flows of this area under Prefect's test harness, against the sandbox over real HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from prefect.artifacts import Artifact
from sqlalchemy import select

from postpipe import models as m
from postpipe.db import system_scope
from postpipe.models import utcnow
from postpipe.postproxy import tenant_client
from postpipe.repositories import accounts, connection_requests, deliveries, notifications, webhook_events
from postpipe.repositories.webhook_events import Match
from tests.webhooks.conftest import T0, sandbox_tenant, seed_tenant


def test_reconcile_polls_postproxy_replays_and_rematches(pg_db: str, sandbox, prefect_harness: None) -> None:  # type: ignore[no-untyped-def]
    from flows.reconcile import reconcile_deliveries

    st = sandbox_tenant(sandbox.base_url, posts=0)

    async def publish() -> str:
        async with tenant_client(st.seed.tenant_id) as client:
            return (await client.posts.create("hello from the sandbox", [st.profile_id])).id

    ref = asyncio.run(publish())
    sandbox.advance(10)  # the sandbox publishes it; no webhook is subscribed, so only polling can tell
    with system_scope("test set-up") as s:
        author = s.scalar(select(m.Member.id).where(m.Member.tenant_id == st.seed.tenant_id))
        post = m.Post(tenant_id=st.seed.tenant_id, author_id=author, body="hello", content_hash="2" * 64,
                      status="publishing", postproxy_post_id=ref)
        s.add(post)
        s.flush()
        deliveries.record_targets(s, st.seed.tenant_id, post.id, st.seed.accounts.values())
        # an event that arrived before its post was known, and a matched one Prefect never got
        webhook_events.insert_once(s, event_id="evt_early", type="post.processed", payload={"data": {"id": ref}},
                                   occurred_at=T0, match=Match(False, note="unknown post"))
        webhook_events.insert_once(s, event_id="evt_unemitted", type="post.processed", payload={"data": {"id": ref}},
                                   occurred_at=T0, match=Match(True, st.seed.tenant_id, post.id),
                                   received_at=utcnow() - timedelta(minutes=5))
        webhook_events.insert_once(s, event_id="evt_stranger", type="post.processed", payload={"data": {"id": "p_x"}},
                                   occurred_at=T0, match=Match(False, note="no post p_x"))
        post_id = post.id

    summary = asyncio.run(reconcile_deliveries(deadline_minutes=0))

    assert summary["deliveries_advanced"] == 1 and summary["rematched"] == 1 and summary["unmatched_events"] == 1
    assert summary["emitted"] >= 1
    with system_scope("test") as s:
        (d,) = deliveries.for_post(s, post_id)
        assert d.status == "published" and d.attempts == 1 and d.permalink
        early, unemitted = webhook_events.get(s, "evt_early"), webhook_events.get(s, "evt_unemitted")
        assert early is not None and early.matched and early.tenant_id == st.seed.tenant_id
        assert unemitted is not None and unemitted.emitted_at is not None
    artifact = Artifact.get("reconcile-deliveries")
    assert artifact is not None and "evt_stranger" in str(artifact.data)
    # a second run finds nothing more to do
    again = asyncio.run(reconcile_deliveries(deadline_minutes=0))
    assert again["deliveries_advanced"] == 0 and again["rematched"] == 0


def test_handle_profile_disconnected_is_idempotent(pg_db: str, sandbox, prefect_harness: None) -> None:  # type: ignore[no-untyped-def]
    from flows.reactions import handle_profile_disconnected

    st = sandbox_tenant(sandbox.base_url, posts=2)
    first = asyncio.run(handle_profile_disconnected(st.profile_id))
    second = asyncio.run(handle_profile_disconnected(st.profile_id))
    assert first["known"] and first["notified"] == 1 and second["notified"] == 0
    assert first["link"] == second["link"] and "/sandbox/connect/" in first["link"]
    assert len(first["posts_held"]) == 2
    with system_scope("test") as s:
        account = accounts.find_by_profile(s, st.profile_id)
        assert account is not None and account.status == "expired" and not account.connected
        (request,) = connection_requests.list_pending(s, st.seed.tenant_id)
        assert request.refresh and request.url == first["link"]
        notes = notifications.list_for_tenant(s, st.seed.tenant_id, kind="reconnect_account")
        assert [n.recipient for n in notes] == [st.seed.admin_email] and first["link"] in notes[0].body
        flagged = s.scalars(select(m.Post.needs_reconnect).where(m.Post.tenant_id == st.seed.tenant_id)).all()
        assert flagged == [True, True]
    assert asyncio.run(handle_profile_disconnected("prof_unknown")) == {"profile_id": "prof_unknown", "known": False}


def test_notify_delivery_failure_once_per_delivery(pg_db: str, prefect_harness: None) -> None:
    from flows.reactions import notify_delivery_failure

    seed = seed_tenant()
    with system_scope("test set-up") as s:
        post_id, account_id = seed.posts["p_acme_0"], seed.accounts["prof_x"]
        deliveries.advance(s, seed.tenant_id, post_id, account_id, "failed", at=T0, error="Aspect ratio not supported", attempt=True)
    assert asyncio.run(notify_delivery_failure("p_acme_0", "prof_x"))["notified"] == 1
    assert asyncio.run(notify_delivery_failure("p_acme_0", "prof_x"))["notified"] == 0
    assert asyncio.run(notify_delivery_failure("p_acme_0", "prof_ig"))["notified"] == 0  # still pending: no failure
    with system_scope("test") as s:
        (note,) = notifications.list_for_tenant(s, seed.tenant_id)
    assert "Aspect ratio not supported" in note.body and note.recipient == seed.admin_email
