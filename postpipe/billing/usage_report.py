"""Month-to-date usage per tenant (the seed article's ``calculate_monthly_usage``), from Postgres, and its
cross-check against what Postproxy lists for the tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from postpipe.billing.periods import PeriodBounds, TimeZoneError, current_period
from postpipe.repositories import metering, tenants


@dataclass(frozen=True)
class TenantUsageReport:
    tenant_id: uuid.UUID
    slug: str
    period: str
    since: datetime
    published_posts: int
    accounts_connected: int
    seats: int
    connected_profile_ids: frozenset[str]
    has_api_key: bool


@dataclass(frozen=True)
class CrossCheck:
    """Postgres against Postproxy for one tenant: the profile ids each side has and the other lacks."""

    postgres_count: int
    postproxy_count: int
    only_in_postgres: tuple[str, ...] = field(default_factory=tuple)
    only_at_postproxy: tuple[str, ...] = field(default_factory=tuple)

    @property
    def matches(self) -> bool:
        return not self.only_in_postgres and not self.only_at_postproxy


def month_to_date(session: Session, now: datetime | None = None) -> list[TenantUsageReport]:
    """For every open tenant: posts published since local midnight of the 1st, accounts and seats right now."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    open_tenants = tenants.list_tenants(session)
    bounds: dict[str, PeriodBounds] = {}
    periods: dict[str, str] = {}
    for zone in {t.time_zone for t in open_tenants}:
        try:
            period = current_period(now, zone)
        except TimeZoneError:
            continue
        bounds[zone] = PeriodBounds(period.bounds(zone).start, now)
        periods[zone] = str(period)
    raw = metering.meter(session, {z: (b.start, b.end) for z, b in bounds.items()}) if bounds else {}
    profiles = metering.connected_profiles(session, now)
    seats = metering.active_seats(session, now)
    reports = []
    for tenant in open_tenants:
        if tenant.time_zone not in bounds:
            continue
        connected = frozenset(profiles.get(tenant.id, set()))
        usage = raw.get(tenant.id)
        reports.append(
            TenantUsageReport(
                tenant_id=tenant.id,
                slug=tenant.slug,
                period=periods[tenant.time_zone],
                since=bounds[tenant.time_zone].start,
                published_posts=usage.published_posts if usage else 0,
                accounts_connected=len(connected),
                seats=seats.get(tenant.id, 0),
                connected_profile_ids=connected,
                has_api_key=tenant.has_api_key,
            )
        )
    return reports


def cross_check(report: TenantUsageReport, postproxy_active_ids: set[str]) -> CrossCheck:
    return CrossCheck(
        postgres_count=report.accounts_connected,
        postproxy_count=len(postproxy_active_ids),
        only_in_postgres=tuple(sorted(report.connected_profile_ids - postproxy_active_ids)),
        only_at_postproxy=tuple(sorted(postproxy_active_ids - report.connected_profile_ids)),
    )
