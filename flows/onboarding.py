"""Onboarding and offboarding of tenants. Every step is safe to re-run after a failure at any point."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from tasks.tenants import (
    activate_tenant,
    close_tenant,
    delete_postproxy_objects,
    ensure_profile_group,
    ensure_scoped_key,
    ensure_webhook_subscription,
    find_tenant,
    publish_connection_links,
    request_connections,
    save_tenant,
    validate_onboarding,
)


@flow(name="onboard-tenant", flow_run_name="onboard-{slug}")
async def onboard_tenant(
    slug: str,
    name: str,
    plan: str,
    time_zone: str,
    admin_email: str,
    platforms: list[str],
    redirect_url: str,
) -> dict[str, Any]:
    """Make a customer a tenant: record it, give it a Postproxy profile group and a scoped key, and hand out
    one OAuth link per platform to connect. Safe to re-run with the same slug.

    Args:
        slug: Short unique id of the tenant: lowercase letters, digits and inner hyphens (e.g. acme-co).
        name: The customer's display name (the profile group is called "Customer: <name>").
        plan: Plan id: starter, growth or agency.
        time_zone: IANA time zone of the customer (e.g. Europe/Paris); billing months follow it.
        admin_email: Email of the tenant's first admin.
        platforms: Networks to connect, e.g. ["twitter", "instagram"] (OAuth networks only).
        redirect_url: Where the customer lands after authorizing (https; http only for localhost).
    """
    request = validate_onboarding(
        dict(
            slug=slug,
            name=name,
            plan=plan,
            time_zone=time_zone,
            admin_email=admin_email,
            platforms=tuple(platforms),
            redirect_url=redirect_url,
        )
    )
    tenant_id = save_tenant(request)
    group_id = await ensure_profile_group(tenant_id)
    await ensure_scoped_key(tenant_id)
    await ensure_webhook_subscription()
    links = await request_connections(tenant_id, request.platforms, request.redirect_url)
    activate_tenant(tenant_id)
    publish_connection_links(slug, links)
    get_run_logger().info("tenant %s onboarded: %d connection link(s)", slug, len(links))
    return {"tenant_id": str(tenant_id), "slug": slug, "profile_group_id": group_id, "links": links}


@flow(name="offboard-tenant", flow_run_name="offboard-{slug}")
async def offboard_tenant(slug: str) -> dict[str, Any]:
    """Remove a tenant's profiles, group and key from Postproxy and close it; its history stays readable.

    Args:
        slug: The tenant to close. Safe to re-run.
    """
    tenant_id = find_tenant(slug)
    deleted = await delete_postproxy_objects(tenant_id)
    accounts_closed = close_tenant(tenant_id)
    return {"tenant_id": str(tenant_id), "deleted": deleted, "accounts_disconnected": accounts_closed}
