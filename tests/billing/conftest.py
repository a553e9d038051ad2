"""Builders for billing tests: tenants with members, accounts (connection intervals) and published deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from postpipe import models as m

LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


def make_tenant(
    session: Session,
    slug: str,
    *,
    plan_id: str = "starter",
    time_zone: str = "UTC",
    name: str | None = None,
    status: str = "active",
    created_at: datetime = LONG_AGO,
    closed_at: datetime | None = None,
) -> uuid.UUID:
    """A tenant whose owner (an admin member active since ``created_at``) is its first seat."""
    tenant = m.Tenant(
        slug=slug, name=name or slug.title(), time_zone=time_zone, plan_id=plan_id, status=status,
        created_at=created_at, closed_at=closed_at,
    )
    session.add(tenant)
    session.flush()
    session.add(m.Member(tenant_id=tenant.id, email=f"owner@{slug}.example", role="admin", active_from=created_at))
    session.flush()
    return tenant.id


def add_member(
    session: Session, tenant_id: uuid.UUID, email: str, active_from: datetime, active_until: datetime | None = None
) -> uuid.UUID:
    member = m.Member(tenant_id=tenant_id, email=email, role="creator", active_from=active_from,
                      active_until=active_until)
    session.add(member)
    session.flush()
    return member.id


def add_account(
    session: Session,
    tenant_id: uuid.UUID,
    profile_id: str,
    intervals: Sequence[tuple[datetime, datetime | None]] = ((LONG_AGO, None),),
    *,
    platform: str = "twitter",
) -> uuid.UUID:
    """A social account with the given connection intervals (the last may be open)."""
    open_now = bool(intervals) and intervals[-1][1] is None
    account = m.SocialAccount(
        tenant_id=tenant_id, profile_id=profile_id, platform=platform, name=profile_id,
        status="active" if open_now else "inactive", connected=open_now,
    )
    session.add(account)
    session.flush()
    for start, end in intervals:
        session.add(m.ConnectionInterval(tenant_id=tenant_id, account_id=account.id, connected_at=start,
                                         disconnected_at=end))
    session.flush()
    return account.id


def publish(
    session: Session,
    tenant_id: uuid.UUID,
    accounts: Sequence[uuid.UUID],
    at: datetime,
    *,
    status: str = "published",
    count: int = 1,
) -> None:
    """``count`` posts, each delivered to every one of ``accounts`` at ``at`` (one delivery per platform)."""
    author = session.query(m.Member.id).filter(m.Member.tenant_id == tenant_id).order_by(m.Member.active_from).first()
    assert author is not None, "make_tenant creates an owner member"
    platforms = {a: session.get(m.SocialAccount, a).platform for a in accounts}  # type: ignore[union-attr]
    posts = [
        m.Post(id=uuid.uuid4(), tenant_id=tenant_id, author_id=author[0], body="hello", content_hash="0" * 64,
               status="published")
        for _ in range(count)
    ]
    session.add_all(posts)
    session.flush()
    session.add_all(
        m.Delivery(
            tenant_id=tenant_id, post_id=post.id, account_id=account_id, platform=platforms[account_id],
            status=status, published_at=at if status == "published" else None,
        )
        for post in posts
        for account_id in accounts
    )
    session.flush()
