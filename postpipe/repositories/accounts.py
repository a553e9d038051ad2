"""Social accounts and their connection intervals (billing reads the intervals)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from postpipe.models import ConnectionInterval, SocialAccount, utcnow
from postpipe.repositories._sql import upsert_insert


class AccountOwnershipError(PermissionError):
    """A Postproxy profile that postpipe already knows under another tenant."""


@dataclass(frozen=True)
class AccountInfo:
    id: uuid.UUID
    tenant_id: uuid.UUID
    profile_id: str
    platform: str
    name: str
    status: str
    connected: bool
    expires_at: datetime | None


@dataclass(frozen=True)
class AccountChange:
    account: AccountInfo
    created: bool
    opened_interval: bool
    closed_interval: bool


def _info(a: SocialAccount) -> AccountInfo:
    return AccountInfo(
        id=a.id,
        tenant_id=a.tenant_id,
        profile_id=a.profile_id,
        platform=a.platform,
        name=a.name,
        status=a.status,
        connected=a.connected,
        expires_at=a.expires_at,
    )


def _open_interval(session: Session, account: SocialAccount) -> ConnectionInterval | None:
    return session.scalar(
        select(ConnectionInterval).where(
            ConnectionInterval.account_id == account.id, ConnectionInterval.disconnected_at.is_(None)
        )
    )


def _set_connected(session: Session, account: SocialAccount, usable: bool, at: datetime) -> tuple[bool, bool]:
    """Open or close the account's interval so that it matches ``usable``; returns (opened, closed)."""
    current = _open_interval(session, account)
    account.connected = usable
    if usable and current is None:
        session.add(ConnectionInterval(tenant_id=account.tenant_id, account_id=account.id, connected_at=at))
        session.flush()
        return True, False
    if not usable and current is not None:
        current.disconnected_at = max(at, current.connected_at)
        session.flush()
        return False, True
    return False, False


def apply_profile(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    profile_id: str,
    platform: str,
    name: str,
    status: str,
    username: str | None = None,
    expires_at: datetime | None = None,
    at: datetime | None = None,
) -> AccountChange:
    """Record what Postproxy says about a profile of this tenant; keeps the intervals consistent."""
    at = at or utcnow()
    # insert-if-absent, then lock the row: two writers that learn of the same new profile at once (the sync
    # flow and a webhook) meet on the unique profile id and the second one waits, instead of failing on it
    created = session.execute(
        upsert_insert(session, SocialAccount)
        .values(tenant_id=tenant_id, profile_id=profile_id, platform=platform, name=name, status=status,
                connected=False)
        .on_conflict_do_nothing(index_elements=["profile_id"])
        .returning(SocialAccount.id)
    ).first() is not None
    account = session.scalar(
        select(SocialAccount)
        .where(SocialAccount.profile_id == profile_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if account is None or account.tenant_id != tenant_id:  # None: another tenant's row, hidden by row-level security
        raise AccountOwnershipError(f"profile {profile_id} belongs to another tenant")
    account.platform, account.name, account.username = platform, name, username
    account.status, account.expires_at = status, expires_at
    session.flush()
    opened, closed = _set_connected(session, account, status == "active", at)
    return AccountChange(_info(account), created, opened, closed)


def mark_disconnected(
    session: Session, tenant_id: uuid.UUID, profile_id: str, *, status: str = "inactive", at: datetime | None = None
) -> AccountChange | None:
    """The profile is gone or unusable: set its status and close its interval. None if unknown."""
    account = session.scalar(
        select(SocialAccount).where(SocialAccount.tenant_id == tenant_id, SocialAccount.profile_id == profile_id)
    )
    if account is None:
        return None
    account.status = status
    opened, closed = _set_connected(session, account, False, at or utcnow())
    return AccountChange(_info(account), False, opened, closed)


def disconnect_missing(
    session: Session, tenant_id: uuid.UUID, present_profile_ids: Iterable[str], *, at: datetime | None = None
) -> list[AccountChange]:
    """Close every connected account of the tenant that Postproxy no longer lists."""
    present = set(present_profile_ids)
    changes = []
    for account in session.scalars(
        select(SocialAccount).where(SocialAccount.tenant_id == tenant_id, SocialAccount.connected.is_(True))
    ):
        if account.profile_id not in present:
            change = mark_disconnected(session, tenant_id, account.profile_id, at=at)
            if change is not None:
                changes.append(change)
    return changes


def find_by_profile(session: Session, profile_id: str) -> AccountInfo | None:
    account = session.scalar(select(SocialAccount).where(SocialAccount.profile_id == profile_id))
    return _info(account) if account else None


def get_many(session: Session, tenant_id: uuid.UUID, account_ids: Iterable[uuid.UUID]) -> list[AccountInfo]:
    ids = list(account_ids)
    rows = session.scalars(
        select(SocialAccount).where(SocialAccount.tenant_id == tenant_id, SocialAccount.id.in_(ids))
    )
    return [_info(a) for a in rows]


def list_accounts(session: Session, tenant_id: uuid.UUID, *, connected_only: bool = False) -> list[AccountInfo]:
    query = select(SocialAccount).where(SocialAccount.tenant_id == tenant_id)
    if connected_only:
        query = query.where(SocialAccount.connected.is_(True))
    return [_info(a) for a in session.scalars(query.order_by(SocialAccount.platform, SocialAccount.name))]


def intervals(session: Session, account_id: uuid.UUID) -> list[tuple[datetime, datetime | None]]:
    rows = session.execute(
        select(ConnectionInterval.connected_at, ConnectionInterval.disconnected_at)
        .where(ConnectionInterval.account_id == account_id)
        .order_by(ConnectionInterval.connected_at)
    )
    return [(r.connected_at, r.disconnected_at) for r in rows]
