"""Webhook events: payload builders and fan-out of one event to every subscribed webhook."""

from __future__ import annotations

from typing import Any

from postproxy import WEBHOOK_EVENT_TYPES

from .clock import to_iso
from .records import EventRecord, PlatformPostRecord, PostRecord, ProfileRecord, WebhookJobRecord
from .state import SandboxState

KNOWN_EVENT_TYPES: frozenset[str] = frozenset(WEBHOOK_EVENT_TYPES)
WILDCARD = "*"


def emit(state: SandboxState, event_type: str, data: dict[str, Any], *, group_id: str, order_key: str, now: float) -> None:
    """Queue ``event_type`` for every enabled webhook that subscribes to it and can see the group."""
    targets = [
        webhook
        for webhook in state.webhooks.values()
        if webhook.enabled
        and (WILDCARD in webhook.events or event_type in webhook.events)
        and (webhook.group_id is None or webhook.group_id == group_id)
    ]
    if not targets:
        return
    event = EventRecord(
        id=state.ids.new("evt"), type=event_type, created_at=now, data=data, group_id=group_id, order_key=order_key
    )
    state.events_emitted += 1
    for webhook in targets:
        state.webhook_jobs[webhook.id].append(
            WebhookJobRecord(id=state.ids.new("whj"), webhook_id=webhook.id, event=event, next_attempt_at=now)
        )


def envelope(event: EventRecord) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "created_at": to_iso(event.created_at), "data": event.data}


def platform_post_data(platform_post: PlatformPostRecord) -> dict[str, Any]:
    return {
        "id": platform_post.id,
        "post_id": platform_post.post_id,
        "platform": platform_post.platform,
        "profile_id": platform_post.profile_id,
        "profile_name": platform_post.profile_name,
        "status": platform_post.status,
        "error": platform_post.error,
        "error_details": platform_post.error_details,
        "platform_id": platform_post.platform_post_id,
    }


def post_processed_data(state: SandboxState, post: PostRecord) -> dict[str, Any]:
    targets = []
    for platform_post in post.platform_posts:
        targets.append({"id": platform_post.profile_id, "platform": platform_post.platform, "name": platform_post.profile_name})
    return {
        "id": post.id,
        "body": post.body,
        "status": post.status,
        "scheduled_at": to_iso(post.scheduled_at),
        "created_at": to_iso(post.created_at),
        "platforms": targets,
    }


def profile_data(profile: ProfileRecord, *, status: str, origin: str | None) -> dict[str, Any]:
    return {
        "id": profile.id,
        "name": profile.name,
        "platform": profile.platform,
        "profile_group_id": profile.profile_group_id,
        "status": status,
        "uid": profile.platform_id,
        "platform_id": profile.platform_id,
        "username": profile.username,
        "origin": origin,
    }
