"""Fixtures of the webhook tests: a signing secret, a seeded tenant with posts, a live receiver, signed requests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from postpipe import models as m
from postpipe.db import system_scope
from postpipe.repositories import accounts, deliveries, members, tenants, webhook_subscriptions
from postpipe.webhooks import signing
from postpipe.webhooks.server import ReceiverServer

SECRET = "whsec_test_current_0123456789"
OLD_SECRET = "whsec_test_previous_9876543210"
T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end test with a real Prefect server (slow, ~30 s)")


@dataclass
class Seed:
    tenant_id: uuid.UUID
    group_id: str
    admin_email: str
    accounts: dict[str, uuid.UUID] = field(default_factory=dict)  # profile id -> account id
    posts: dict[str, uuid.UUID] = field(default_factory=dict)  # postproxy post id -> post id


def seed_tenant(
    slug: str = "acme",
    *,
    group_id: str = "grp_acme",
    profiles: tuple[str, ...] = ("prof_x", "prof_ig"),
    posts: int = 1,
    post_status: str = "publishing",
    url: str | None = None,
) -> Seed:
    """A tenant with an admin, connected accounts, and posts known to Postproxy with their deliveries recorded."""
    with system_scope("test set-up", url=url) as s:
        tenant = tenants.upsert_tenant(s, slug=slug, name=slug.title(), time_zone="UTC", plan_id="starter")
        tenants.set_profile_group(s, tenant.id, group_id)
        tenants.set_status(s, tenant.id, "active")
        admin = members.upsert_member(s, tenant.id, email=f"admin@{slug}.example", role="admin", active_from=T0 - timedelta(days=30))
        seed = Seed(tenant.id, group_id, admin.email)
        for i, profile_id in enumerate(profiles):
            platform = ("twitter", "instagram", "linkedin", "threads")[i % 4]
            change = accounts.apply_profile(
                s, tenant.id, profile_id=profile_id, platform=platform, name=f"@{profile_id}", status="active",
                at=T0 - timedelta(days=10),
            )
            seed.accounts[profile_id] = change.account.id
        for n in range(posts):
            post = m.Post(
                tenant_id=tenant.id, author_id=admin.id, body=f"post {n}", content_hash=f"{n:064d}",
                status=post_status, postproxy_post_id=f"p_{slug}_{n}",
            )
            s.add(post)
            s.flush()
            for account_id in seed.accounts.values():
                s.add(m.PostTarget(tenant_id=tenant.id, post_id=post.id, account_id=account_id))
            s.flush()
            deliveries.record_targets(s, tenant.id, post.id, seed.accounts.values())
            seed.posts[post.postproxy_post_id] = post.id  # type: ignore[index]
    return seed


def save_secret(secret: str = SECRET, *, url: str = "http://127.0.0.1/webhooks/postproxy") -> None:
    with system_scope("test set-up") as s:
        webhook_subscriptions.save(s, url=url, postproxy_webhook_id="wh_test", secret=SecretStr(secret))


def envelope(event_type: str, data: dict[str, Any], *, event_id: str | None = None, at: datetime = T0) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "type": event_type,
        "created_at": at.isoformat().replace("+00:00", "Z"),
        "data": data,
    }


def platform_post(post: str, profile: str, status: str, *, error: str | None = None, platform_id: str | None = None) -> dict[str, Any]:
    return {
        "id": f"pp_{post}_{profile}", "post_id": post, "platform": "twitter", "profile_id": profile,
        "profile_name": f"@{profile}", "status": status, "error": error, "error_details": None,
        "platform_id": platform_id,
    }


def signed(body: dict[str, Any] | bytes, secret: str = SECRET, *, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        signing.SIGNATURE_HEADER: signing.sign(secret, raw, timestamp=timestamp),
    }
    return raw, headers


@pytest.fixture
def secret(pg_db: str) -> str:
    save_secret()
    return SECRET


@pytest.fixture
def receiver(pg_db: str, secret: str) -> Iterator[ReceiverServer]:
    """A receiver on a free loopback port that stores and applies, without Prefect emission."""
    with ReceiverServer(database_url=pg_db, emit_events=False) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


@dataclass
class SandboxTenant:
    seed: Seed
    profile_id: str
    api_key: str


async def _sandbox_group(base_url: str) -> tuple[str, str, str]:
    """A profile group with a scoped key and a connected twitter profile, made in the sandbox."""
    from postpipe.postproxy import account_client

    async with account_client() as client:
        group = await client.profile_groups.create("Acme")
        key = await client.api_keys.create("acme", group.id)
    async with httpx.AsyncClient(base_url=base_url) as raw:
        from postpipe.settings import get_settings

        account_key = get_settings().postproxy_api_key.get_secret_value()  # type: ignore[union-attr]
        response = await raw.post(
            "/sandbox/profiles", json={"profile_group_id": group.id, "platform": "twitter"},
            headers={"Authorization": f"Bearer {account_key}"},
        )
        response.raise_for_status()
    assert key.token is not None
    return group.id, key.token, response.json()["id"]


def sandbox_tenant(sandbox_base_url: str, *, posts: int = 1) -> SandboxTenant:
    """A postpipe tenant whose profile group, scoped key and twitter profile live in the sandbox."""
    import asyncio

    group_id, token, profile_id = asyncio.run(_sandbox_group(sandbox_base_url))
    seed = seed_tenant(group_id=group_id, profiles=(profile_id,), posts=posts, post_status="scheduled")
    with system_scope("test set-up") as s:
        tenants.set_api_key(s, seed.tenant_id, key_id="key_test", token=SecretStr(token))
    return SandboxTenant(seed, profile_id, token)
