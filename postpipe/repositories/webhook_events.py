"""Webhook events as received from Postproxy: stored once (unique event id), then applied and emitted."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from postpipe.models import WebhookEvent, utcnow
from postpipe.repositories._sql import upsert_insert

PROFILE_STATE_EVENTS = ("profile.connected", "profile.disconnected")


@dataclass(frozen=True)
class StoredEvent:
    id: uuid.UUID
    event_id: str
    type: str
    payload: dict[str, Any]
    tenant_id: uuid.UUID | None
    matched: bool
    post_id: uuid.UUID | None
    account_id: uuid.UUID | None
    profile_id: str | None
    occurred_at: datetime | None
    received_at: datetime
    applied_at: datetime | None
    emitted_at: datetime | None
    note: str | None

    @property
    def data(self) -> dict[str, Any]:
        data = self.payload.get("data")
        return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Match:
    """What an event was matched to; ``matched=False`` with a ``note`` saying why not."""

    matched: bool
    tenant_id: uuid.UUID | None = None
    post_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    note: str | None = None


_COLUMNS = (
    WebhookEvent.id, WebhookEvent.event_id, WebhookEvent.type, WebhookEvent.payload, WebhookEvent.tenant_id,
    WebhookEvent.matched, WebhookEvent.post_id, WebhookEvent.account_id, WebhookEvent.profile_id,
    WebhookEvent.occurred_at, WebhookEvent.received_at, WebhookEvent.applied_at, WebhookEvent.emitted_at,
    WebhookEvent.note,
)


def _stored(row: object) -> StoredEvent:
    return StoredEvent(*row)  # type: ignore[arg-type]


def insert_once(
    session: Session,
    *,
    event_id: str,
    type: str,
    payload: dict[str, Any],
    occurred_at: datetime | None,
    match: Match,
    profile_id: str | None = None,
    received_at: datetime | None = None,
) -> uuid.UUID | None:
    """Store the event unless its id is already stored; returns the new row id, or None for a duplicate.

    A matched event is stored as applied: the caller applies it in the same transaction.
    """
    now = received_at or utcnow()
    params = {
        "id": uuid.uuid4(), "event_id": event_id, "type": type, "payload": payload, "occurred_at": occurred_at,
        "tenant_id": match.tenant_id, "matched": match.matched, "post_id": match.post_id,
        "account_id": match.account_id, "profile_id": profile_id, "note": match.note, "received_at": now,
        "applied_at": now if match.matched else None,
    }
    return session.execute(_insert_once_statement(session), params).scalar()


_INSERT_ONCE: dict[str, Any] = {}


def _insert_once_statement(session: Session) -> Any:
    """INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING id, built once per dialect (the receiver's hot path)."""
    dialect = session.get_bind().dialect.name
    if dialect not in _INSERT_ONCE:
        _INSERT_ONCE[dialect] = (
            upsert_insert(session, WebhookEvent.__table__)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(WebhookEvent.__table__.c.id)
        )
    return _INSERT_ONCE[dialect]


def record_match(session: Session, row_id: uuid.UUID, match: Match, *, at: datetime | None = None) -> None:
    """Update the match of a stored event (a later re-match); applied when matched."""
    values: dict[str, Any] = {
        "matched": match.matched, "tenant_id": match.tenant_id, "post_id": match.post_id,
        "account_id": match.account_id, "note": match.note,
    }
    if match.matched:
        values["applied_at"] = at or utcnow()
    session.execute(update(WebhookEvent).where(WebhookEvent.id == row_id).values(**values))


def get(session: Session, event_id: str) -> StoredEvent | None:
    row = session.execute(select(*_COLUMNS).where(WebhookEvent.event_id == event_id)).first()
    return _stored(row) if row else None


def unemitted(session: Session, *, received_before: datetime | None = None, limit: int = 500) -> list[StoredEvent]:
    """Matched events not yet turned into Prefect events, oldest first."""
    query = select(*_COLUMNS).where(WebhookEvent.emitted_at.is_(None), WebhookEvent.matched.is_(True))
    if received_before is not None:
        query = query.where(WebhookEvent.received_at < received_before)
    rows = session.execute(query.order_by(WebhookEvent.received_at).limit(limit))
    return [_stored(r) for r in rows]


def unmatched(session: Session, *, limit: int = 100) -> list[StoredEvent]:
    """Events postpipe could not attribute to a tenant (for operators), newest first."""
    rows = session.execute(
        select(*_COLUMNS).where(WebhookEvent.matched.is_(False)).order_by(WebhookEvent.received_at.desc()).limit(limit)
    )
    return [_stored(r) for r in rows]


def mark_emitted(session: Session, row_ids: Iterable[uuid.UUID], *, at: datetime | None = None) -> int:
    ids = list(row_ids)
    if not ids:
        return 0
    result = session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id.in_(ids), WebhookEvent.emitted_at.is_(None))
        .values(emitted_at=at or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def later_profile_event_applied(session: Session, profile_id: str, after: datetime) -> bool:
    """True if a connect/disconnect of this profile that happened after ``after`` is already applied."""
    found = session.execute(
        select(WebhookEvent.id)
        .where(
            WebhookEvent.profile_id == profile_id,
            WebhookEvent.type.in_(PROFILE_STATE_EVENTS),
            WebhookEvent.occurred_at > after,
            WebhookEvent.applied_at.is_not(None),
        )
        .limit(1)
    ).first()
    return found is not None


def counts(session: Session) -> dict[str, int]:
    """Totals for health checks and tests: stored, matched, unmatched, unemitted."""
    row = session.execute(
        select(
            func.count(),
            func.count().filter(WebhookEvent.matched.is_(True)),
            func.count().filter(and_(WebhookEvent.matched.is_(True), WebhookEvent.emitted_at.is_(None))),
        )
    ).one()
    total, matched, unemitted_count = (int(v) for v in row)
    return {"stored": total, "matched": matched, "unmatched": total - matched, "unemitted": unemitted_count}

