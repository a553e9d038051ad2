"""Stats snapshots: the engagement time series of published posts, one row per post, account and moment.

Collection reads what to fetch (``tenants_to_collect``, ``collection_plan``) and stores what came back in one
set-based ``INSERT ... ON CONFLICT DO NOTHING`` per tenant (``insert_snapshots``): the unique
``(post_id, account_id, recorded_at)`` makes every re-run add nothing. Reports read the latest snapshot per
post and account (``latest_snapshots``) and the time series of a few posts (``series``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    DateTime,
    String,
    Uuid,
    and_,
    bindparam,
    column,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from postpipe.db import is_postgres
from postpipe.models import (
    Delivery,
    Post,
    SocialAccount,
    StatsSnapshot,
    Tenant,
    UTCDateTime,
)
from postpipe.repositories._sql import upsert_insert

SQLITE_ROWS_PER_STATEMENT = 500
"""SQLite has no JSON record set to insert from: rows go in multi-row VALUES of this size (parameter limit)."""

_UNIQUE = ["post_id", "account_id", "recorded_at"]
_INSERT_COLUMNS = ["tenant_id", "post_id", "account_id", "platform", "recorded_at", "metrics", "raw_metrics", "collected_at"]


@dataclass(frozen=True)
class CollectTarget:
    """A tenant whose stats are collected: its id, slug and the id of its Postproxy key (never the key)."""

    id: uuid.UUID
    slug: str
    api_key_id: str


@dataclass(frozen=True)
class PostToCollect:
    """A published post to ask Postproxy about, and the earliest record time still worth fetching."""

    post_id: uuid.UUID
    postproxy_post_id: str
    fetch_from: datetime


@dataclass(frozen=True)
class AccountRef:
    id: uuid.UUID
    platform: str


@dataclass(frozen=True)
class CollectionPlan:
    posts: tuple[PostToCollect, ...]
    accounts: dict[str, AccountRef]  # Postproxy profile id -> the tenant's account


@dataclass(frozen=True)
class SnapshotRow:
    post_id: uuid.UUID
    account_id: uuid.UUID
    platform: str
    recorded_at: datetime
    metrics: dict[str, Any]
    raw_metrics: dict[str, Any]


@dataclass(frozen=True)
class LatestSnapshot:
    """The most recent snapshot of one post on one account."""

    post_id: uuid.UUID
    postproxy_post_id: str | None
    body: str
    account_id: uuid.UUID
    account_name: str
    platform: str
    recorded_at: datetime
    metrics: dict[str, Any]


@dataclass(frozen=True)
class SeriesPoint:
    post_id: uuid.UUID
    account_id: uuid.UUID
    platform: str
    recorded_at: datetime
    metrics: dict[str, Any]


def tenants_to_collect(session: Session) -> list[CollectTarget]:
    """Active tenants that have a group-scoped Postproxy key, by slug."""
    rows = session.execute(
        select(Tenant.id, Tenant.slug, Tenant.api_key_id)
        .where(Tenant.status == "active", Tenant.api_key_id.is_not(None), Tenant.api_key_encrypted.is_not(None))
        .order_by(Tenant.slug)
    )
    return [CollectTarget(r.id, r.slug, r.api_key_id) for r in rows]


def collection_plan(
    session: Session, tenant_id: uuid.UUID, *, window_start: datetime, refetch_overlap: timedelta
) -> CollectionPlan:
    """The tenant's posts with a delivery published since ``window_start``, and its accounts by profile id.

    A post already snapshotted is fetched again only from ``refetch_overlap`` before its latest snapshot (late
    records still land; the unique key drops repeats); a post never snapshotted from ``window_start``.
    """
    published_in_window = exists().where(
        Delivery.tenant_id == Post.tenant_id,
        Delivery.post_id == Post.id,
        Delivery.status == "published",
        Delivery.published_at >= window_start,
    )
    latest = (
        select(func.max(StatsSnapshot.recorded_at))
        .where(StatsSnapshot.tenant_id == Post.tenant_id, StatsSnapshot.post_id == Post.id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Post.id, Post.postproxy_post_id, latest.label("latest"))
        .where(Post.tenant_id == tenant_id, Post.postproxy_post_id.is_not(None), published_in_window)
        .order_by(Post.id)
    ).all()
    posts = tuple(
        PostToCollect(
            r.id,
            r.postproxy_post_id,
            window_start if r.latest is None else max(window_start, _aware(r.latest) - refetch_overlap),
        )
        for r in rows
    )
    accounts = {
        r.profile_id: AccountRef(r.id, r.platform)
        for r in session.execute(
            select(SocialAccount.profile_id, SocialAccount.id, SocialAccount.platform).where(
                SocialAccount.tenant_id == tenant_id
            )
        )
    }
    return CollectionPlan(posts, accounts)


def _aware(value: datetime) -> datetime:
    """A scalar subquery bypasses the column type on SQLite: restore the UTC zone it was written in."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def insert_snapshots(
    session: Session, tenant_id: uuid.UUID, rows: Sequence[SnapshotRow], *, collected_at: datetime
) -> int:
    """Store the snapshots that are not stored yet (one set-based INSERT on PostgreSQL); returns how many."""
    if not rows:
        return 0
    if is_postgres(session):
        return _insert_from_json(session, tenant_id, rows, collected_at)
    added = 0
    for start in range(0, len(rows), SQLITE_ROWS_PER_STATEMENT):
        chunk = rows[start : start + SQLITE_ROWS_PER_STATEMENT]
        values = [
            {
                "tenant_id": tenant_id,
                "post_id": r.post_id,
                "account_id": r.account_id,
                "platform": r.platform,
                "recorded_at": r.recorded_at,
                "metrics": r.metrics,
                "raw_metrics": r.raw_metrics,
                "collected_at": collected_at,
            }
            for r in chunk
        ]
        stmt = upsert_insert(session, StatsSnapshot).values(values).on_conflict_do_nothing(index_elements=_UNIQUE)
        added += session.execute(stmt).rowcount or 0
    return added


def _insert_from_json(session: Session, tenant_id: uuid.UUID, rows: Sequence[SnapshotRow], collected_at: datetime) -> int:
    """``INSERT ... SELECT FROM jsonb_to_recordset(:rows) ON CONFLICT DO NOTHING``: one statement, one parameter,
    whatever the number of rows (a multi-row VALUES would hit PostgreSQL's 65,535-parameter limit)."""
    records = func.jsonb_to_recordset(bindparam("rows", type_=JSONB)).table_valued(
        column("post_id", Uuid()),
        column("account_id", Uuid()),
        column("platform", String()),
        column("recorded_at", DateTime(timezone=True)),
        column("metrics", JSONB()),
        column("raw_metrics", JSONB()),
    ).render_derived(name="r", with_types=True)
    source = select(
        literal(tenant_id, Uuid()),
        records.c.post_id,
        records.c.account_id,
        records.c.platform,
        records.c.recorded_at,
        records.c.metrics,
        records.c.raw_metrics,
        literal(collected_at, UTCDateTime()),
    )
    stmt = (
        upsert_insert(session, StatsSnapshot.__table__)  # Core: a bound JSON parameter, not ORM bulk rows
        .from_select(_INSERT_COLUMNS, source)
        .on_conflict_do_nothing(index_elements=_UNIQUE)
    )
    payload = [
        {
            "post_id": str(r.post_id),
            "account_id": str(r.account_id),
            "platform": r.platform,
            "recorded_at": r.recorded_at.isoformat(),
            "metrics": r.metrics,
            "raw_metrics": r.raw_metrics,
        }
        for r in rows
    ]
    inserted = stmt.returning(literal(1)).cte("inserted")
    return int(session.scalar(select(func.count()).select_from(inserted), {"rows": payload}) or 0)


def count(session: Session, tenant_id: uuid.UUID | None = None) -> int:
    query = select(func.count()).select_from(StatsSnapshot)
    if tenant_id is not None:
        query = query.where(StatsSnapshot.tenant_id == tenant_id)
    return int(session.scalar(query) or 0)


def latest_snapshots(session: Session, tenant_id: uuid.UUID, *, since: datetime | None = None) -> list[LatestSnapshot]:
    """The latest snapshot (recorded at or after ``since``) of each of the tenant's posts on each account."""
    newest = select(
        StatsSnapshot.post_id, StatsSnapshot.account_id, func.max(StatsSnapshot.recorded_at).label("recorded_at")
    ).where(StatsSnapshot.tenant_id == tenant_id)
    if since is not None:
        newest = newest.where(StatsSnapshot.recorded_at >= since)
    newest_sq = newest.group_by(StatsSnapshot.post_id, StatsSnapshot.account_id).subquery()
    rows = session.execute(
        select(
            StatsSnapshot.post_id,
            Post.postproxy_post_id,
            Post.body,
            StatsSnapshot.account_id,
            SocialAccount.name,
            StatsSnapshot.platform,
            StatsSnapshot.recorded_at,
            StatsSnapshot.metrics,
        )
        .join(
            newest_sq,
            and_(
                newest_sq.c.post_id == StatsSnapshot.post_id,
                newest_sq.c.account_id == StatsSnapshot.account_id,
                newest_sq.c.recorded_at == StatsSnapshot.recorded_at,
            ),
        )
        .join(Post, and_(Post.tenant_id == StatsSnapshot.tenant_id, Post.id == StatsSnapshot.post_id))
        .join(
            SocialAccount,
            and_(SocialAccount.tenant_id == StatsSnapshot.tenant_id, SocialAccount.id == StatsSnapshot.account_id),
        )
        .where(StatsSnapshot.tenant_id == tenant_id)
        .order_by(StatsSnapshot.post_id, StatsSnapshot.platform)
    )
    return [LatestSnapshot(*r) for r in rows]  # type: ignore[arg-type]


def series(
    session: Session, tenant_id: uuid.UUID, post_ids: Iterable[uuid.UUID], *, since: datetime | None = None
) -> list[SeriesPoint]:
    """Every snapshot of the given posts (recorded at or after ``since``), oldest first."""
    ids = list(post_ids)
    if not ids:
        return []
    query = select(
        StatsSnapshot.post_id,
        StatsSnapshot.account_id,
        StatsSnapshot.platform,
        StatsSnapshot.recorded_at,
        StatsSnapshot.metrics,
    ).where(StatsSnapshot.tenant_id == tenant_id, StatsSnapshot.post_id.in_(ids))
    if since is not None:
        query = query.where(StatsSnapshot.recorded_at >= since)
    rows = session.execute(query.order_by(StatsSnapshot.post_id, StatsSnapshot.account_id, StatsSnapshot.recorded_at))
    return [SeriesPoint(*r) for r in rows]  # type: ignore[arg-type]
