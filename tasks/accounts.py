"""Tasks that keep postpipe's view of each tenant's social accounts in step with Postproxy."""

from __future__ import annotations

import uuid
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from postpipe.db import system_scope, tenant_scope
from postpipe.models import utcnow
from postpipe.postproxy import call_with_retries, tenant_client
from postpipe.repositories import accounts, connection_requests, posts, tenants


@task(name="tenants-to-sync", cache_policy=NO_CACHE)
def tenants_to_sync(slug: str | None) -> list[tuple[uuid.UUID, str]]:
    """Tenants whose accounts to sync: one by slug, or every open tenant that has a scoped key."""
    with system_scope("sync-accounts: list tenants") as session:
        if slug:
            tenant = tenants.get_by_slug(session, slug)
            return [(tenant.id, tenant.slug)]
        return [(t.id, t.slug) for t in tenants.list_tenants(session) if t.has_api_key]


@task(name="sync-tenant-accounts", cache_policy=NO_CACHE)
async def sync_tenant_accounts(tenant_id: uuid.UUID) -> dict[str, Any]:
    """List the tenant's profiles with its scoped key and record accounts, intervals and completed links."""
    async with tenant_client(tenant_id) as client:
        profiles = (await call_with_retries(client.profiles.list, what="list profiles")).data
    now = utcnow()
    with tenant_scope(tenant_id) as session:
        changes = [
            accounts.apply_profile(
                session,
                tenant_id,
                profile_id=p.id,
                platform=p.platform,
                name=p.name,
                username=p.username,
                status=p.status,
                expires_at=p.expires_at,
                at=now,
            )
            for p in profiles
        ]
        gone = accounts.disconnect_missing(session, tenant_id, [p.id for p in profiles], at=now)
        for change in changes:
            if change.opened_interval:
                posts.clear_reconnect_flags(session, tenant_id, change.account.id)
        completed = sum(
            connection_requests.complete_for_platform(session, tenant_id, c.account.platform, c.account.id, at=now)
            for c in changes
            if c.account.connected
        )
    summary = {
        "profiles": len(profiles),
        "new_accounts": sum(c.created for c in changes),
        "connected": sum(c.opened_interval for c in changes),
        "disconnected": sum(c.closed_interval for c in changes) + len(gone),
        "links_completed": completed,
    }
    get_run_logger().info("tenant %s: %s", tenant_id, summary)
    return summary
