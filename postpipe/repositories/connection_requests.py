"""OAuth connection links handed to customers, and their completion."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from postpipe.models import ConnectionRequest, utcnow


@dataclass(frozen=True)
class ConnectionRequestInfo:
    id: uuid.UUID
    tenant_id: uuid.UUID
    platform: str
    url: str
    refresh: bool
    state: str
    created_at: datetime
    completed_at: datetime | None


def _info(r: ConnectionRequest) -> ConnectionRequestInfo:
    return ConnectionRequestInfo(
        id=r.id,
        tenant_id=r.tenant_id,
        platform=r.platform,
        url=r.url,
        refresh=r.refresh,
        state=r.state,
        created_at=r.created_at,
        completed_at=r.completed_at,
    )


def create(
    session: Session, tenant_id: uuid.UUID, *, platform: str, url: str, refresh: bool = False
) -> ConnectionRequestInfo:
    """Record a new link; an older pending link for the same platform is superseded."""
    for older in session.scalars(
        select(ConnectionRequest).where(
            ConnectionRequest.tenant_id == tenant_id,
            ConnectionRequest.platform == platform,
            ConnectionRequest.state == "pending",
        )
    ):
        older.state = "superseded"
    request = ConnectionRequest(tenant_id=tenant_id, platform=platform, url=url, refresh=refresh, state="pending")
    session.add(request)
    session.flush()
    return _info(request)


def pending_for_platform(session: Session, tenant_id: uuid.UUID, platform: str) -> ConnectionRequestInfo | None:
    request = session.scalar(
        select(ConnectionRequest)
        .where(
            ConnectionRequest.tenant_id == tenant_id,
            ConnectionRequest.platform == platform,
            ConnectionRequest.state == "pending",
        )
        .order_by(ConnectionRequest.created_at.desc())
    )
    return _info(request) if request else None


def list_pending(session: Session, tenant_id: uuid.UUID) -> list[ConnectionRequestInfo]:
    rows = session.scalars(
        select(ConnectionRequest)
        .where(ConnectionRequest.tenant_id == tenant_id, ConnectionRequest.state == "pending")
        .order_by(ConnectionRequest.platform)
    )
    return [_info(r) for r in rows]


def complete_for_platform(
    session: Session, tenant_id: uuid.UUID, platform: str, account_id: uuid.UUID, *, at: datetime | None = None
) -> int:
    """Mark the tenant's pending links for ``platform`` completed by ``account_id``; returns how many."""
    done = 0
    for request in session.scalars(
        select(ConnectionRequest).where(
            ConnectionRequest.tenant_id == tenant_id,
            ConnectionRequest.platform == platform,
            ConnectionRequest.state == "pending",
        )
    ):
        request.state, request.account_id, request.completed_at = "completed", account_id, at or utcnow()
        done += 1
    session.flush()
    return done
