"""The approval-to-publish pipeline: draft, review step by step, publish once, confirm per platform."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from prefect import flow
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.runtime import deployment, flow_run

from postpipe.db import system_scope
from postpipe.drafting import NewPost
from postpipe.repositories import posts
from postpipe.settings import get_settings
from tasks.publishing import (
    check_schedule,
    confirm_deliveries,
    ensure_draft,
    expire_post,
    finish_post,
    publish_post,
    record_decision,
    review_status,
    start_pipeline,
    store_new_post,
)


class ReviewDecision(RunInput):
    """A reviewer's decision, as the Prefect UI's form and `postpipe approve|reject` submit it."""

    decision: Literal["approve", "reject"]
    reviewer: str
    comment: str = ""


class ReviewExpired(RuntimeError):
    """A review step waited past its timeout; the post is marked expired."""


def _run_name() -> str:
    post_id = flow_run.parameters.get("post_id")
    with system_scope("name the publishing run") as session:
        post = posts.get(session, uuid.UUID(str(post_id)))
    return f"{post.tenant_slug}-post-{str(post.id)[:8]}"


async def _wait_for_decision(status: dict[str, Any]) -> ReviewDecision:
    """Wait for the next reviewer's decision.

    Why two ways of waiting: a paused run keeps its process (and worker slot) alive while it polls for input,
    which is right for reviews of minutes (tests, the demo, runs started from the CLI). A suspended run exits
    and Prefect starts it again from the top once a reviewer resumes it, so a review that takes days holds no
    worker; that needs a deployment. This flow can be suspended because it is re-entrant: every step's outcome
    lives in PostgreSQL (draft id, decisions, status), each task is idempotent, and the pause key is the number
    of decisions recorded so far, so on re-entry the same key returns the input that resumed it.
    """
    settings = get_settings()
    remaining = (status["deadline"] - datetime.now(UTC)).total_seconds()
    if remaining <= 0:
        raise FlowPauseTimeout("review deadline already passed")
    form = ReviewDecision.with_initial_data(
        description=(
            f"### Review step {status['step']} of {status['steps']} (role: **{status['role']}**)\n\n"
            f"Needs {status['missing']} more approval(s) by {status['deadline']:%Y-%m-%d %H:%M} UTC. "
            f"Platforms: {', '.join(status['platforms'])}. If the scheduled time passes first: "
            f"**{status['on_missed_schedule'].replace('_', ' ')}**.\n\n> {status['body']}"
        ),
        decision="approve",
    )
    key = f"decision-{status['decisions']}"
    suspend = settings.approval_wait == "suspend" or (
        settings.approval_wait == "auto" and deployment.id is not None
    )
    if suspend:
        return await suspend_flow_run(wait_for_input=form, timeout=int(remaining) + 1, key=key)
    return await pause_flow_run(
        wait_for_input=form, timeout=int(remaining) + 1, poll_interval=settings.approval_poll_seconds, key=key
    )


async def _review(post_id: uuid.UUID) -> str:
    """Collect decisions until every step is approved ('approved'), or a rejection/expiry ends the review."""
    while True:
        status = review_status(post_id)
        if status["status"] not in posts.REVIEWING:
            return status["status"]
        if status["complete"]:
            return "approved"
        await ensure_draft(post_id)  # an edit while waiting changed the content: Postproxy re-validates it
        try:
            decision = await _wait_for_decision(status)
        except FlowPauseTimeout:
            reason = f"review step {status['step']} ({status['role']}) waited past its timeout"
            expire_post(post_id, reason)
            raise ReviewExpired(reason) from None
        verdict = record_decision(post_id, decision.decision, decision.reviewer, decision.comment)
        if verdict["accepted"] and decision.decision == "reject":
            return "rejected"


@flow(name="approve-and-publish", flow_run_name=_run_name)
async def approve_and_publish(post_id: uuid.UUID) -> dict[str, Any]:
    """Take one post from draft to confirmed delivery: Postproxy draft, review by the tenant's approval
    policy (decide in this run's form, or with `postpipe approve|reject`), publish now / scheduled / queued,
    confirm each platform. Safe to re-run for the same post: it continues where it stopped.

    Args:
        post_id: The postpipe post id (from `postpipe posts create` or the create-post flow).
    """
    if start_pipeline(post_id) in posts.FINAL:
        return finish_post(post_id)
    await ensure_draft(post_id)
    outcome = await _review(post_id)  # approved, rejected, expired, or already handed over by an earlier run
    if outcome == "approved":
        timing = check_schedule(post_id)
        if timing == "expired":
            return finish_post(post_id)
        outcome = await publish_post(post_id, publish_now=timing == "publish_now")
    if outcome == "publishing":
        settings = get_settings()
        await confirm_deliveries(post_id, settings.delivery_confirm_seconds, settings.delivery_poll_seconds)
    return finish_post(post_id)


@flow(name="create-post", flow_run_name="create-post-{tenant}")
async def create_post_flow(
    tenant: str,
    author: str,
    body: str,
    targets: list[str],
    media: list[str] | None = None,
    platform_params: dict[str, dict[str, Any]] | None = None,
    mode: Literal["now", "scheduled", "queue"] = "now",
    scheduled_at: datetime | None = None,
    queue_id: str | None = None,
    queue_priority: Literal["high", "medium", "low"] | None = None,
) -> str:
    """Validate and store a new post (nothing is stored if anything is wrong); returns its id. Start
    approve-and-publish with that id to send it to review.

    Args:
        tenant: Tenant slug.
        author: Email of the author (an active member of the tenant).
        body: The text of the post.
        targets: Postproxy profile ids of the tenant's accounts to publish to.
        media: Public URLs of images or videos (Instagram, TikTok, YouTube and Pinterest need one).
        platform_params: Per-platform parameters, e.g. {"youtube": {"title": "Launch", "privacy_status": "public"}}.
        mode: now, scheduled (give scheduled_at) or queue (give queue_id).
        scheduled_at: When to publish, with a time zone offset (mode scheduled).
        queue_id: The Postproxy queue that picks the time (mode queue).
        queue_priority: high, medium or low (mode queue).
    """
    request = NewPost(
        tenant=tenant, author=author, body=body, media=media or [], targets=targets,
        platform_params=platform_params or {}, mode=mode, scheduled_at=scheduled_at,
        queue_id=queue_id, queue_priority=queue_priority,
    )
    return str(store_new_post(request))
