"""Tasks of the approval-to-publish pipeline. Each one is safe to repeat: a crash or a re-run of the whole
flow never creates a second Postproxy post nor publishes twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from postproxy import PlatformParams
from postproxy._exceptions import ConflictError
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from postpipe import approvals as rules
from postpipe import review
from postpipe.db import system_scope, tenant_scope
from postpipe.delivery_polling import apply_results, results_of
from postpipe.drafting import NewPost, create_post
from postpipe.models import utcnow
from postpipe.postproxy import call_with_retries, idempotency_key, tenant_client
from postpipe.repositories import approvals, deliveries, notifications, posts
from postpipe.repositories.posts import FINAL, PostInfo


def _tenant_of(post_id: uuid.UUID) -> uuid.UUID:
    with system_scope("publishing: find the post's tenant") as session:
        return posts.tenant_of(session, post_id)


def load(post_id: uuid.UUID) -> PostInfo:
    with tenant_scope(_tenant_of(post_id)) as session:
        return posts.get(session, post_id)


@task(name="store-new-post", cache_policy=NO_CACHE)
def store_new_post(request: NewPost) -> uuid.UUID:
    """Validate a new post against the tenant's members, accounts and platform rules, and store it."""
    with system_scope("create post") as session:
        post = create_post(session, request)
    get_run_logger().info("post %s created for %s (%s)", post.id, request.tenant, request.mode)
    return post.id


@task(name="start-pipeline", cache_policy=NO_CACHE)
def start_pipeline(post_id: uuid.UUID) -> str:
    """Attach this flow run to the post (so reviewers can resume it) and return the post's status."""
    tenant_id = _tenant_of(post_id)
    with tenant_scope(tenant_id) as session:
        post = posts.get(session, post_id)
        if post.status not in FINAL and flow_run.id:
            posts.set_flow_run(session, post_id, uuid.UUID(str(flow_run.id)))
        return post.status


def _draft_fields(post: PostInfo) -> dict[str, Any]:
    return {
        "profiles": [t.profile_id for t in post.targets],
        "media": list(post.media) or None,
        "platforms": PlatformParams.model_validate(post.platform_params) if post.platform_params else None,
    }


@task(name="ensure-draft", cache_policy=NO_CACHE)
async def ensure_draft(post_id: uuid.UUID) -> str:
    """Create the Postproxy draft once (Idempotency-Key from the post id) and keep it equal to the content."""
    post = load(post_id)
    log = get_run_logger()
    stale = post.draft_hash != post.content_hash and post.status in posts.REVIEWING
    if post.postproxy_post_id is not None and not stale:
        return post.postproxy_post_id
    async with tenant_client(post.tenant_id) as client:
        if post.postproxy_post_id is None:
            try:
                draft = await call_with_retries(
                    lambda: client.posts.create(
                        post.body, draft=True, idempotency_key=idempotency_key("post", post.id, "create"),
                        **_draft_fields(post),
                    ),
                    what="create draft",
                )
                draft_id = draft.id
            except ConflictError as exc:  # our own earlier draft, its idempotency window long gone
                draft_id = (exc.response or {}).get("duplicate_post_id")
                if not draft_id:
                    raise
                log.warning("post %s: adopting earlier Postproxy draft %s", post.id, draft_id)
            with tenant_scope(post.tenant_id) as session:
                posts.set_postproxy_id(session, post.id, draft_id, draft_hash=post.content_hash)
            log.info("post %s: Postproxy draft %s", post.id, draft_id)
            return draft_id
        await call_with_retries(
            lambda: client.posts.update(
                post.postproxy_post_id, body=post.body,
                idempotency_key=idempotency_key("post", post.id, "update", post.content_hash),
                **_draft_fields(post),
            ),
            what="update draft",
        )
    with tenant_scope(post.tenant_id) as session:
        posts.set_draft_hash(session, post.id, post.content_hash)
    log.info("post %s: draft updated after an edit", post.id)
    return post.postproxy_post_id


@task(name="review-status", cache_policy=NO_CACHE)
def review_status(post_id: uuid.UUID) -> dict[str, Any]:
    """Where the review stands: the step waiting for approvals, how many, until when (the deadline starts now)."""
    with tenant_scope(_tenant_of(post_id)) as session:
        post = posts.get(session, post_id)
        policy = approvals.policy(session, post.tenant_id)
        history = approvals.decisions(session, post_id)
        state = rules.review_state(policy.steps, history, post.content_hash)
        deadline = post.review_deadline
        if state.step is not None and deadline is None:
            deadline = utcnow() + timedelta(seconds=state.step.timeout_seconds)
            posts.set_review_deadline(session, post_id, deadline)
        return {
            "complete": state.complete,
            "step": None if state.step is None else state.step.position,
            "role": None if state.step is None else state.step.role,
            "missing": state.missing,
            "steps": len(policy.steps),
            "deadline": deadline,
            "decisions": len(history),
            "on_missed_schedule": policy.on_missed_schedule,
            "status": post.status,
            "body": post.body,
            "platforms": post.platforms,
        }


@task(name="record-decision", cache_policy=NO_CACHE)
def record_decision(post_id: uuid.UUID, decision: str, reviewer: str, comment: str) -> dict[str, Any]:
    """Judge a reviewer's decision against the policy and record it, accepted or refused, with the reason."""
    with tenant_scope(_tenant_of(post_id)) as session:
        verdict = review.judge(session, posts.get(session, post_id), decision, reviewer, comment, record_accepted=True)
    reason, step = verdict.reason, verdict.step
    log = get_run_logger()
    if reason:
        log.warning("post %s: decision by %s refused: %s", post_id, reviewer, reason)
    else:
        log.info("post %s: %s by %s accepted at step %d", post_id, decision, reviewer, step)
    return {"accepted": reason is None, "reason": reason, "decision": decision}


@task(name="expire-post", cache_policy=NO_CACHE)
def expire_post(post_id: uuid.UUID, reason: str) -> None:
    """The review waited too long, or the scheduled time passed: the post will not be published."""
    with tenant_scope(_tenant_of(post_id)) as session:
        if posts.get(session, post_id).status in posts.REVIEWING:
            posts.set_status(session, post_id, "expired", reason)
    get_run_logger().warning("post %s expired: %s", post_id, reason)


@task(name="check-schedule", cache_policy=NO_CACHE)
def check_schedule(post_id: uuid.UUID) -> str:
    """'on_time'; or, for a scheduled post approved after its time, the tenant's policy: 'publish_now' or 'expired'."""
    post = load(post_id)
    if post.publish_mode != "scheduled" or post.scheduled_at is None or post.scheduled_at > utcnow():
        return "on_time"
    with tenant_scope(post.tenant_id) as session:
        on_missed = approvals.policy(session, post.tenant_id).on_missed_schedule
    if on_missed == "expire":
        expire_post.fn(post_id, f"approved after its scheduled time {post.scheduled_at:%Y-%m-%d %H:%M} UTC")
        return "expired"
    get_run_logger().warning("post %s: scheduled time passed during review; publishing now (tenant policy)", post_id)
    return "publish_now"


@task(name="publish-post", cache_policy=NO_CACHE)
async def publish_post(post_id: uuid.UUID, publish_now: bool) -> str:
    """Hand the approved draft to Postproxy: now, at its scheduled time, or into its queue (exactly once)."""
    post = load(post_id)
    if post.postproxy_post_id is None:
        raise RuntimeError(f"post {post_id} has no Postproxy draft")
    mode = "now" if publish_now else post.publish_mode
    with tenant_scope(post.tenant_id) as session:
        deliveries.record_targets(session, post.tenant_id, post.id, [t.account_id for t in post.targets])
    async with tenant_client(post.tenant_id) as client:
        remote = await call_with_retries(lambda: client.posts.get(post.postproxy_post_id), what="read draft")
        if remote.status == "draft":  # not yet handed over (a re-run after this point skips the call)
            key = idempotency_key("post", post.id, "publish")
            if mode == "now":
                call = lambda: client.posts.publish_draft(post.postproxy_post_id, idempotency_key=key)  # noqa: E731
            elif mode == "scheduled":
                call = lambda: client.posts.update(  # noqa: E731
                    post.postproxy_post_id, scheduled_at=post.scheduled_at, draft=False, idempotency_key=key
                )
            else:
                call = lambda: client.posts.update(  # noqa: E731
                    post.postproxy_post_id, queue_id=post.queue_id, queue_priority=post.queue_priority,
                    draft=False, idempotency_key=key,
                )
            remote = await call_with_retries(call, what=f"publish ({mode})")
    status = {"now": "publishing", "scheduled": "scheduled", "queue": "queued"}[mode]
    with tenant_scope(post.tenant_id) as session:
        posts.set_status(session, post_id, status, f"handed to Postproxy ({mode}); Postproxy status {remote.status}")
    get_run_logger().info("post %s handed to Postproxy as %s (%s)", post_id, mode, remote.status)
    return status


@task(name="confirm-deliveries", cache_policy=NO_CACHE)
async def confirm_deliveries(post_id: uuid.UUID, deadline_seconds: float, poll_seconds: float) -> dict[str, str]:
    """Wait for every platform's outcome: webhooks move the deliveries; polling the post is the fallback."""
    post = load(post_id)
    give_up = utcnow() + timedelta(seconds=deadline_seconds)
    async with tenant_client(post.tenant_id) as client:
        while True:
            with tenant_scope(post.tenant_id) as session:
                rows = deliveries.for_post(session, post_id)
            current = {f"{d.platform}:{d.account_id}": d.status for d in rows}
            if rows and all(d.terminal for d in rows):
                return current
            if utcnow() >= give_up:
                get_run_logger().warning("post %s: outcomes still open at the deadline: %s", post_id, current)
                return current
            await asyncio.sleep(poll_seconds)
            remote = await call_with_retries(lambda: client.posts.get(post.postproxy_post_id), what="poll post")
            with tenant_scope(post.tenant_id) as session:
                apply_results(session, results_of(remote, now=utcnow()))


@task(name="settle-handed-over-posts", cache_policy=NO_CACHE)
def settle_handed_over_posts() -> dict[str, str]:
    """Scheduled, queued and publishing posts whose every delivery ended get their final state."""
    with system_scope("settle handed-over posts") as session:
        settled = posts.settle_handed_over(session)
    if settled:
        get_run_logger().info("settled %d post(s): %s", len(settled), settled)
    return {str(k): v for k, v in settled.items()}


@task(name="finish-post", cache_policy=NO_CACHE)
def finish_post(post_id: uuid.UUID) -> dict[str, Any]:
    """Settle the post's final state from its deliveries, report every platform, notify on failures."""
    with tenant_scope(_tenant_of(post_id)) as session:
        posts.settle_handed_over(session, post_id)
        post = posts.get(session, post_id)
        rows = deliveries.for_post(session, post_id)
        names = {t.account_id: t.name for t in post.targets}
        admins = notifications.admin_emails(session, post.tenant_id)
        for d in (d for d in rows if d.status == "failed"):
            notifications.record(
                session, post.tenant_id, kind="delivery_failed", recipients=admins,
                subject=f"Post not published on {d.platform}",
                body=f"{names.get(d.account_id, d.platform)}: {d.error or 'unknown error'}",
                dedupe_key=f"delivery-failed:{d.id}",
            )
        history = approvals.decisions(session, post_id)
    lines = [
        f"# Post {post.id} ({post.tenant_slug})",
        f"**Status:** {post.status}" + (f" — {post.status_reason}" if post.status_reason else ""),
        "",
        "| platform | account | outcome | permalink or error |",
        "|---|---|---|---|",
    ]
    for d in rows:
        detail = d.permalink or d.error or ""
        lines.append(f"| {d.platform} | {names.get(d.account_id, '')} | {d.status} | {detail} |")
    if history:
        lines += ["", "## Review", "", "| when | reviewer | step | decision | counted | comment / reason |", "|---|---|---|---|---|---|"]
        for h in history:
            note = h.comment if h.accepted else f"refused: {h.refusal_reason}"
            lines.append(
                f"| {h.decided_at:%Y-%m-%d %H:%M:%S} | {h.reviewer_email} | {h.step_position} | {h.decision} | "
                f"{'yes' if h.accepted else 'no'} | {note} |"
            )
    create_markdown_artifact(key=f"post-{str(post.id)[:8]}", markdown="\n".join(lines), description="Publishing outcome")
    return {
        "post_id": str(post.id),
        "status": post.status,
        "deliveries": [{"platform": d.platform, "status": d.status, "error": d.error} for d in rows],
    }


@task(name="expire-overdue-reviews", cache_policy=NO_CACHE)
def expire_overdue_reviews() -> list[str]:
    """Posts whose review step waited past its timeout expire (a suspended run has no process to notice)."""
    with system_scope("expire overdue reviews") as session:
        overdue = posts.overdue_reviews(session, utcnow())
        for post_id in overdue:
            posts.set_status(session, post_id, "expired", "review waited past its step's timeout")
    if overdue:
        get_run_logger().warning("expired %d post(s) whose review timed out", len(overdue))
    return [str(p) for p in overdue]
