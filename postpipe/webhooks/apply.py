"""Applying a Postproxy event to postpipe's records: one path for webhooks, re-matching and polling.

``receive`` stores the event once and applies it in the caller's transaction:
- ``platform_post.published|failed|failed_waiting_for_retry`` move the delivery of (post, profile) forward only;
- ``profile.connected|disconnected`` update the account and its connection intervals (an older event than one
  already applied for the same profile changes nothing);
- ``post.processed``, ``platform_post.insights`` and the rest are recorded (stored, marked applied when matched).
An event that names no post/profile postpipe knows is stored unmatched with a note saying why.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from postpipe.models import utcnow
from postpipe.repositories import accounts, connection_requests, deliveries, posts, tenants, webhook_events
from postpipe.repositories.deliveries import EventTarget
from postpipe.repositories.webhook_events import Match, StoredEvent
from postpipe.webhooks.envelope import Envelope, post_ref

log = logging.getLogger(__name__)

DELIVERY_STATUS_BY_EVENT: dict[str, str] = {
    "platform_post.published": "published",
    "platform_post.failed": "failed",
    "platform_post.failed_waiting_for_retry": "failed_waiting_for_retry",
}


@dataclass(frozen=True)
class Resolution:
    """What an event points at in postpipe (read-only lookup, before anything is written)."""

    match: Match
    profile_id: str | None = None
    target: EventTarget | None = None
    tenant: tenants.TenantInfo | None = None


@dataclass(frozen=True)
class Received:
    """The result of receiving one webhook: ``stored`` is None for a duplicate."""

    stored: StoredEvent | None

    @property
    def duplicate(self) -> bool:
        return self.stored is None


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _profile_id(env_type: str, data: dict[str, Any]) -> str | None:
    if env_type.startswith("profile."):
        return _text(data, "id") or _text(data, "profile_id")
    return _text(data, "profile_id")


def resolve(session: Session, event_type: str, data: dict[str, Any]) -> Resolution:
    """Find the tenant, post, account and delivery an event is about."""
    profile_id = _profile_id(event_type, data)
    kind = event_type.split(".", 1)[0]
    ref = post_ref(event_type, data)
    if kind == "platform_post":
        if ref is None or profile_id is None:
            return Resolution(Match(False, note="data.post_id or data.profile_id is missing"), profile_id)
        target = deliveries.find_for_event(session, ref, profile_id)
        if target is None:
            return Resolution(
                Match(False, note=f"no post {ref} targeting profile {profile_id} is known to postpipe"), profile_id
            )
        match = Match(True, target.tenant_id, target.post_id, target.account_id)
        return Resolution(match, profile_id, target=target)
    if kind == "profile":
        return _resolve_profile(session, profile_id, data)
    if ref is not None:  # a post.* or media.* event
        found = deliveries.find_post(session, ref)
        if found is None:
            return Resolution(Match(False, note=f"no post {ref} is known to postpipe"), profile_id)
        return Resolution(Match(True, found[0], found[1]), profile_id)
    if profile_id is not None:
        account = accounts.find_by_profile(session, profile_id)
        if account is not None:
            return Resolution(Match(True, account.tenant_id, account_id=account.id), profile_id)
    return Resolution(Match(False, note=f"event type {event_type} names nothing postpipe tracks"), profile_id)


def _resolve_profile(session: Session, profile_id: str | None, data: dict[str, Any]) -> Resolution:
    if profile_id is None:
        return Resolution(Match(False, note="data.id (the profile id) is missing"))
    account = accounts.find_by_profile(session, profile_id)
    group_id = _text(data, "profile_group_id")
    tenant = tenants.find_by_profile_group(session, group_id) if group_id else None
    if tenant is None and account is not None:
        tenant = tenants.get(session, account.tenant_id)
    if tenant is None:
        return Resolution(
            Match(False, note=f"profile group {group_id} and profile {profile_id} belong to no tenant"), profile_id
        )
    if account is not None and account.tenant_id != tenant.id:
        return Resolution(
            Match(False, note=f"profile {profile_id} is recorded under another tenant than group {group_id}"),
            profile_id,
        )
    return Resolution(Match(True, tenant.id, account_id=account.id if account else None), profile_id, tenant=tenant)


def apply_delivery_report(
    session: Session,
    target: EventTarget,
    status: str,
    *,
    at: datetime,
    error: str | None = None,
    permalink: str | None = None,
    platform_post_id: str | None = None,
    attempt: bool,
) -> bool:
    """Move the delivery forward (creating it if the targets were not recorded yet); True if its status moved."""
    if target.delivery_id is None:
        deliveries.ensure(session, target.tenant_id, target.post_id, target.account_id, target.platform)
    return deliveries.advance(
        session, target.tenant_id, target.post_id, target.account_id, status,
        at=at, error=error, permalink=permalink, platform_post_id=platform_post_id, attempt=attempt,
    )


def apply_effects(
    session: Session, event_type: str, occurred_at: datetime, data: dict[str, Any], resolution: Resolution
) -> uuid.UUID | None:
    """Change postpipe's records as the (matched) event says; returns the account a profile event recorded."""
    if not resolution.match.matched:
        return None
    status = DELIVERY_STATUS_BY_EVENT.get(event_type)
    if status is not None and resolution.target is not None:
        apply_delivery_report(
            session, resolution.target, status, at=occurred_at, error=_text(data, "error"),
            permalink=_text(data, "permalink"), platform_post_id=_text(data, "platform_id"), attempt=True,
        )
        return None
    if event_type in webhook_events.PROFILE_STATE_EVENTS and resolution.tenant is not None:
        return _apply_profile_event(session, event_type, occurred_at, data, resolution)
    return None


def _apply_profile_event(
    session: Session, event_type: str, at: datetime, data: dict[str, Any], resolution: Resolution
) -> uuid.UUID | None:
    assert resolution.tenant is not None and resolution.profile_id is not None
    tenant_id, profile_id = resolution.tenant.id, resolution.profile_id
    if webhook_events.later_profile_event_applied(session, profile_id, at):
        log.info("profile event %s for %s is older than one already applied; nothing to change", event_type, profile_id)
        return None
    if event_type == "profile.connected":
        change = accounts.apply_profile(
            session, tenant_id, profile_id=profile_id, platform=_text(data, "platform") or "unknown",
            name=_text(data, "name") or profile_id, status="active", username=_text(data, "username"), at=at,
        )
        connection_requests.complete_for_platform(session, tenant_id, change.account.platform, change.account.id, at=at)
        if change.opened_interval:
            posts.clear_reconnect_flags(session, tenant_id, change.account.id)
        return change.account.id
    reported = _text(data, "status")
    disconnected = accounts.mark_disconnected(
        session, tenant_id, profile_id, status="expired" if reported == "expired" else "inactive", at=at
    )
    return disconnected.account.id if disconnected else None


class DuplicateEventError(Exception):
    """The event was stored before; the caller must roll back what this transaction did (leaving the scope does)."""


def _fast_delivery_move(session: Session, env: Envelope) -> Received | None:
    """The common case in one UPDATE plus one INSERT: a delivery event that moves its delivery forward.

    Returns None when the event does not qualify (then the general path runs). Raises ``DuplicateEventError`` if
    the event id was already stored, after the UPDATE: the caller's rollback undoes it.
    """
    status = DELIVERY_STATUS_BY_EVENT.get(env.type)
    post_ref, profile_id = _text(env.data, "post_id"), _text(env.data, "profile_id")
    if status is None or post_ref is None or profile_id is None:
        return None
    target = deliveries.advance_by_refs(
        session, post_ref, profile_id, status, at=env.created_at, error=_text(env.data, "error"),
        permalink=_text(env.data, "permalink"), platform_post_id=_text(env.data, "platform_id"), attempt=True,
    )
    if target is None:
        return None
    match = Match(True, target.tenant_id, target.post_id, target.account_id)
    now = utcnow()
    row_id = webhook_events.insert_once(
        session, event_id=env.id, type=env.type, payload=env.raw, occurred_at=env.created_at, match=match,
        profile_id=profile_id, received_at=now,
    )
    if row_id is None:
        raise DuplicateEventError(env.id)
    return Received(_stored(row_id, env, match, profile_id, now))


def _stored(row_id: uuid.UUID, env: Envelope, match: Match, profile_id: str | None, now: datetime) -> StoredEvent:
    return StoredEvent(
        id=row_id, event_id=env.id, type=env.type, payload=env.raw, tenant_id=match.tenant_id,
        matched=match.matched, post_id=match.post_id, account_id=match.account_id, profile_id=profile_id,
        occurred_at=env.created_at, received_at=now, applied_at=now if match.matched else None, emitted_at=None,
        note=match.note,
    )


def receive(session: Session, env: Envelope) -> Received:
    """Store the event once and apply it, in the caller's transaction.

    A duplicate changes nothing: either ``Received.duplicate`` is true, or ``DuplicateEventError`` is raised and
    the caller's transaction must be rolled back.
    """
    fast = _fast_delivery_move(session, env)
    if fast is not None:
        return fast
    resolution = resolve(session, env.type, env.data)
    now = utcnow()
    row_id = webhook_events.insert_once(
        session, event_id=env.id, type=env.type, payload=env.raw, occurred_at=env.created_at,
        match=resolution.match, profile_id=resolution.profile_id, received_at=now,
    )
    if row_id is None:
        return Received(None)
    match = _with_account(resolution.match, apply_effects(session, env.type, env.created_at, env.data, resolution))
    if match is not resolution.match:
        webhook_events.record_match(session, row_id, match, at=now)
    return Received(_stored(row_id, env, match, resolution.profile_id, now))


def rematch(session: Session, stored: StoredEvent) -> bool:
    """Try again to match a stored unmatched event (its post may have been recorded since); True if it matched."""
    if stored.matched:
        return False
    resolution = resolve(session, stored.type, stored.data)
    if not resolution.match.matched:
        return False
    account_id = apply_effects(session, stored.type, stored.occurred_at or stored.received_at, stored.data, resolution)
    webhook_events.record_match(session, stored.id, _with_account(resolution.match, account_id))
    return True


def _with_account(match: Match, account_id: uuid.UUID | None) -> Match:
    """The match, naming the account a profile event has just recorded when it did not know it yet."""
    if account_id is None or match.account_id is not None:
        return match
    return Match(True, match.tenant_id, match.post_id, account_id, match.note)

