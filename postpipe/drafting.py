"""Creating a post: every check happens before anything is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from postpipe import platform_rules
from postpipe.repositories import accounts, members, posts, tenants


class PostValidationError(ValueError):
    """The post cannot be created; the message names each field (and platform) that is wrong."""


class NewPost(BaseModel):
    """What an author submits. Targets are Postproxy profile ids of the tenant's connected accounts."""

    model_config = ConfigDict(frozen=True)

    tenant: str = Field(description="tenant slug")
    author: str = Field(description="author's email (a member of the tenant)")
    body: str
    media: list[str] = Field(default_factory=list, description="public URLs of images or videos")
    targets: list[str] = Field(description="Postproxy profile ids to publish to")
    platform_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    mode: Literal["now", "scheduled", "queue"] = "now"
    scheduled_at: datetime | None = None
    queue_id: str | None = None
    queue_priority: Literal["high", "medium", "low"] | None = None

    @model_validator(mode="after")
    def _one_publish_mode(self) -> NewPost:
        if self.mode == "scheduled" and self.scheduled_at is None:
            raise ValueError("scheduled_at: required when mode is 'scheduled'")
        if self.mode != "scheduled" and self.scheduled_at is not None:
            raise ValueError("scheduled_at: only for mode 'scheduled'")
        if self.mode == "queue" and not self.queue_id:
            raise ValueError("queue_id: required when mode is 'queue'")
        if self.mode != "queue" and (self.queue_id or self.queue_priority):
            raise ValueError("queue_id/queue_priority: only for mode 'queue'")
        if self.scheduled_at is not None and self.scheduled_at.tzinfo is None:
            raise ValueError("scheduled_at: give a time zone (e.g. 2026-12-01T09:00:00+01:00)")
        return self


def create_post(session: Session, request: NewPost, *, now: datetime | None = None) -> posts.PostInfo:
    """Validate a new post against the tenant's members, accounts and platform rules, then store it."""
    problems: list[str] = []
    tenant = tenants.find_by_slug(session, request.tenant)
    if tenant is None:
        raise PostValidationError(f"tenant: no tenant {request.tenant!r}")
    if tenant.status != "active":
        raise PostValidationError(f"tenant: {request.tenant!r} is {tenant.status}, not active")
    author = members.find_by_email(session, tenant.id, request.author)
    if author is None or not author.active:
        problems.append(f"author: {request.author!r} is not an active member of {tenant.slug}")
    if not request.body.strip():
        problems.append("body: empty")
    if not request.targets:
        problems.append("targets: at least one account is needed")
    resolved: list[tuple[Any, str]] = []
    platforms: list[str] = []
    for profile_id in dict.fromkeys(request.targets):
        account = accounts.find_by_profile(session, profile_id)
        if account is None or account.tenant_id != tenant.id:
            problems.append(f"targets: {profile_id!r} is not an account of {tenant.slug}")
        elif not (account.connected and account.status == "active"):
            problems.append(f"targets: {account.platform} account {account.name!r} is {account.status}; reconnect it first")
        else:
            resolved.append((account.id, account.profile_id))
            platforms.append(account.platform)
    if platforms:
        problems += platform_rules.problems(request.body, request.media, platforms, request.platform_params)
    if request.scheduled_at is not None and request.scheduled_at <= (now or datetime.now(UTC)):
        problems.append("scheduled_at: must be in the future")
    if problems or author is None:
        raise PostValidationError("cannot create post: " + "; ".join(problems))
    return posts.create(
        session,
        tenant.id,
        author_id=author.id,
        body=request.body,
        media=request.media,
        platform_params=request.platform_params,
        targets=resolved,
        publish_mode=request.mode,
        scheduled_at=request.scheduled_at.astimezone(UTC) if request.scheduled_at else None,
        queue_id=request.queue_id,
        queue_priority=request.queue_priority or ("medium" if request.mode == "queue" else None),
    )
