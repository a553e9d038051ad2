"""Tasks that confirm deliveries: replaying stored webhook events, re-matching, and polling Postproxy."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from postpipe.db import system_scope
from postpipe.delivery_polling import PolledResult, apply_results, results_of
from postpipe.models import utcnow
from postpipe.postproxy import call_with_retries, tenant_client
from postpipe.repositories import deliveries, webhook_events
from postpipe.webhooks import apply
from postpipe.webhooks.events import EmissionError, PrefectEventSink, emit_stored

SCOPE = "reconcile deliveries"


@task(name="rematch-unmatched-events", cache_policy=NO_CACHE)
def rematch_unmatched_events(limit: int = 500) -> list[str]:
    """Match stored events again whose post or profile was unknown when they arrived; returns their event ids."""
    with system_scope(SCOPE) as session:
        matched = [e.event_id for e in webhook_events.unmatched(session, limit=limit) if apply.rematch(session, e)]
    if matched:
        get_run_logger().info("re-matched %d webhook event(s)", len(matched))
    return matched


@task(name="emit-stored-events", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
async def emit_stored_events(grace_seconds: int = 60, limit: int = 1000) -> int:
    """Turn stored, matched events that were never emitted (Prefect was down) into Prefect events."""

    def mark(ids: list[uuid.UUID]) -> None:
        with system_scope(SCOPE) as session:
            webhook_events.mark_emitted(session, ids)

    # events younger than the grace period may still be on their way out of the receiver itself
    with system_scope(SCOPE) as session:
        pending = webhook_events.unemitted(
            session, received_before=utcnow() - timedelta(seconds=grace_seconds), limit=limit
        )
    if not pending:
        return 0
    sink = PrefectEventSink()
    try:
        return await emit_stored(sink, pending, mark)
    except EmissionError as exc:
        get_run_logger().warning("could not emit %d stored event(s): %s", len(pending), exc)
        raise
    finally:
        await sink.aclose()  # its websocket to Prefect's events API


@task(name="unfinished-deliveries", cache_policy=NO_CACHE)
def unfinished_deliveries(deadline_minutes: int, limit: int = 500) -> list[deliveries.UnfinishedDelivery]:
    """Deliveries still not published or failed after the deadline since their creation or last news."""
    with system_scope(SCOPE) as session:
        return deliveries.unfinished(session, utcnow() - timedelta(minutes=deadline_minutes), limit=limit)


@task(name="poll-postproxy-post", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
async def poll_postproxy_post(tenant_id: uuid.UUID, postproxy_post_id: str) -> list[PolledResult]:
    """Ask Postproxy (with the tenant's scoped key) how each platform of a post ended."""
    async with tenant_client(tenant_id) as client:
        found = await call_with_retries(lambda: client.posts.get(postproxy_post_id), what=f"get post {postproxy_post_id}")
    return results_of(found, now=utcnow())


@task(name="apply-polled-results", cache_policy=NO_CACHE)
def apply_polled_results(results: list[PolledResult]) -> list[dict[str, Any]]:
    """Apply polled outcomes through the same forward-only path as webhooks; returns what changed."""
    with system_scope(SCOPE) as session:
        return apply_results(session, results)


@task(name="list-unmatched-events", cache_policy=NO_CACHE)
def list_unmatched_events(limit: int = 50) -> list[dict[str, str]]:
    """Stored events that belong to no tenant, newest first (for the operator)."""
    with system_scope(SCOPE) as session:
        return [
            {"event": e.event_id, "type": e.type, "received": e.received_at.isoformat(timespec="seconds"),
             "why": e.note or ""}
            for e in webhook_events.unmatched(session, limit=limit)
        ]
