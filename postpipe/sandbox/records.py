"""The in-memory records the sandbox keeps (plain dataclasses, times in unix seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ProfileGroupRecord:
    id: str
    name: str
    created_at: float


@dataclass
class ApiKeyRecord:
    id: str
    name: str
    token: str
    profile_group_id: str | None
    created_at: float


@dataclass
class ProfileRecord:
    id: str
    name: str
    username: str
    platform: str
    platform_id: str
    profile_group_id: str
    created_at: float
    status: str = "active"
    expires_at: float | None = None
    post_count: int = 0


@dataclass
class MediaRecord:
    id: str
    source_url: str
    content_type: str


@dataclass
class ThreadItemRecord:
    id: str
    body: str
    media: list[MediaRecord] = field(default_factory=list)


@dataclass
class PlatformPostRecord:
    """One post on one profile (Postproxy calls it a "post profile", id ``pp_...``)."""

    id: str
    post_id: str
    profile_id: str
    platform: str
    profile_name: str
    status: str = "pending"
    permalink: str | None = None
    platform_post_id: str | None = None
    error: str | None = None
    error_details: dict[str, Any] | None = None
    attempted_at: float | None = None
    published_at: float | None = None
    waiting_for_retry: bool = False
    attempts: int = 0


@dataclass
class PostRecord:
    id: str
    group_id: str
    body: str
    status: str
    created_at: float
    seq: int
    profile_ids: list[str]
    media: list[MediaRecord] = field(default_factory=list)
    platform_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    thread: list[ThreadItemRecord] = field(default_factory=list)
    scheduled_at: float | None = None
    draft: bool = False
    queue_id: str | None = None
    queue_priority: str | None = None
    platform_posts: list[PlatformPostRecord] = field(default_factory=list)
    version: int = 0
    seeded: bool = False
    duplicate_fingerprint: str | None = None


@dataclass
class TimeslotRecord:
    id: int
    day: int
    time: str


@dataclass
class QueueRecord:
    id: str
    group_id: str
    name: str
    description: str | None
    timezone: str
    enabled: bool
    jitter: int
    created_at: float
    timeslots: list[TimeslotRecord] = field(default_factory=list)
    post_ids: dict[str, None] = field(default_factory=dict)


@dataclass
class WebhookRecord:
    id: str
    url: str
    events: list[str]
    enabled: bool
    description: str | None
    secret: str
    created_at: float
    updated_at: float
    group_id: str | None
    """``None``: created with the account key, receives every group's events."""


@dataclass
class EventRecord:
    id: str
    type: str
    created_at: float
    data: dict[str, Any]
    group_id: str
    order_key: str


@dataclass
class WebhookJobRecord:
    """An event still to be delivered to one webhook."""

    id: str
    webhook_id: str
    event: EventRecord
    next_attempt_at: float
    attempts_made: int = 0


@dataclass
class WebhookAttemptRecord:
    """One HTTP attempt, exposed as a WebhookDelivery."""

    id: str
    webhook_id: str
    event_id: str
    event_type: str
    response_status: int | None
    attempt_number: int
    success: bool
    attempted_at: float
    created_at: float


@dataclass
class ConnectTokenRecord:
    token: str
    group_id: str
    platform: str
    redirect_url: str | None
    refresh: bool
    used: bool = False
