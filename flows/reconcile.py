"""Confirming deliveries when webhooks did not: replay, re-match, and ask Postproxy."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact

from postpipe.delivery_polling import PolledResult
from tasks.deliveries import (
    apply_polled_results,
    emit_stored_events,
    list_unmatched_events,
    poll_postproxy_post,
    rematch_unmatched_events,
    unfinished_deliveries,
)
from tasks.publishing import expire_overdue_reviews, settle_handed_over_posts

MAX_PARALLEL_POLLS = 8


def _table(rows: list[dict[str, Any]], empty: str) -> str:
    if not rows:
        return f"_{empty}_\n"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")).replace("|", "\\|") for c in columns) + " |")
    return "\n".join(lines) + "\n"


@flow(name="reconcile-deliveries")
async def reconcile_deliveries(deadline_minutes: int = 15, max_posts: int = 200) -> dict[str, int]:
    """Emit stored-but-unemitted webhook events, re-match events that arrived before their post, and poll
    Postproxy for deliveries with no final outcome ``deadline_minutes`` after their creation or last event.
    Then give scheduled and queued posts whose deliveries all ended their final state, and expire posts whose
    review waited past its timeout (a suspended review run has no process to notice).

    Args:
        deadline_minutes: Ask Postproxy about deliveries with no outcome this long after their last news.
        max_posts: At most this many posts are polled per run.
    """
    log = get_run_logger()
    rematched = rematch_unmatched_events()
    emitted = await emit_stored_events()
    stale = unfinished_deliveries(deadline_minutes)
    posts: dict[tuple[uuid.UUID, str], None] = {}
    for d in stale:
        posts.setdefault((d.tenant_id, d.postproxy_post_id), None)
    selected = list(posts)[:max_posts]
    gate = asyncio.Semaphore(MAX_PARALLEL_POLLS)

    async def poll(tenant_id: uuid.UUID, ref: str) -> list[PolledResult]:
        async with gate:
            return await poll_postproxy_post(tenant_id, ref)

    polled = await asyncio.gather(*(poll(t, ref) for t, ref in selected), return_exceptions=True)
    results: list[PolledResult] = []
    failures: list[dict[str, Any]] = []
    for (_, ref), outcome in zip(selected, polled, strict=True):
        if isinstance(outcome, BaseException):
            failures.append({"post": ref, "error": f"{type(outcome).__name__}: {outcome}"})
        else:
            results.extend(outcome)
    changes = apply_polled_results(results)
    settled = settle_handed_over_posts()
    expired = expire_overdue_reviews()
    unmatched = list_unmatched_events()
    summary = {
        "rematched": len(rematched), "emitted": emitted, "stale_deliveries": len(stale),
        "posts_polled": len(selected), "deliveries_advanced": len(changes), "poll_failures": len(failures),
        "posts_settled": len(settled), "reviews_expired": len(expired), "unmatched_events": len(unmatched),
    }
    await acreate_markdown_artifact(
        key="reconcile-deliveries",
        description="What delivery reconciliation did, and the webhook events no tenant claims",
        markdown=(
            "# Delivery reconciliation\n\n" + _table([summary], "nothing") +
            "\n## Deliveries advanced from Postproxy\n\n" + _table(changes, "none") +
            "\n## Posts that could not be polled\n\n" + _table(failures, "none") +
            "\n## Unmatched webhook events (newest first)\n\n" + _table(unmatched, "none")
        ),
    )
    log.info("reconcile-deliveries: %s", summary)
    return summary
