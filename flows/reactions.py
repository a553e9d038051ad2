"""Flows started by Postproxy events (deployment triggers in prefect.yaml)."""

from __future__ import annotations

import uuid
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact

from tasks.notify import notify_tenant_admins, send_notifications
from tasks.reconnect import (
    create_reconnection_link,
    expire_account,
    find_failed_delivery,
    hold_posts_for_reconnect,
)

DEFAULT_REDIRECT_URL = "http://127.0.0.1/connected"


@flow(name="handle-profile-disconnected", flow_run_name="profile-disconnected-{profile_id}")
async def handle_profile_disconnected(
    profile_id: str, redirect_url: str = DEFAULT_REDIRECT_URL, notification_block: str | None = None
) -> dict[str, Any]:
    """A social account lost its connection: expire it, create a reconnection link, hold the posts that
    target it, and tell the tenant's admins (through ``notification_block`` too, if one is named).

    Args:
        profile_id: The Postproxy profile that was disconnected (filled in by the event trigger).
        redirect_url: Where the customer lands after reconnecting.
        notification_block: Name of a Prefect notification block to send the message through (optional).
    """
    log = get_run_logger()
    account = expire_account(profile_id)
    if account is None:
        log.warning("profile %s is not known to postpipe; nothing to do", profile_id)
        return {"profile_id": profile_id, "known": False}
    request_id, url = await create_reconnection_link(account, redirect_url)
    held = hold_posts_for_reconnect(account.tenant_id, account.account_id)
    body = (
        f"Your {account.platform} account {account.name} was disconnected from postpipe.\n"
        f"Reconnect it here: {url}\n"
        f"{len(held)} post(s) waiting to be published to it are on hold until then."
    )
    created = notify_tenant_admins(
        account.tenant_id, kind="reconnect_account", subject=f"Reconnect your {account.platform} account {account.name}",
        body=body, dedupe_key=f"reconnect:{request_id}",
    )
    if notification_block and created:
        await send_notifications(notification_block, created)
    await acreate_markdown_artifact(
        key=f"reconnect-{account.tenant_slug}",
        description=f"Reconnection needed for tenant {account.tenant_slug}",
        markdown=(
            f"# {account.platform} account disconnected\n\n"
            f"- tenant: **{account.tenant_slug}**\n- account: {account.name} (`{profile_id}`)\n"
            f"- reconnection link: [{account.platform}]({url})\n- posts on hold: {len(held)}\n"
            f"- admins notified now: {len(created)}\n"
        ),
    )
    return {"profile_id": profile_id, "known": True, "tenant": account.tenant_slug, "link": url,
            "posts_held": [str(p) for p in held], "notified": len(created)}


@flow(name="notify-delivery-failure", flow_run_name="delivery-failed-{postproxy_post_id}-{profile_id}")
async def notify_delivery_failure(
    postproxy_post_id: str, profile_id: str, notification_block: str | None = None
) -> dict[str, Any]:
    """A post failed on one platform for good: tell the tenant's admins with Postproxy's error text (once).

    Args:
        postproxy_post_id: The Postproxy post (filled in by the event trigger).
        profile_id: The profile it failed on (filled in by the event trigger).
        notification_block: Name of a Prefect notification block to send the message through (optional).
    """
    failed = find_failed_delivery(postproxy_post_id, profile_id)
    if failed is None:
        get_run_logger().warning("no failed delivery for post %s on %s; nothing to notify", postproxy_post_id, profile_id)
        return {"notified": 0}
    created: list[uuid.UUID] = notify_tenant_admins(
        failed.tenant_id, kind="delivery_failed", subject=f"A post could not be published to {failed.platform}",
        body=f"Post {failed.post_id} could not be published to {failed.account_name} ({failed.platform}).\n"
             f"Postproxy says: {failed.error}",
        dedupe_key=f"delivery-failed:{failed.delivery_id}",
    )
    if notification_block and created:
        await send_notifications(notification_block, created)
    return {"notified": len(created), "delivery_id": str(failed.delivery_id)}
