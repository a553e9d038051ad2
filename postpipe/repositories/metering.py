"""Metering SQL: usage of every tenant in a period, computed set-based from facts already stored.

The caller passes the period bounds per time zone (``{zone: (start_utc, end_utc)}``, computed in Python with
zoneinfo); they become a ``WITH bounds(time_zone, period_start, period_end) AS (VALUES ...)`` CTE joined to
``tenants.time_zone``, so a handful of queries meter all tenants at once, on PostgreSQL and on SQLite.

Intervals are half-open ``[start, end)``: a delivery published exactly at the end of a period belongs to the next
one, and an account disconnected at ``t`` and reconnected at ``t`` never counts twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    union_all,
    values,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import CTE

from postpipe.models import ConnectionInterval, Delivery, Member, SocialAccount, Tenant, UTCDateTime

ZoneBounds = Mapping[str, tuple[datetime, datetime]]
MICROSECONDS_PER_SECOND = 1_000_000


@dataclass(frozen=True)
class MeteredTenant:
    """Raw usage of one tenant in its period; ``account_microseconds`` sums connection overlaps exactly."""

    tenant_id: uuid.UUID
    published_posts: int = 0
    peak_seats: int = 0
    peak_accounts: int = 0
    account_microseconds: int = 0


@dataclass(frozen=True)
class BillableTenant:
    id: uuid.UUID
    slug: str
    name: str
    time_zone: str
    plan_id: str
    status: str


def tenant_time_zones(session: Session) -> list[str]:
    """Every time zone some tenant uses (period bounds are computed once per zone)."""
    return list(session.scalars(select(Tenant.time_zone).distinct().order_by(Tenant.time_zone)))


def tenant_zones(session: Session, tenant_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The time zone of each of ``tenant_ids``."""
    zones: dict[uuid.UUID, str] = {}
    for start in range(0, len(tenant_ids), 500):
        chunk = tenant_ids[start : start + 500]
        zones.update(session.execute(select(Tenant.id, Tenant.time_zone).where(Tenant.id.in_(chunk))).all())
    return zones


def _bounds_cte(bounds: ZoneBounds) -> CTE:
    if not bounds:
        raise ValueError("bounds: at least one time zone is needed")
    rows = [(zone, start, end) for zone, (start, end) in sorted(bounds.items())]
    return (
        values(
            column("time_zone", String),
            column("period_start", UTCDateTime()),
            column("period_end", UTCDateTime()),
            name="bounds",
        )
        .data(rows)
        .cte("bounds")
    )


def billable_tenants(session: Session, bounds: ZoneBounds) -> list[BillableTenant]:
    """Tenants to invoice for the period: active ones, and closed ones that closed during or after it.

    A tenant created after the period ended owes nothing for it; onboarding tenants are not billed yet.
    """
    b = _bounds_cte(bounds)
    query = (
        select(Tenant.id, Tenant.slug, Tenant.name, Tenant.time_zone, Tenant.plan_id, Tenant.status)
        .join(b, b.c.time_zone == Tenant.time_zone)
        .where(
            Tenant.created_at < b.c.period_end,
            or_(Tenant.status == "active", and_(Tenant.status == "closed", Tenant.closed_at >= b.c.period_start)),
        )
        .order_by(Tenant.slug)
    )
    return [BillableTenant(*row) for row in session.execute(query)]


def _clipped_spans(b: CTE, tenant_id: Any, start: Any, end: Any, name: str) -> CTE:
    """Each interval overlapping its tenant's period, clipped to the period."""
    open_end = func.coalesce(end, b.c.period_end)
    return (
        select(
            tenant_id.label("tenant_id"),
            case((start > b.c.period_start, start), else_=b.c.period_start).label("span_start"),
            case((open_end < b.c.period_end, open_end), else_=b.c.period_end).label("span_end"),
        )
        .select_from(Tenant)
        .join(b, b.c.time_zone == Tenant.time_zone)
        .where(tenant_id == Tenant.id, start < b.c.period_end, or_(end.is_(None), end > b.c.period_start))
        .cte(name)
    )


def _peaks(session: Session, spans: CTE) -> dict[uuid.UUID, int]:
    """Max concurrently open spans per tenant: +1/-1 events, running sum (ends before starts at equal times)."""
    real = spans.c.span_start < spans.c.span_end
    events = union_all(
        select(spans.c.tenant_id, spans.c.span_start.label("at"), literal(1, Integer).label("delta")).where(real),
        select(spans.c.tenant_id, spans.c.span_end.label("at"), literal(-1, Integer).label("delta")).where(real),
    ).subquery("events")
    running = select(
        events.c.tenant_id,
        func.sum(events.c.delta)
        .over(partition_by=events.c.tenant_id, order_by=(events.c.at, events.c.delta), rows=(None, 0))
        .label("open_count"),
    ).subquery("running")
    query = select(running.c.tenant_id, func.max(running.c.open_count)).group_by(running.c.tenant_id)
    return {tenant_id: int(peak) for tenant_id, peak in session.execute(query)}


def _epoch_microseconds_difference(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in whole microseconds, exact on both dialects (no floating point)."""
    if session.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", end) - func.extract("epoch", start)  # numeric, microsecond-exact
        return cast(seconds * MICROSECONDS_PER_SECOND, BigInteger)
    # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds via strftime, microseconds from the text.
    def micros(value: Any) -> ColumnElement[Any]:
        return cast(func.strftime("%s", value), BigInteger) * MICROSECONDS_PER_SECOND + cast(
            func.substr(value, 21, 6), BigInteger
        )

    return micros(end) - micros(start)


def meter(session: Session, bounds: ZoneBounds) -> dict[uuid.UUID, MeteredTenant]:
    """Usage of every tenant whose time zone is in ``bounds`` (tenants with no usage are absent)."""
    b = _bounds_cte(bounds)

    posts = dict(
        session.execute(
            select(Delivery.tenant_id, func.count())
            .join(Tenant, Tenant.id == Delivery.tenant_id)
            .join(b, b.c.time_zone == Tenant.time_zone)
            .where(
                Delivery.status == "published",
                Delivery.published_at >= b.c.period_start,
                Delivery.published_at < b.c.period_end,
            )
            .group_by(Delivery.tenant_id)
        ).all()
    )
    seats = _peaks(session, _clipped_spans(b, Member.tenant_id, Member.active_from, Member.active_until, "seat_spans"))
    account_spans = _clipped_spans(
        b,
        ConnectionInterval.tenant_id,
        ConnectionInterval.connected_at,
        ConnectionInterval.disconnected_at,
        "account_spans",
    )
    accounts = _peaks(session, account_spans)
    overlap = _epoch_microseconds_difference(session, account_spans.c.span_start, account_spans.c.span_end)
    durations = {
        tenant_id: int(Decimal(total))
        for tenant_id, total in session.execute(
            select(account_spans.c.tenant_id, func.sum(overlap))
            .where(account_spans.c.span_start < account_spans.c.span_end)
            .group_by(account_spans.c.tenant_id)
        )
    }
    tenant_ids = set(posts) | set(seats) | set(accounts) | set(durations)
    return {
        tid: MeteredTenant(
            tenant_id=tid,
            published_posts=int(posts.get(tid, 0)),
            peak_seats=seats.get(tid, 0),
            peak_accounts=accounts.get(tid, 0),
            account_microseconds=durations.get(tid, 0),
        )
        for tid in tenant_ids
    }


def connected_profiles(session: Session, at: datetime) -> dict[uuid.UUID, set[str]]:
    """Per tenant, the Postproxy profile ids of the accounts connected at ``at`` (an open interval)."""
    rows = session.execute(
        select(SocialAccount.tenant_id, SocialAccount.profile_id)
        .join(
            ConnectionInterval,
            and_(ConnectionInterval.tenant_id == SocialAccount.tenant_id, ConnectionInterval.account_id == SocialAccount.id),
        )
        .where(
            ConnectionInterval.connected_at <= at,
            or_(ConnectionInterval.disconnected_at.is_(None), ConnectionInterval.disconnected_at > at),
        )
    )
    result: dict[uuid.UUID, set[str]] = {}
    for tenant_id, profile_id in rows:
        result.setdefault(tenant_id, set()).add(profile_id)
    return result


def active_seats(session: Session, at: datetime) -> dict[uuid.UUID, int]:
    """Per tenant, the members active at ``at``."""
    return {
        tenant_id: int(count)
        for tenant_id, count in session.execute(
            select(Member.tenant_id, func.count())
            .where(Member.active_from <= at, or_(Member.active_until.is_(None), Member.active_until > at))
            .group_by(Member.tenant_id)
        )
    }
