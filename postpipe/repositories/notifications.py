"""Notifications owed to people at a tenant; a dedupe key makes recording them idempotent."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from postpipe.models import Member, Notification, utcnow
from postpipe.repositories._sql import upsert_insert

MAX_DEDUPE_KEY = 200


@dataclass(frozen=True)
class NotificationInfo:
    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    recipient: str
    subject: str
    body: str
    dedupe_key: str
    created_at: datetime
    sent_at: datetime | None


_COLUMNS = (
    Notification.id, Notification.tenant_id, Notification.kind, Notification.recipient, Notification.subject,
    Notification.body, Notification.dedupe_key, Notification.created_at, Notification.sent_at,
)


def _key(base: str, recipient: str) -> str:
    key = f"{base}:{recipient}"
    if len(key) > MAX_DEDUPE_KEY:
        raise ValueError(f"dedupe_key: {key[:40]!r}... is longer than {MAX_DEDUPE_KEY} characters")
    return key


def admin_emails(session: Session, tenant_id: uuid.UUID, *, at: datetime | None = None) -> list[str]:
    """The active admins of the tenant: who hears about failures and reconnections."""
    now = at or utcnow()
    rows = session.scalars(
        select(Member.email)
        .where(Member.tenant_id == tenant_id, Member.role == "admin", Member.active_from <= now)
        .where((Member.active_until.is_(None)) | (Member.active_until > now))
        .order_by(Member.email)
    )
    return list(rows)


def record(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    kind: str,
    recipients: Iterable[str],
    subject: str,
    body: str,
    dedupe_key: str,
) -> list[uuid.UUID]:
    """One notification per recipient, keyed ``<dedupe_key>:<recipient>``; returns only the ids created now."""
    created: list[uuid.UUID] = []
    for recipient in dict.fromkeys(recipients):
        new_id = session.execute(
            upsert_insert(session, Notification)
            .values(
                id=uuid.uuid4(), tenant_id=tenant_id, kind=kind, recipient=recipient, subject=subject[:300],
                body=body, dedupe_key=_key(dedupe_key, recipient), created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "dedupe_key"])
            .returning(Notification.id)
        ).scalar()
        if new_id is not None:
            created.append(new_id)
    return created


def list_for_tenant(
    session: Session, tenant_id: uuid.UUID, *, kind: str | None = None, unsent_only: bool = False
) -> list[NotificationInfo]:
    query = select(*_COLUMNS).where(Notification.tenant_id == tenant_id)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    if unsent_only:
        query = query.where(Notification.sent_at.is_(None))
    rows = session.execute(query.order_by(Notification.created_at, Notification.recipient))
    return [NotificationInfo(*r) for r in rows]  # type: ignore[arg-type]


def get_many(session: Session, ids: Iterable[uuid.UUID]) -> list[NotificationInfo]:
    wanted = list(ids)
    if not wanted:
        return []
    rows = session.execute(select(*_COLUMNS).where(Notification.id.in_(wanted)).order_by(Notification.recipient))
    return [NotificationInfo(*r) for r in rows]  # type: ignore[arg-type]


def mark_sent(session: Session, ids: Iterable[uuid.UUID], *, at: datetime | None = None) -> int:
    wanted = list(ids)
    if not wanted:
        return 0
    result = session.execute(
        update(Notification)
        .where(Notification.id.in_(wanted), Notification.sent_at.is_(None))
        .values(sent_at=at or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
