"""Tasks that react to a disconnected social account: expire it, hand out a reconnection link, hold its posts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from postpipe.db import system_scope
from postpipe.models import utcnow
from postpipe.postproxy import account_client, call_with_retries, tenant_client
from postpipe.repositories import accounts, connection_requests, deliveries, posts, tenants

SCOPE = "handle profile disconnected"


@dataclass(frozen=True)
class DisconnectedAccount:
    tenant_id: uuid.UUID
    tenant_slug: str
    profile_group_id: str | None
    account_id: uuid.UUID
    profile_id: str
    platform: str
    name: str
    status: str


@task(name="expire-account", cache_policy=NO_CACHE)
def expire_account(profile_id: str) -> DisconnectedAccount | None:
    """Mark the account expired and close its connection interval (if the receiver has not); None if unknown."""
    with system_scope(SCOPE) as session:
        account = accounts.find_by_profile(session, profile_id)
        if account is None:
            return None
        if account.connected or account.status == "active":
            change = accounts.mark_disconnected(session, account.tenant_id, profile_id, status="expired", at=utcnow())
            account = change.account if change else account
        tenant = tenants.get(session, account.tenant_id)
    return DisconnectedAccount(
        tenant.id, tenant.slug, tenant.profile_group_id, account.id, profile_id, account.platform, account.name,
        account.status,
    )


@task(name="create-reconnection-link", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
async def create_reconnection_link(account: DisconnectedAccount, redirect_url: str) -> tuple[uuid.UUID, str]:
    """A refresh OAuth link for the account's platform; a pending one is reused so a re-run asks Postproxy nothing."""
    with system_scope(SCOPE) as session:
        pending = connection_requests.pending_for_platform(session, account.tenant_id, account.platform)
        has_key = tenants.get(session, account.tenant_id).has_api_key
    if pending is not None and pending.refresh:
        return pending.id, pending.url
    if account.profile_group_id is None:
        raise RuntimeError(f"tenant {account.tenant_slug!r} has no Postproxy profile group; cannot create a link")
    group_id, platform = account.profile_group_id, account.platform
    client_context = tenant_client(account.tenant_id) if has_key else account_client()
    async with client_context as client:
        response = await call_with_retries(
            lambda: client.profile_groups.initialize_connection(
                group_id, platform, redirect_url, refresh_connection=True  # type: ignore[arg-type]
            ),
            what=f"initialize {platform} reconnection",
        )
    with system_scope(SCOPE) as session:
        request = connection_requests.create(session, account.tenant_id, platform=platform, url=response.url, refresh=True)
    get_run_logger().info("tenant %s: reconnection link for %s recorded", account.tenant_slug, platform)
    return request.id, response.url


@task(name="hold-posts-for-reconnect", cache_policy=NO_CACHE)
def hold_posts_for_reconnect(tenant_id: uuid.UUID, account_id: uuid.UUID) -> list[uuid.UUID]:
    """Flag the tenant's unpublished posts that target the account as needing a reconnection."""
    with system_scope(SCOPE) as session:
        return sorted(posts.flag_needing_reconnect(session, tenant_id, account_id))


@dataclass(frozen=True)
class FailedDelivery:
    tenant_id: uuid.UUID
    delivery_id: uuid.UUID
    post_id: uuid.UUID
    platform: str
    account_name: str
    error: str


@task(name="find-failed-delivery", cache_policy=NO_CACHE)
def find_failed_delivery(postproxy_post_id: str, profile_id: str) -> FailedDelivery | None:
    """The delivery a failure event is about, if it is recorded as failed."""
    with system_scope("notify delivery failure") as session:
        target = deliveries.find_for_event(session, postproxy_post_id, profile_id)
        if target is None or target.status != "failed":
            return None
        found = deliveries.get(session, target.tenant_id, target.post_id, target.account_id)
        account = accounts.find_by_profile(session, profile_id)
    if found is None:
        return None
    return FailedDelivery(
        target.tenant_id, found.id, found.post_id, found.platform, account.name if account else profile_id,
        found.error or "Postproxy gave no error text",
    )
