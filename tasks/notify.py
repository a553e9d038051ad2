"""Tasks that tell people things: notifications recorded in Postgres, optionally sent through a Prefect block."""

from __future__ import annotations

import uuid

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from postpipe.db import system_scope
from postpipe.repositories import notifications


@task(name="notify-tenant-admins", cache_policy=NO_CACHE)
def notify_tenant_admins(tenant_id: uuid.UUID, *, kind: str, subject: str, body: str, dedupe_key: str) -> list[uuid.UUID]:
    """Record one notification per active admin of the tenant; a repeated dedupe key records nothing new."""
    with system_scope(f"notify {kind}") as session:
        recipients = notifications.admin_emails(session, tenant_id)
        created = notifications.record(
            session, tenant_id, kind=kind, recipients=recipients, subject=subject, body=body, dedupe_key=dedupe_key
        )
    get_run_logger().info("%s: %d new notification(s) for %d admin(s)", kind, len(created), len(recipients))
    return created


@task(name="send-notifications", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
async def send_notifications(block_name: str, notification_ids: list[uuid.UUID]) -> int:
    """Send recorded notifications through a Prefect notification block (Slack, email...) and mark them sent."""
    if not notification_ids:
        return 0
    from prefect.blocks.core import Block

    block = await Block.aload(block_name)
    notify = getattr(block, "anotify", None)
    if notify is None:
        raise TypeError(f"block {block_name!r} is not a notification block (it has no notify method)")
    with system_scope("send notifications") as session:
        pending = [n for n in notifications.get_many(session, notification_ids) if n.sent_at is None]
    for note in pending:
        await notify(f"{note.body}\n\n(to {note.recipient})", subject=note.subject)
    with system_scope("send notifications") as session:
        return notifications.mark_sent(session, [n.id for n in pending])
