"""Builders of realistic rows for tests (through the models, in whatever session the test gives)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from postpipe import models as m

T0 = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def full_tenant(session: Session, slug: str, *, plan_id: str = "starter") -> dict[str, uuid.UUID]:
    """A tenant with one row in every tenant-scoped table; returns the ids."""
    tenant = m.Tenant(slug=slug, name=slug.title(), time_zone="Europe/Paris", plan_id=plan_id, status="active")
    session.add(tenant)
    session.flush()
    tid = tenant.id
    member = m.Member(tenant_id=tid, email=f"admin@{slug}.example", role="admin", active_from=T0)
    account = m.SocialAccount(
        tenant_id=tid, profile_id=f"prof_{slug}", platform="twitter", name=f"@{slug}", status="active"
    )
    session.add_all([member, account, m.ApprovalPolicy(tenant_id=tid)])
    session.add(m.ApprovalStep(tenant_id=tid, position=1, role="approver", approvals_required=1))
    session.flush()
    session.add(m.ConnectionInterval(tenant_id=tid, account_id=account.id, connected_at=T0))
    session.add(
        m.ConnectionRequest(tenant_id=tid, platform="twitter", url="https://x.example/c", account_id=account.id)
    )
    post = m.Post(tenant_id=tid, author_id=member.id, body=f"hello from {slug}", content_hash="0" * 64)
    session.add(post)
    session.flush()
    session.add(m.PostTarget(tenant_id=tid, post_id=post.id, account_id=account.id))
    session.add(
        m.ApprovalDecision(
            tenant_id=tid,
            post_id=post.id,
            step_position=1,
            content_hash="0" * 64,
            reviewer_email=member.email,
            member_id=member.id,
            decision="approve",
            accepted=True,
        )
    )
    session.add(m.Delivery(tenant_id=tid, post_id=post.id, account_id=account.id, platform="twitter"))
    session.add(
        m.WebhookEvent(event_id=f"evt_{slug}", type="post.processed", payload={}, tenant_id=tid, matched=True)
    )
    session.add(
        m.StatsSnapshot(
            tenant_id=tid,
            post_id=post.id,
            account_id=account.id,
            platform="twitter",
            recorded_at=T0 + timedelta(hours=1),
            metrics={"impressions": 10},
        )
    )
    invoice = m.Invoice(
        tenant_id=tid,
        period="2026-09",
        number=abs(hash(slug)) % 10_000_000,
        currency="USD",
        subtotal=Decimal("29.00"),
        total=Decimal("29.00"),
        plan_snapshot={"id": plan_id},
    )
    session.add(invoice)
    session.flush()
    session.add(
        m.InvoiceLine(
            tenant_id=tid,
            invoice_id=invoice.id,
            position=1,
            kind="base",
            description="Base fee",
            quantity=Decimal(1),
            amount=Decimal("29.00"),
        )
    )
    session.add(
        m.Notification(
            tenant_id=tid, kind="test", recipient=member.email, subject="s", body="b", dedupe_key=f"n-{slug}"
        )
    )
    session.flush()
    return {"tenant": tid, "member": member.id, "account": account.id, "post": post.id, "invoice": invoice.id}
