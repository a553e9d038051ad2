"""Builders for stats tests: tenants with profiles on any platform, and published posts known to both sides
(seeded in the sandbox, recorded in postpipe as a post with published deliveries)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx

from postpipe.db import system_scope, tenant_scope
from postpipe.repositories import accounts, deliveries, members, posts
from postpipe.sandbox import SandboxServer
from tests.tenants import ConnectedTenant, connected_tenant

AUTHOR = "author@example.com"


@dataclass(frozen=True)
class PublishedPost:
    id: uuid.UUID
    postproxy_id: str


def _control(sandbox: SandboxServer, path: str, body: dict[str, object]) -> dict[str, object]:
    response = httpx.post(
        f"{sandbox.base_url}{path}", json=body, headers={"Authorization": f"Bearer {sandbox.account_key}"}, timeout=10
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def tenant_with_profiles(sandbox: SandboxServer, slug: str, platforms: list[str]) -> ConnectedTenant:
    """A connected tenant whose profiles (any posting platform, bluesky and telegram included) are its accounts."""
    tenant = connected_tenant(sandbox, slug, [], team={AUTHOR: "admin"})
    with system_scope("test: profiles") as session:
        for platform in platforms:
            profile = _control(sandbox, "/sandbox/profiles", {"profile_group_id": tenant.group_id, "platform": platform})
            accounts.apply_profile(
                session, tenant.id, profile_id=str(profile["id"]), platform=platform, name=f"{slug}-{platform}", status="active"
            )
            tenant.profiles[platform] = str(profile["id"])
    return tenant


def publish_posts(
    sandbox: SandboxServer,
    tenant: ConnectedTenant,
    *,
    count: int,
    published_at: datetime,
    platforms: list[str] | None = None,
    body: str | None = None,
) -> list[PublishedPost]:
    """``count`` posts seeded as published in the sandbox at ``published_at``, and the matching postpipe rows:
    post, Postproxy id, one delivery per account advanced to ``published`` at the same time."""
    profile_ids = [tenant.profiles[p] for p in (platforms or sorted(tenant.profiles))]
    seeded = _control(
        sandbox,
        "/sandbox/seed",
        {"profile_ids": profile_ids, "count": count, "published_at": published_at.isoformat(), "body": f"{tenant.slug} post"},
    )
    created: list[PublishedPost] = []
    with tenant_scope(tenant.id) as session:
        author = members.find_by_email(session, tenant.id, AUTHOR)
        assert author is not None
        targets = []
        for profile_id in profile_ids:
            account = accounts.find_by_profile(session, profile_id)
            if account is not None:  # profiles postpipe has no account for stay Postproxy-only
                targets.append((account.id, profile_id))
        for index, postproxy_id in enumerate(seeded["post_ids"]):  # type: ignore[union-attr]
            post = posts.create(
                session, tenant.id, author_id=author.id, body=body or f"{tenant.slug} post #{index + 1}", media=[],
                platform_params={}, targets=targets, publish_mode="now",
            )
            posts.set_postproxy_id(session, post.id, str(postproxy_id), draft_hash="seeded")
            posts.set_status(session, post.id, "published")
            deliveries.record_targets(session, tenant.id, post.id, [a for a, _ in targets])
            for account_id, _ in targets:
                deliveries.advance(session, tenant.id, post.id, account_id, "published", at=published_at)
            created.append(PublishedPost(post.id, str(postproxy_id)))
    return created
