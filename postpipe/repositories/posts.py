"""Posts, their targets, and where each one stands in the approval-to-publish pipeline."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from postpipe.models import Delivery, Post, PostTarget, SocialAccount, Tenant
from postpipe.repositories.deliveries import TERMINAL

REVIEWING = ("awaiting_approval", "approved")
FINAL = ("rejected", "expired", "published", "partially_published", "failed")


class PostNotFoundError(LookupError):
    pass


class PostNotEditableError(RuntimeError):
    pass


@dataclass(frozen=True)
class TargetInfo:
    account_id: uuid.UUID
    profile_id: str
    platform: str
    name: str


@dataclass(frozen=True)
class PostInfo:
    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    author_id: uuid.UUID
    body: str
    media: tuple[str, ...]
    platform_params: dict[str, dict[str, Any]]
    publish_mode: str
    scheduled_at: datetime | None
    queue_id: str | None
    queue_priority: str | None
    status: str
    status_reason: str | None
    content_hash: str
    draft_hash: str | None
    postproxy_post_id: str | None
    flow_run_id: uuid.UUID | None
    review_deadline: datetime | None
    needs_reconnect: bool
    targets: tuple[TargetInfo, ...]

    @property
    def platforms(self) -> list[str]:
        return sorted({t.platform for t in self.targets})


def content_hash(body: str, media: Iterable[str], params: Mapping[str, Any], profile_ids: Iterable[str]) -> str:
    """What reviewers approve: a change to any of these invalidates earlier approvals."""
    canonical = json.dumps(
        {"body": body, "media": list(media), "params": params, "profiles": sorted(profile_ids)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _load(session: Session, post_id: uuid.UUID) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise PostNotFoundError(f"no post with id {post_id}")
    return post


def _targets(session: Session, post_id: uuid.UUID) -> tuple[TargetInfo, ...]:
    rows = session.execute(
        select(SocialAccount.id, SocialAccount.profile_id, SocialAccount.platform, SocialAccount.name)
        .join(PostTarget, (PostTarget.account_id == SocialAccount.id) & (PostTarget.tenant_id == SocialAccount.tenant_id))
        .where(PostTarget.post_id == post_id)
        .order_by(SocialAccount.platform, SocialAccount.profile_id)
    )
    return tuple(TargetInfo(r.id, r.profile_id, r.platform, r.name) for r in rows)


def _info(session: Session, post: Post) -> PostInfo:
    slug = session.scalar(select(Tenant.slug).where(Tenant.id == post.tenant_id)) or "?"
    return PostInfo(
        id=post.id,
        tenant_id=post.tenant_id,
        tenant_slug=slug,
        author_id=post.author_id,
        body=post.body,
        media=tuple(post.media),
        platform_params=dict(post.platform_params),
        publish_mode=post.publish_mode,
        scheduled_at=post.scheduled_at,
        queue_id=post.queue_id,
        queue_priority=post.queue_priority,
        status=post.status,
        status_reason=post.status_reason,
        content_hash=post.content_hash,
        draft_hash=post.draft_hash,
        postproxy_post_id=post.postproxy_post_id,
        flow_run_id=post.flow_run_id,
        review_deadline=post.review_deadline,
        needs_reconnect=post.needs_reconnect,
        targets=_targets(session, post.id),
    )


def create(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    author_id: uuid.UUID,
    body: str,
    media: list[str],
    platform_params: dict[str, dict[str, Any]],
    targets: list[tuple[uuid.UUID, str]],
    publish_mode: str,
    scheduled_at: datetime | None = None,
    queue_id: str | None = None,
    queue_priority: str | None = None,
) -> PostInfo:
    """Store a validated post and its targets (``targets``: account id and profile id pairs)."""
    post = Post(
        tenant_id=tenant_id,
        author_id=author_id,
        body=body,
        media=media,
        platform_params=platform_params,
        publish_mode=publish_mode,
        scheduled_at=scheduled_at,
        queue_id=queue_id,
        queue_priority=queue_priority,
        status="awaiting_approval",
        content_hash=content_hash(body, media, platform_params, [p for _, p in targets]),
    )
    session.add(post)
    session.flush()
    session.add_all(PostTarget(tenant_id=tenant_id, post_id=post.id, account_id=a) for a, _ in targets)
    session.flush()
    return _info(session, post)


def tenant_of(session: Session, post_id: uuid.UUID) -> uuid.UUID:
    """The tenant a post belongs to (one column; for opening that tenant's scope)."""
    tenant_id = session.scalar(select(Post.tenant_id).where(Post.id == post_id))
    if tenant_id is None:
        raise PostNotFoundError(f"no post with id {post_id}")
    return tenant_id


def get(session: Session, post_id: uuid.UUID) -> PostInfo:
    return _info(session, _load(session, post_id))


def edit_content(
    session: Session,
    post_id: uuid.UUID,
    *,
    body: str | None = None,
    media: list[str] | None = None,
    platform_params: dict[str, dict[str, Any]] | None = None,
) -> PostInfo:
    """Change what the post says while it is under review; the new content hash restarts the review."""
    post = _load(session, post_id)
    if post.status not in REVIEWING:
        raise PostNotEditableError(f"post {post_id} is {post.status}: only posts under review can be edited")
    post.body = post.body if body is None else body
    post.media = post.media if media is None else media
    post.platform_params = post.platform_params if platform_params is None else platform_params
    profiles = [t.profile_id for t in _targets(session, post.id)]
    post.content_hash = content_hash(post.body, post.media, post.platform_params, profiles)
    post.status, post.status_reason = "awaiting_approval", "edited during review: approvals start again"
    session.flush()
    return _info(session, post)


def set_status(session: Session, post_id: uuid.UUID, status: str, reason: str | None = None) -> None:
    post = _load(session, post_id)
    post.status, post.status_reason = status, reason
    if status not in ("awaiting_approval",):
        post.review_deadline = None


def set_postproxy_id(session: Session, post_id: uuid.UUID, postproxy_post_id: str, *, draft_hash: str) -> None:
    post = _load(session, post_id)
    post.postproxy_post_id, post.draft_hash = postproxy_post_id, draft_hash


def set_draft_hash(session: Session, post_id: uuid.UUID, draft_hash: str) -> None:
    _load(session, post_id).draft_hash = draft_hash


def set_flow_run(session: Session, post_id: uuid.UUID, flow_run_id: uuid.UUID) -> None:
    _load(session, post_id).flow_run_id = flow_run_id


def set_review_deadline(session: Session, post_id: uuid.UUID, deadline: datetime | None) -> None:
    _load(session, post_id).review_deadline = deadline


def overdue_reviews(session: Session, now: datetime) -> list[uuid.UUID]:
    """Posts still awaiting approval whose current step has waited past its timeout."""
    return list(
        session.scalars(select(Post.id).where(Post.status == "awaiting_approval", Post.review_deadline < now))
    )


def flag_needing_reconnect(session: Session, tenant_id: uuid.UUID, account_id: uuid.UUID) -> list[uuid.UUID]:
    """Posts not yet published that target this account: they would fail, so they need a reconnection."""
    waiting = ("awaiting_approval", "approved", "scheduled", "queued")
    ids = list(
        session.scalars(
            select(Post.id)
            .join(PostTarget, (PostTarget.post_id == Post.id) & (PostTarget.tenant_id == Post.tenant_id))
            .where(Post.tenant_id == tenant_id, PostTarget.account_id == account_id, Post.status.in_(waiting))
        )
    )
    if ids:
        session.execute(update(Post).where(Post.id.in_(ids)).values(needs_reconnect=True))
    return ids


def clear_reconnect_flags(session: Session, tenant_id: uuid.UUID, account_id: uuid.UUID) -> int:
    """The account is connected again: posts held for it no longer need a reconnection."""
    held = select(PostTarget.post_id).where(PostTarget.tenant_id == tenant_id, PostTarget.account_id == account_id)
    result = session.execute(
        update(Post)
        .where(Post.tenant_id == tenant_id, Post.needs_reconnect.is_(True), Post.id.in_(held))
        .values(needs_reconnect=False)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def count_by_status(session: Session, tenant_id: uuid.UUID | None = None) -> dict[str, int]:
    query = select(Post.status, func.count()).group_by(Post.status)
    if tenant_id is not None:
        query = query.where(Post.tenant_id == tenant_id)
    return {status: n for status, n in session.execute(query)}


HANDED_OVER = ("publishing", "scheduled", "queued")


def settle_handed_over(session: Session, post_id: uuid.UUID | None = None) -> dict[uuid.UUID, str]:
    """Give every handed-over post (or only ``post_id``) whose deliveries all ended its final state; returns what
    changed."""
    published = func.sum(case((Delivery.status == "published", 1), else_=0))
    ended = func.sum(case((Delivery.status.in_(sorted(TERMINAL)), 1), else_=0))
    query = (
        select(Post.id, func.count(), published, ended)
        .join(Delivery, (Delivery.post_id == Post.id) & (Delivery.tenant_id == Post.tenant_id))
        .where(Post.status.in_(HANDED_OVER))
        .group_by(Post.id)
        .having(func.count() == ended)
    )
    rows = session.execute(query if post_id is None else query.where(Post.id == post_id)).all()
    settled: dict[uuid.UUID, str] = {}
    for post_id, total, ok, _ in rows:
        final = "published" if ok == total else "partially_published" if ok else "failed"
        set_status(session, post_id, final, f"{ok} of {total} platform(s) published")
        settled[post_id] = final
    return settled
