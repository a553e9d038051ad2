"""Building a connected tenant quickly for tests of later stages (onboarding itself is tested on its own):
the same Postproxy calls onboarding makes, through the SDK, and the same repository writes."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx
from postproxy import PostProxy
from pydantic import SecretStr

from postpipe.db import system_scope
from postpipe.repositories import accounts, approvals, members, tenants
from postpipe.sandbox import SandboxServer


@dataclass
class ConnectedTenant:
    id: uuid.UUID
    slug: str
    group_id: str
    key: str
    profiles: dict[str, str] = field(default_factory=dict)  # platform -> profile id


async def _provision(sandbox: SandboxServer, slug: str, platforms: list[str]) -> tuple[str, str, str, dict[str, str]]:
    async with PostProxy(sandbox.account_key, base_url=sandbox.base_url) as client:
        group = await client.profile_groups.create(f"Customer: {slug}")
        key = await client.api_keys.create(f"postpipe:{slug}", group.id)
        profiles: dict[str, str] = {}
        async with httpx.AsyncClient() as browser:
            for platform in platforms:
                link = await client.profile_groups.initialize_connection(group.id, platform, "https://app.example/ok")
                response = await browser.get(link.url)
                assert response.status_code == 302, response.text
        for profile in (await client.profiles.list(profile_group_id=group.id)).data:
            profiles[profile.platform] = profile.id
        return group.id, key.id, key.token or "", profiles


def connected_tenant(
    sandbox: SandboxServer,
    slug: str,
    platforms: list[str],
    *,
    team: dict[str, str] | None = None,
    steps: list[tuple[str, int, int]] | None = None,
    on_missed_schedule: str = "publish_now",
    plan: str = "starter",
    time_zone: str = "UTC",
) -> ConnectedTenant:
    """A tenant with a Postproxy group, scoped key and active accounts; ``team`` maps email -> role."""
    group_id, key_id, token, profiles = asyncio.run(_provision(sandbox, slug, platforms))
    with system_scope("test: connected tenant") as session:
        info = tenants.upsert_tenant(session, slug=slug, name=slug.title(), time_zone=time_zone, plan_id=plan)
        tenants.set_profile_group(session, info.id, group_id)
        tenants.set_api_key(session, info.id, key_id=key_id, token=SecretStr(token))
        tenants.set_status(session, info.id, "active")
        for email, role in (team or {}).items():
            members.upsert_member(session, info.id, email=email, role=role)
        for platform, profile_id in profiles.items():
            accounts.apply_profile(session, info.id, profile_id=profile_id, platform=platform, name=f"{slug}-{platform}", status="active")
        if steps is not None:
            approvals.set_policy(session, info.id, steps, on_missed_schedule=on_missed_schedule)
    return ConnectedTenant(info.id, slug, group_id, token, profiles)
