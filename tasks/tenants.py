"""Tasks that onboard and offboard tenants: each one safe to repeat after a crash at any point."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from postproxy._exceptions import NotFoundError
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from postpipe.db import system_scope
from postpipe.models import utcnow
from postpipe.onboarding import OnboardingRequest, validate_request
from postpipe.postproxy import account_client, call_with_retries, idempotency_key
from postpipe.repositories import accounts, connection_requests, members, plans, tenants, webhook_subscriptions
from postpipe.settings import get_settings

WEBHOOK_EVENTS = ["*"]


@task(name="validate-onboarding", cache_policy=NO_CACHE)
def validate_onboarding(params: dict[str, object]) -> OnboardingRequest:
    """Check every onboarding parameter before anything is written or sent."""
    with system_scope("onboarding: read plans") as session:
        plan_ids = plans.plan_ids(session)
    return validate_request(plan_ids, **params)


@task(name="save-tenant", cache_policy=NO_CACHE)
def save_tenant(request: OnboardingRequest) -> uuid.UUID:
    """Upsert the tenant, its admin member and its approval policy."""
    with system_scope("onboarding: save tenant") as session:
        tenant = tenants.upsert_tenant(
            session, slug=request.slug, name=request.name, time_zone=request.time_zone, plan_id=request.plan
        )
        members.upsert_member(session, tenant.id, email=request.admin_email, role="admin")
        return tenant.id


@task(name="ensure-profile-group", cache_policy=NO_CACHE)
async def ensure_profile_group(tenant_id: uuid.UUID) -> str:
    """Create the tenant's Postproxy profile group once (Idempotency-Key from the tenant id)."""
    with system_scope("onboarding: read tenant") as session:
        tenant = tenants.get(session, tenant_id)
    if tenant.profile_group_id:
        return tenant.profile_group_id
    async with account_client() as client:
        group = await call_with_retries(
            lambda: client.profile_groups.create(
                f"Customer: {tenant.name}", idempotency_key=idempotency_key("tenant", tenant_id, "profile-group")
            ),
            what="create profile group",
        )
    with system_scope("onboarding: save profile group") as session:
        tenants.set_profile_group(session, tenant_id, group.id)
    get_run_logger().info("tenant %s: profile group %s", tenant.slug, group.id)
    return group.id


@task(name="ensure-scoped-key", cache_policy=NO_CACHE)
async def ensure_scoped_key(tenant_id: uuid.UUID) -> str:
    """Create the tenant's group-scoped API key once and store it encrypted; returns the key id."""
    with system_scope("onboarding: read tenant") as session:
        tenant = tenants.get(session, tenant_id)
        known_key_id = tenants.api_key_id(session, tenant_id)
    if tenant.profile_group_id is None:
        raise RuntimeError(f"tenant {tenant.slug!r} has no profile group yet")
    key_name = f"postpipe:{tenant.slug}"
    async with account_client() as client:
        existing = (await call_with_retries(client.api_keys.list, what="list API keys")).data
        if known_key_id and any(k.id == known_key_id for k in existing):
            return known_key_id
        created = await call_with_retries(
            lambda: client.api_keys.create(
                key_name,
                tenant.profile_group_id,
                idempotency_key=idempotency_key("tenant", tenant_id, "api-key", known_key_id or "first"),
            ),
            what="create scoped API key",
        )
        if not created.token:
            raise RuntimeError("Postproxy returned no token for the new API key")
        with system_scope("onboarding: save api key") as session:
            tenants.set_api_key(session, tenant_id, key_id=created.id, token=SecretStr(created.token))
        for orphan in existing:  # keys of ours whose token was lost (e.g. a crash long ago): revoke
            if orphan.name == key_name and orphan.id != created.id:
                await call_with_retries(lambda k=orphan.id: client.api_keys.delete(k), what="revoke orphan key")
    get_run_logger().info("tenant %s: scoped API key %s stored encrypted", tenant.slug, created.id)
    return created.id


@task(name="ensure-webhook-subscription", cache_policy=NO_CACHE)
async def ensure_webhook_subscription() -> str:
    """Make sure the installation's account-wide webhook points at postpipe's receiver (created once)."""
    url = get_settings().webhook_public_url
    if not url:
        raise RuntimeError("POSTPIPE_WEBHOOK_PUBLIC_URL is not set: Postproxy needs the receiver's public URL")
    with system_scope("onboarding: read webhook subscription") as session:
        known = webhook_subscriptions.find(session, url)
    async with account_client() as client:
        hooks = (await call_with_retries(client.webhooks.list, what="list webhooks")).data
        ours = [h for h in hooks if h.url == url]
        if known and known.has_secret and any(h.id == known.postproxy_webhook_id for h in ours):
            return known.postproxy_webhook_id or ""
        hook = ours[0] if ours and ours[0].secret else None
        if hook is None:
            hook = await call_with_retries(
                lambda: client.webhooks.create(
                    url,
                    WEBHOOK_EVENTS,
                    description="postpipe receiver",
                    idempotency_key=idempotency_key("webhook", url, "create"),
                ),
                what="create webhook subscription",
            )
    with system_scope("onboarding: save webhook subscription") as session:
        webhook_subscriptions.save(
            session, url=url, postproxy_webhook_id=hook.id, secret=SecretStr(hook.secret) if hook.secret else None
        )
    return hook.id


@task(name="request-connections", cache_policy=NO_CACHE)
async def request_connections(tenant_id: uuid.UUID, platforms: tuple[str, ...], redirect_url: str) -> list[dict[str, str]]:
    """Start an OAuth connection per platform not yet connected; reuse a pending link instead of a new one."""
    with system_scope("onboarding: read connections") as session:
        tenant = tenants.get(session, tenant_id)
        connected = {a.platform for a in accounts.list_accounts(session, tenant_id, connected_only=True)}
        pending = {p: connection_requests.pending_for_platform(session, tenant_id, p) for p in platforms}
    links: list[dict[str, str]] = []
    async with account_client() as client:
        for platform in platforms:
            if platform in connected:
                links.append({"platform": platform, "state": "connected", "url": ""})
                continue
            if pending[platform] is not None:
                links.append({"platform": platform, "state": "pending", "url": pending[platform].url})
                continue
            started = await call_with_retries(
                lambda p=platform: client.profile_groups.initialize_connection(
                    tenant.profile_group_id, p, redirect_url
                ),
                what=f"initialize {platform} connection",
            )
            with system_scope("onboarding: save connection link") as session:
                connection_requests.create(session, tenant_id, platform=platform, url=started.url)
            links.append({"platform": platform, "state": "pending", "url": started.url})
    return links


@task(name="activate-tenant", cache_policy=NO_CACHE)
def activate_tenant(tenant_id: uuid.UUID) -> None:
    """Mark an onboarded tenant active (a closed tenant stays closed)."""
    with system_scope("onboarding: activate") as session:
        if tenants.get(session, tenant_id).status == "onboarding":
            tenants.set_status(session, tenant_id, "active")


@task(name="publish-connection-links", cache_policy=NO_CACHE)
def publish_connection_links(slug: str, links: list[dict[str, str]]) -> None:
    """Give the operator a table of the OAuth links to send to the customer."""
    create_table_artifact(
        key=f"onboarding-{slug}",
        table=[{"platform": l["platform"], "state": l["state"], "link": l["url"] or "-"} for l in links],
        description=f"OAuth connection links for tenant **{slug}**: send each pending link to the customer.",
    )


# ------------------------------------------------------------------------------------------------ offboarding


@task(name="find-tenant", cache_policy=NO_CACHE)
def find_tenant(slug: str) -> uuid.UUID:
    """The id of the tenant with this slug (a clear error if there is none)."""
    with system_scope("find tenant") as session:
        return tenants.get_by_slug(session, slug).id


@task(name="delete-postproxy-objects", cache_policy=NO_CACHE)
async def delete_postproxy_objects(tenant_id: uuid.UUID) -> dict[str, int]:
    """Revoke the scoped key, then delete the group's profiles and the group (404 means already gone)."""
    with system_scope("offboarding: read tenant") as session:
        tenant = tenants.get(session, tenant_id)
        key_id = tenants.api_key_id(session, tenant_id)
    done = {"profiles": 0, "groups": 0, "keys": 0}
    async with account_client() as client:
        if key_id:  # first, so that the tenant's own key stops working at once
            done["keys"] += await _delete_if_present(lambda: client.api_keys.delete(key_id))
        if tenant.profile_group_id:
            group_id = tenant.profile_group_id
            try:
                profiles = await call_with_retries(
                    lambda: client.profiles.list(profile_group_id=group_id), what="list profiles"
                )
            except NotFoundError:
                profiles = None  # the group itself is already gone
            for profile in profiles.data if profiles else []:
                done["profiles"] += await _delete_if_present(lambda p=profile.id: client.profiles.delete(p))
            if profiles is not None:
                done["groups"] += await _delete_if_present(lambda: client.profile_groups.delete(group_id))
    get_run_logger().info("tenant %s: deleted %s", tenant.slug, done)
    return done


async def _delete_if_present(delete: Callable[[], Awaitable[object]]) -> int:
    """Run a Postproxy delete with retries; 1 if it deleted something, 0 if it was already gone."""
    try:
        await call_with_retries(delete, what="delete")
    except NotFoundError:
        return 0
    return 1


@task(name="close-tenant", cache_policy=NO_CACHE)
def close_tenant(tenant_id: uuid.UUID) -> int:
    """Mark the tenant closed, forget its key and disconnect its accounts; history stays. Returns accounts closed."""
    with system_scope("offboarding: close tenant") as session:
        closed = accounts.disconnect_missing(session, tenant_id, [], at=utcnow())
        tenants.clear_api_key(session, tenant_id)
        tenants.set_status(session, tenant_id, "closed")
        return len(closed)
