"""What a polled Postproxy post says about each platform, applied exactly as the matching webhook would be.

Used by the publishing pipeline while it confirms a post, and by reconcile-deliveries for posts whose webhooks
never came.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from postpipe.repositories import deliveries
from postpipe.webhooks.apply import apply_delivery_report


@dataclass(frozen=True)
class PolledResult:
    """One platform's outcome as Postproxy reports it when asked (not by webhook)."""

    postproxy_post_id: str
    profile_id: str
    status: str
    error: str | None
    permalink: str | None
    at: datetime


def delivery_status(platform_status: str, post_status: str) -> str | None:
    """The delivery status a polled platform status means; None when it tells nothing (e.g. ``deleted``).

    A platform reads ``failed`` both when it failed for good and while Postproxy waits to retry it; only a post
    whose status is ``processed`` (every attempt finished) makes a failure final.
    """
    if platform_status == "failed":
        return "failed" if post_status == "processed" else "failed_waiting_for_retry"
    return platform_status if platform_status in ("pending", "processing", "published") else None


def results_of(post: Any, *, now: datetime) -> list[PolledResult]:
    """The platform outcomes of an SDK ``Post``."""
    found = []
    for platform in post.platforms:
        status = delivery_status(platform.status, post.status)
        if status is not None and platform.profile_id is not None:
            found.append(
                PolledResult(post.id, platform.profile_id, status, platform.error, platform.permalink,
                             platform.attempted_at or now)
            )
    return found


def apply_results(session: Session, results: list[PolledResult]) -> list[dict[str, Any]]:
    """Move deliveries forward through the webhooks' forward-only path; returns what changed."""
    changes: list[dict[str, Any]] = []
    for result in results:
        target = deliveries.find_for_event(session, result.postproxy_post_id, result.profile_id)
        if target is None:
            continue
        before = target.status or "none"
        moved = apply_delivery_report(
            session, target, result.status, at=result.at, error=result.error, permalink=result.permalink,
            attempt=False,
        )
        if moved:
            changes.append({"post": result.postproxy_post_id, "profile": result.profile_id,
                            "from": before, "to": result.status, "error": result.error or ""})
    return changes
