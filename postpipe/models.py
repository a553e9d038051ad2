"""SQLAlchemy 2.0 typed models: the schema of everything postpipe knows.

Conventions:
- every tenant-scoped table has ``tenant_id`` (foreign key to ``tenants``) and a unique ``(tenant_id, id)``
  so that references inside a tenant are composite foreign keys: the database itself refuses a post
  that targets another tenant's account;
- times are stored timezone-aware and always come back as UTC ``datetime``s (on SQLite too);
- money is ``Numeric`` and handled as ``Decimal``; JSON is JSONB on PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that refuses naive input and always reads back as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: postpipe stores only timezone-aware times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite keeps no offset; we only ever wrote UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
Money = Numeric(14, 2)
UnitPrice = Numeric(14, 6)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


def _tenant_fk() -> Mapped[uuid.UUID]:
    return mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"), index=True)


def _in_tenant(table: str, *columns: str) -> ForeignKeyConstraint:
    """A composite foreign key that keeps a reference inside the same tenant."""
    return ForeignKeyConstraint(
        ["tenant_id", *columns], [f"{table}.tenant_id", f"{table}.id"], ondelete="RESTRICT"
    )


# ---------------------------------------------------------------- installation-wide (not tenant-scoped)


class Plan(Base):
    """A price list: currency, base fee, and one price per metered metric."""

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    base_fee: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    account_metering: Mapped[str] = mapped_column(String(20), default="peak")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        CheckConstraint("account_metering in ('peak', 'prorated')", name="account_metering"),
        CheckConstraint("base_fee >= 0", name="base_fee_not_negative"),
    )


class PlanPrice(Base):
    """How a plan prices one metric: per unit above an included quantity, or graduated tiers."""

    __tablename__ = "plan_prices"

    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    model: Mapped[str] = mapped_column(String(20))
    unit_price: Mapped[Decimal] = mapped_column(UnitPrice, default=Decimal("0"))
    included_quantity: Mapped[Decimal] = mapped_column(Numeric(14, 4), default=Decimal("0"))
    # graduated: [{"up_to": 100 | null, "unit_price": "0.10"}, ...] in ascending order, last up_to null
    tiers: Mapped[list[Any]] = mapped_column(default=list)

    __table_args__ = (
        CheckConstraint("metric in ('published_posts', 'connected_accounts', 'seats')", name="metric"),
        CheckConstraint("model in ('per_unit', 'graduated')", name="model"),
    )


class WebhookSubscription(Base):
    """The account-wide Postproxy webhook that points at postpipe's receiver (one per installation)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    postproxy_webhook_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    url: Mapped[str] = mapped_column(String(500), unique=True)
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    rotated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---------------------------------------------------------------- tenants and their people


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(20), default="onboarding")
    profile_group_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    api_key_id: Mapped[str | None] = mapped_column(String(80))
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    __table_args__ = (CheckConstraint("status in ('onboarding', 'active', 'closed')", name="status"),)


class Member(Base):
    """A person on a tenant's team; billed as a seat while active."""

    __tablename__ = "members"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    active_from: Mapped[datetime] = mapped_column(default=utcnow)
    active_until: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        UniqueConstraint("tenant_id", "email"),
        CheckConstraint("role in ('creator', 'approver', 'admin')", name="role"),
    )


class SocialAccount(Base):
    """A social profile connected through Postproxy into the tenant's profile group."""

    __tablename__ = "social_accounts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    profile_id: Mapped[str] = mapped_column(String(80), unique=True)
    platform: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime | None]
    connected: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        CheckConstraint("status in ('active', 'expired', 'inactive')", name="status"),
    )


class ConnectionInterval(Base):
    """A span during which an account was connected and usable (billing reads these)."""

    __tablename__ = "connection_intervals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    account_id: Mapped[uuid.UUID]
    connected_at: Mapped[datetime]
    disconnected_at: Mapped[datetime | None]

    __table_args__ = (
        _in_tenant("social_accounts", "account_id"),
        CheckConstraint("disconnected_at is null or disconnected_at >= connected_at", name="ordered"),
        Index(
            "uq_connection_intervals_one_open",
            "account_id",
            unique=True,
            postgresql_where=text("disconnected_at is null"),
            sqlite_where=text("disconnected_at is null"),
        ),
    )


class ConnectionRequest(Base):
    """An OAuth link handed to the customer to connect (or reconnect) one platform."""

    __tablename__ = "connection_requests"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    platform: Mapped[str] = mapped_column(String(30))
    url: Mapped[str] = mapped_column(Text)
    refresh: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    account_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        _in_tenant("social_accounts", "account_id"),
        CheckConstraint("state in ('pending', 'completed', 'superseded')", name="state"),
    )


# ---------------------------------------------------------------- approvals


class ApprovalPolicy(Base):
    """What a tenant does with a scheduled post whose time passes before its last approval."""

    __tablename__ = "approval_policies"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    on_missed_schedule: Mapped[str] = mapped_column(String(20), default="publish_now")

    __table_args__ = (
        CheckConstraint("on_missed_schedule in ('publish_now', 'expire')", name="on_missed_schedule"),
    )


class ApprovalStep(Base):
    """One ordered step of a tenant's review: N distinct approvers of a role, within a timeout."""

    __tablename__ = "approval_steps"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    approvals_required: Mapped[int] = mapped_column(Integer, default=1)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=86400)

    __table_args__ = (
        CheckConstraint("approvals_required >= 1", name="approvals_required"),
        CheckConstraint("timeout_seconds >= 1", name="timeout_seconds"),
        CheckConstraint("role in ('creator', 'approver', 'admin')", name="role"),
    )


# ---------------------------------------------------------------- posts and their delivery


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    author_id: Mapped[uuid.UUID]
    body: Mapped[str] = mapped_column(Text)
    media: Mapped[list[Any]] = mapped_column(default=list)
    platform_params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    publish_mode: Mapped[str] = mapped_column(String(20), default="now")
    scheduled_at: Mapped[datetime | None]
    queue_id: Mapped[str | None] = mapped_column(String(80))
    queue_priority: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(30), default="awaiting_approval")
    status_reason: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    postproxy_post_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    flow_run_id: Mapped[uuid.UUID | None]
    draft_hash: Mapped[str | None] = mapped_column(String(64))
    review_deadline: Mapped[datetime | None]
    needs_reconnect: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "id"),
        _in_tenant("members", "author_id"),
        CheckConstraint("publish_mode in ('now', 'scheduled', 'queue')", name="publish_mode"),
        CheckConstraint(
            "status in ('awaiting_approval', 'approved', 'rejected', 'expired', 'publishing', 'scheduled',"
            " 'queued', 'published', 'partially_published', 'failed')",
            name="status",
        ),
        CheckConstraint("publish_mode <> 'scheduled' or scheduled_at is not null", name="scheduled_has_time"),
        CheckConstraint("publish_mode <> 'queue' or queue_id is not null", name="queue_has_id"),
        Index("ix_posts_tenant_status", "tenant_id", "status"),
    )


class PostTarget(Base):
    """An account a post is meant for (same tenant, enforced by composite keys)."""

    __tablename__ = "post_targets"

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    post_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)

    __table_args__ = (_in_tenant("posts", "post_id"), _in_tenant("social_accounts", "account_id"))


class ApprovalDecision(Base):
    """One decision submitted for a post: the audit trail, refused ones included."""

    __tablename__ = "approval_decisions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    post_id: Mapped[uuid.UUID]
    step_position: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    reviewer_email: Mapped[str] = mapped_column(String(254))
    member_id: Mapped[uuid.UUID | None]
    decision: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str] = mapped_column(Text, default="")
    accepted: Mapped[bool] = mapped_column(Boolean)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        _in_tenant("posts", "post_id"),
        _in_tenant("members", "member_id"),
        CheckConstraint("decision in ('approve', 'reject')", name="decision"),
        Index("ix_approval_decisions_post", "post_id", "step_position"),
    )


class Delivery(Base):
    """The outcome of one post on one target account; its status only moves forward."""

    __tablename__ = "deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    post_id: Mapped[uuid.UUID]
    account_id: Mapped[uuid.UUID]
    platform: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30), default="pending")
    permalink: Mapped[str | None] = mapped_column(Text)
    platform_post_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("post_id", "account_id"),
        _in_tenant("posts", "post_id"),
        _in_tenant("social_accounts", "account_id"),
        CheckConstraint(
            "status in ('pending', 'processing', 'failed_waiting_for_retry', 'published', 'failed')", name="status"
        ),
        Index("ix_deliveries_published", "tenant_id", "published_at"),
    )


class WebhookEvent(Base):
    """A Postproxy webhook, stored once as received; tenant is null while unmatched."""

    __tablename__ = "webhook_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_id: Mapped[str] = mapped_column(String(120), unique=True)
    type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column()
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    matched: Mapped[bool] = mapped_column(Boolean, default=False)
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None]
    emitted_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    # what the event was matched to (null while unmatched, or when the event names no such thing)
    post_id: Mapped[uuid.UUID | None]
    account_id: Mapped[uuid.UUID | None]
    profile_id: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (
        _in_tenant("posts", "post_id"),
        _in_tenant("social_accounts", "account_id"),
        Index("ix_webhook_events_unemitted", "received_at", postgresql_where=text("emitted_at is null")),
        Index("ix_webhook_events_profile", "profile_id", "occurred_at"),
    )


class StatsSnapshot(Base):
    """Engagement metrics of one post on one account at one moment."""

    __tablename__ = "stats_snapshots"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    post_id: Mapped[uuid.UUID]
    account_id: Mapped[uuid.UUID]
    platform: Mapped[str] = mapped_column(String(30))
    recorded_at: Mapped[datetime]
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    raw_metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    collected_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("post_id", "account_id", "recorded_at"),
        _in_tenant("posts", "post_id"),
        _in_tenant("social_accounts", "account_id"),
        Index("ix_stats_snapshots_tenant_recorded", "tenant_id", "recorded_at"),
    )


# ---------------------------------------------------------------- billing


class Invoice(Base):
    __tablename__ = "invoices"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    period: Mapped[str] = mapped_column(String(7))
    number: Mapped[int] = mapped_column(Integer, unique=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    plan_snapshot: Mapped[dict[str, Any]] = mapped_column()
    usage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    html: Mapped[str | None] = mapped_column(Text)
    text_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finalized_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("tenant_id", "period"),
        UniqueConstraint("tenant_id", "id"),
        CheckConstraint("status in ('draft', 'finalized')", name="status"),
    )


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    invoice_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="usage")
    metric: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    unit_price: Mapped[Decimal | None] = mapped_column(UnitPrice)
    amount: Mapped[Decimal] = mapped_column(Money)
    adjusts_period: Mapped[str | None] = mapped_column(String(7))

    __table_args__ = (
        _in_tenant("invoices", "invoice_id"),
        CheckConstraint("kind in ('base', 'usage', 'adjustment')", name="kind"),
    )


class InvoiceCounter(Base):
    """The last invoice number issued; its row is locked while numbers are handed out (no gaps, no duplicates)."""

    __tablename__ = "invoice_counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Notification(Base):
    """A message owed to someone at a tenant (delivery failure, reconnection needed)."""

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("tenant_id", "dedupe_key"),)


TENANT_SCOPED_TABLES: tuple[str, ...] = tuple(
    table.name for table in Base.metadata.sorted_tables if "tenant_id" in table.c
)
"""Every table that carries ``tenant_id``; each gets a row-level security policy on PostgreSQL."""
