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
    one OAuth link per platform to connect.

    slug: short unique id (lowercase, digits, hyphens); name: display name; plan: a plan id (starter, growth,
    agency); time_zone: IANA zone used for billing periods; admin_email: the tenant's first admin;
    platforms: networks to connect; redirect_url: where the customer lands after OAuth (https).
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
    """Remove a tenant's profiles, group and key from Postproxy and close it; its history stays readable."""
    tenant_id = find_tenant(slug)
    deleted = await delete_postproxy_objects(tenant_id)
    accounts_closed = close_tenant(tenant_id)
    return {"tenant_id": str(tenant_id), "deleted": deleted, "accounts_disconnected": accounts_closed}
