"""Records to the JSON shapes of the Postproxy API (validated by the SDK's pydantic models)."""

from __future__ import annotations

from typing import Any

from .clock import to_iso
from .platforms import profile_url
from .records import (
    ApiKeyRecord,
    MediaRecord,
    PlatformPostRecord,
    PostRecord,
    ProfileGroupRecord,
    ProfileRecord,
    QueueRecord,
    WebhookAttemptRecord,
    WebhookRecord,
)
from .state import SandboxState
from .stats import latest_insights


def group_json(state: SandboxState, group: ProfileGroupRecord) -> dict[str, Any]:
    return {"id": group.id, "name": group.name, "profiles_count": len(state.profiles_by_group.get(group.id, {}))}


def api_key_json(key: ApiKeyRecord, *, with_token: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": key.id,
        "name": key.name,
        "profile_group_id": key.profile_group_id,
        "sandbox": False,
        "created_at": to_iso(key.created_at),
    }
    if with_token:
        payload["token"] = key.token
    return payload


def profile_json(profile: ProfileRecord) -> dict[str, Any]:
    return {
        "id": profile.id,
        "name": profile.name,
        "username": profile.username,
        "status": profile.status,
        "inactive_reason": None,
        "platform": profile.platform,
        "platform_id": profile.platform_id,
        "profile_group_id": profile.profile_group_id,
        "expires_at": to_iso(profile.expires_at),
        "post_count": profile.post_count,
        "avatar_url": None,
        "platform_url": profile_url(profile.platform, profile.username),
        "placements_sync_status": "completed",
    }


def media_json(media: MediaRecord) -> dict[str, Any]:
    return {
        "id": media.id,
        "status": "processed",
        "error_message": None,
        "content_type": media.content_type,
        "source_url": media.source_url,
        "url": media.source_url,
        "platforms": None,
    }


def platform_result_json(state: SandboxState, post: PostRecord, platform_post: PlatformPostRecord, now: float) -> dict[str, Any]:
    insights = None
    if platform_post.status == "published" and platform_post.published_at is not None:
        insights = latest_insights(
            post_id=post.id,
            profile_id=platform_post.profile_id,
            platform=platform_post.platform,
            published_at=platform_post.published_at,
            now=now,
            interval=state.config.stats_interval_seconds,
            dense_records=state.config.stats_dense_records,
        )
    return {
        "id": platform_post.id,
        "platform": platform_post.platform,
        "profile_id": platform_post.profile_id,
        "profile_name": platform_post.profile_name,
        "status": platform_post.status,
        "permalink": platform_post.permalink,
        "params": post.platform_params.get(platform_post.platform),
        "error": platform_post.error,
        "error_details": platform_post.error_details,
        "attempted_at": to_iso(platform_post.attempted_at),
        "insights": insights,
        "attachments": [],
    }


def post_json(state: SandboxState, post: PostRecord, now: float) -> dict[str, Any]:
    platforms = [platform_result_json(state, post, pp, now) for pp in post.platform_posts]
    thread = []
    for item in post.thread:
        child_platforms = []
        for parent in platforms:
            child = dict(parent)
            child["id"] = f"{parent['id']}_{item.id}"
            child["insights"] = None
            if parent["permalink"]:
                child["permalink"] = f"{parent['permalink']}#{item.id}"
            child_platforms.append(child)
        thread.append({"id": item.id, "body": item.body, "media": [media_json(m) for m in item.media], "platforms": child_platforms})
    return {
        "id": post.id,
        "body": post.body,
        "status": post.status,
        "draft": post.draft,
        "scheduled_at": to_iso(post.scheduled_at),
        "created_at": to_iso(post.created_at),
        "source": "postproxy",
        "queue_id": post.queue_id,
        "queue_priority": post.queue_priority,
        "media": [media_json(m) for m in post.media],
        "platforms": platforms,
        "thread": thread,
    }


def queue_json(queue: QueueRecord, posts_count: int) -> dict[str, Any]:
    return {
        "id": queue.id,
        "name": queue.name,
        "description": queue.description,
        "timezone": queue.timezone,
        "enabled": queue.enabled,
        "jitter": queue.jitter,
        "profile_group_id": queue.group_id,
        "timeslots": [{"id": slot.id, "day": slot.day, "time": slot.time} for slot in queue.timeslots],
        "posts_count": posts_count,
    }


def webhook_json(webhook: WebhookRecord) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "events": list(webhook.events),
        "enabled": webhook.enabled,
        "description": webhook.description,
        "secret": webhook.secret,
        "created_at": to_iso(webhook.created_at),
        "updated_at": to_iso(webhook.updated_at),
    }


def webhook_attempt_json(attempt: WebhookAttemptRecord) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "event_id": attempt.event_id,
        "event_type": attempt.event_type,
        "response_status": attempt.response_status,
        "attempt_number": attempt.attempt_number,
        "success": attempt.success,
        "attempted_at": to_iso(attempt.attempted_at),
        "created_at": to_iso(attempt.created_at),
    }


def paginated(items: list[dict[str, Any]], *, total: int, page: int, per_page: int) -> dict[str, Any]:
    return {"total": total, "page": page, "per_page": per_page, "data": items}
