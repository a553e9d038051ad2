"""initial schema: every table, composite in-tenant foreign keys, and row-level security on PostgreSQL

Row-level security: every table with a ``tenant_id`` gets a policy that shows a row only when
``app.tenant_id`` (set per transaction by ``postpipe.db.tenant_scope``) is that tenant, or when
``app.scope`` is ``system`` (``postpipe.db.system_scope``). The policies bind the non-superuser
application role (``POSTPIPE_APP_ROLE``, default ``postpipe_app``) that runtime sessions switch to;
superusers and table owners bypass RLS, which is why runtime work never runs as them.
The role is cluster-wide and may serve other databases, so downgrade leaves it in place.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 15:33:24.926866
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from postpipe.settings import get_settings

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


TENANT_TABLES = (
    "members", "social_accounts", "connection_intervals", "connection_requests", "approval_policies",
    "approval_steps", "posts", "post_targets", "approval_decisions", "deliveries", "webhook_events",
    "stats_snapshots", "invoices", "invoice_lines", "notifications",
)
SHARED_TABLES = ("plans", "plan_prices", "tenants", "webhook_subscriptions", "invoice_counters")

VISIBLE = (
    "(tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"
    " OR current_setting('app.scope', true) = 'system')"
)


def _enable_row_level_security() -> None:
    role = get_settings().app_role
    op.execute(f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE "{role}" NOLOGIN NOSUPERUSER NOBYPASSRLS;
            END IF;
        EXCEPTION WHEN duplicate_object THEN NULL;  -- another database's migration created it meanwhile
        END $$;
    """)
    op.execute(f"""
        DO $$
        BEGIN
            IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
               AND NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
                EXECUTE format('GRANT %I TO %I', '{role}', current_user);
            END IF;
        END $$;
    """)
    op.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
    for table in TENANT_TABLES + SHARED_TABLES:
        op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {table} TO "{role}"')
    op.execute(f'GRANT USAGE, SELECT ON SEQUENCE stats_snapshots_id_seq TO "{role}"')
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f'CREATE POLICY tenant_isolation ON {table} TO "{role}" USING {VISIBLE} WITH CHECK {VISIBLE}')


def _protect_finalized_invoices() -> None:
    """A finalized invoice and its lines never change: the database refuses it, whatever the caller."""
    op.execute("""
        CREATE FUNCTION postpipe_refuse_finalized_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'finalized' THEN
                RAISE EXCEPTION 'invoice % (period %) is finalized and cannot be changed or deleted',
                    OLD.number, OLD.period USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER invoices_finalized_immutable BEFORE UPDATE OR DELETE ON invoices
        FOR EACH ROW EXECUTE FUNCTION postpipe_refuse_finalized_invoice_change();
    """)
    op.execute("""
        CREATE FUNCTION postpipe_refuse_finalized_invoice_line_change() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            touched uuid[];
        BEGIN
            touched := CASE TG_OP WHEN 'INSERT' THEN ARRAY[NEW.invoice_id]
                                  WHEN 'DELETE' THEN ARRAY[OLD.invoice_id]
                                  ELSE ARRAY[OLD.invoice_id, NEW.invoice_id] END;
            IF EXISTS (SELECT 1 FROM invoices WHERE id = ANY(touched) AND status = 'finalized') THEN
                RAISE EXCEPTION 'the lines of a finalized invoice cannot be added, changed or deleted'
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$;
    """)
    op.execute("""
        CREATE TRIGGER invoice_lines_finalized_immutable BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines
        FOR EACH ROW EXECUTE FUNCTION postpipe_refuse_finalized_invoice_line_change();
    """)


def upgrade() -> None:
    op.create_table('plans',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('base_fee', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('account_metering', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("account_metering in ('peak', 'prorated')", name=op.f('ck_plans_account_metering')),
    sa.CheckConstraint('base_fee >= 0', name=op.f('ck_plans_base_fee_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans'))
    )
    op.create_table('webhook_subscriptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('postproxy_webhook_id', sa.String(length=80), nullable=True),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('secret_encrypted', sa.Text(), nullable=True),
    sa.Column('previous_secret_encrypted', sa.Text(), nullable=True),
    sa.Column('rotated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions')),
    sa.UniqueConstraint('postproxy_webhook_id', name=op.f('uq_webhook_subscriptions_postproxy_webhook_id')),
    sa.UniqueConstraint('url', name=op.f('uq_webhook_subscriptions_url'))
    )
    op.create_table('plan_prices',
    sa.Column('plan_id', sa.String(length=40), nullable=False),
    sa.Column('metric', sa.String(length=40), nullable=False),
    sa.Column('model', sa.String(length=20), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=6), nullable=False),
    sa.Column('included_quantity', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('tiers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.CheckConstraint("metric in ('published_posts', 'connected_accounts', 'seats')", name=op.f('ck_plan_prices_metric')),
    sa.CheckConstraint("model in ('per_unit', 'graduated')", name=op.f('ck_plan_prices_model')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_prices_plan_id_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('plan_id', 'metric', name=op.f('pk_plan_prices'))
    )
    op.create_table('tenants',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('slug', sa.String(length=63), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('plan_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('profile_group_id', sa.String(length=80), nullable=True),
    sa.Column('api_key_id', sa.String(length=80), nullable=True),
    sa.Column('api_key_encrypted', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status in ('onboarding', 'active', 'closed')", name=op.f('ck_tenants_status')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_tenants_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants')),
    sa.UniqueConstraint('profile_group_id', name=op.f('uq_tenants_profile_group_id')),
    sa.UniqueConstraint('slug', name=op.f('uq_tenants_slug'))
    )
    op.create_table('approval_policies',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('on_missed_schedule', sa.String(length=20), nullable=False),
    sa.CheckConstraint("on_missed_schedule in ('publish_now', 'expire')", name=op.f('ck_approval_policies_on_missed_schedule')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_approval_policies_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_approval_policies'))
    )
    op.create_table('approval_steps',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('approvals_required', sa.Integer(), nullable=False),
    sa.Column('timeout_seconds', sa.Integer(), nullable=False),
    sa.CheckConstraint("role in ('creator', 'approver', 'admin')", name=op.f('ck_approval_steps_role')),
    sa.CheckConstraint('approvals_required >= 1', name=op.f('ck_approval_steps_approvals_required')),
    sa.CheckConstraint('timeout_seconds >= 1', name=op.f('ck_approval_steps_timeout_seconds')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_approval_steps_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'position', name=op.f('pk_approval_steps'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('subtotal', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('plan_snapshot', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('usage', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('html', sa.Text(), nullable=True),
    sa.Column('text_body', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finalized_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status in ('draft', 'finalized')", name=op.f('ck_invoices_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_invoices_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('number', name=op.f('uq_invoices_number')),
    sa.UniqueConstraint('tenant_id', 'id', name=op.f('uq_invoices_tenant_id_id')),
    sa.UniqueConstraint('tenant_id', 'period', name=op.f('uq_invoices_tenant_id_period'))
    )
    op.create_index(op.f('ix_invoices_tenant_id'), 'invoices', ['tenant_id'], unique=False)
    op.create_table('members',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('active_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('active_until', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role in ('creator', 'approver', 'admin')", name=op.f('ck_members_role')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_members_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members')),
    sa.UniqueConstraint('tenant_id', 'email', name=op.f('uq_members_tenant_id_email')),
    sa.UniqueConstraint('tenant_id', 'id', name=op.f('uq_members_tenant_id_id'))
    )
    op.create_index(op.f('ix_members_tenant_id'), 'members', ['tenant_id'], unique=False)
    op.create_table('notifications',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_notifications_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('tenant_id', 'dedupe_key', name=op.f('uq_notifications_tenant_id_dedupe_key'))
    )
    op.create_index(op.f('ix_notifications_tenant_id'), 'notifications', ['tenant_id'], unique=False)
    op.create_table('social_accounts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('profile_id', sa.String(length=80), nullable=False),
    sa.Column('platform', sa.String(length=30), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('connected', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status in ('active', 'expired', 'inactive')", name=op.f('ck_social_accounts_status')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_social_accounts_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_social_accounts')),
    sa.UniqueConstraint('profile_id', name=op.f('uq_social_accounts_profile_id')),
    sa.UniqueConstraint('tenant_id', 'id', name=op.f('uq_social_accounts_tenant_id_id'))
    )
    op.create_index(op.f('ix_social_accounts_tenant_id'), 'social_accounts', ['tenant_id'], unique=False)
    op.create_table('connection_intervals',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disconnected_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('disconnected_at is null or disconnected_at >= connected_at', name=op.f('ck_connection_intervals_ordered')),
    sa.ForeignKeyConstraint(['tenant_id', 'account_id'], ['social_accounts.tenant_id', 'social_accounts.id'], name=op.f('fk_connection_intervals_tenant_id_account_id_social_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_connection_intervals_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connection_intervals'))
    )
    op.create_index(op.f('ix_connection_intervals_tenant_id'), 'connection_intervals', ['tenant_id'], unique=False)
    op.create_index('uq_connection_intervals_one_open', 'connection_intervals', ['account_id'], unique=True, postgresql_where=sa.text('disconnected_at is null'), sqlite_where=sa.text('disconnected_at is null'))
    op.create_table('connection_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('platform', sa.String(length=30), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('refresh', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state in ('pending', 'completed', 'superseded')", name=op.f('ck_connection_requests_state')),
    sa.ForeignKeyConstraint(['tenant_id', 'account_id'], ['social_accounts.tenant_id', 'social_accounts.id'], name=op.f('fk_connection_requests_tenant_id_account_id_social_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_connection_requests_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connection_requests')),
    sa.UniqueConstraint('tenant_id', 'id', name=op.f('uq_connection_requests_tenant_id_id'))
    )
    op.create_index(op.f('ix_connection_requests_tenant_id'), 'connection_requests', ['tenant_id'], unique=False)
    op.create_table('invoice_lines',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('invoice_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('metric', sa.String(length=40), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=6), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('adjusts_period', sa.String(length=7), nullable=True),
    sa.CheckConstraint("kind in ('base', 'usage', 'adjustment')", name=op.f('ck_invoice_lines_kind')),
    sa.ForeignKeyConstraint(['tenant_id', 'invoice_id'], ['invoices.tenant_id', 'invoices.id'], name=op.f('fk_invoice_lines_tenant_id_invoice_id_invoices'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_invoice_lines_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('invoice_id', 'position', name=op.f('pk_invoice_lines'))
    )
    op.create_index(op.f('ix_invoice_lines_tenant_id'), 'invoice_lines', ['tenant_id'], unique=False)
    op.create_table('posts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('media', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('platform_params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('publish_mode', sa.String(length=20), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('queue_id', sa.String(length=80), nullable=True),
    sa.Column('queue_priority', sa.String(length=10), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('postproxy_post_id', sa.String(length=80), nullable=True),
    sa.Column('flow_run_id', sa.Uuid(), nullable=True),
    sa.Column('draft_hash', sa.String(length=64), nullable=True),
    sa.Column('review_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('needs_reconnect', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("publish_mode <> 'queue' or queue_id is not null", name=op.f('ck_posts_queue_has_id')),
    sa.CheckConstraint("publish_mode <> 'scheduled' or scheduled_at is not null", name=op.f('ck_posts_scheduled_has_time')),
    sa.CheckConstraint("publish_mode in ('now', 'scheduled', 'queue')", name=op.f('ck_posts_publish_mode')),
    sa.CheckConstraint("status in ('awaiting_approval', 'approved', 'rejected', 'expired', 'publishing', 'scheduled', 'queued', 'published', 'partially_published', 'failed')", name=op.f('ck_posts_status')),
    sa.ForeignKeyConstraint(['tenant_id', 'author_id'], ['members.tenant_id', 'members.id'], name=op.f('fk_posts_tenant_id_author_id_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_posts_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_posts')),
    sa.UniqueConstraint('postproxy_post_id', name=op.f('uq_posts_postproxy_post_id')),
    sa.UniqueConstraint('tenant_id', 'id', name=op.f('uq_posts_tenant_id_id'))
    )
    op.create_index(op.f('ix_posts_tenant_id'), 'posts', ['tenant_id'], unique=False)
    op.create_index('ix_posts_tenant_status', 'posts', ['tenant_id', 'status'], unique=False)
    op.create_table('webhook_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.String(length=120), nullable=False),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=True),
    sa.Column('matched', sa.Boolean(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('emitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('post_id', sa.Uuid(), nullable=True),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('profile_id', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id', 'post_id'], ['posts.tenant_id', 'posts.id'], name=op.f('fk_webhook_events_tenant_id_post_id_posts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id', 'account_id'], ['social_accounts.tenant_id', 'social_accounts.id'], name=op.f('fk_webhook_events_tenant_id_account_id_social_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_webhook_events_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_webhook_events_event_id'))
    )
    op.create_index(op.f('ix_webhook_events_tenant_id'), 'webhook_events', ['tenant_id'], unique=False)
    op.create_index('ix_webhook_events_unemitted', 'webhook_events', ['received_at'], unique=False, postgresql_where=sa.text('emitted_at is null'))
    op.create_index('ix_webhook_events_profile', 'webhook_events', ['profile_id', 'occurred_at'], unique=False)
    op.create_table('approval_decisions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('post_id', sa.Uuid(), nullable=False),
    sa.Column('step_position', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('reviewer_email', sa.String(length=254), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=True),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('accepted', sa.Boolean(), nullable=False),
    sa.Column('refusal_reason', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision in ('approve', 'reject')", name=op.f('ck_approval_decisions_decision')),
    sa.ForeignKeyConstraint(['tenant_id', 'member_id'], ['members.tenant_id', 'members.id'], name=op.f('fk_approval_decisions_tenant_id_member_id_members'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id', 'post_id'], ['posts.tenant_id', 'posts.id'], name=op.f('fk_approval_decisions_tenant_id_post_id_posts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_approval_decisions_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval_decisions'))
    )
    op.create_index('ix_approval_decisions_post', 'approval_decisions', ['post_id', 'step_position'], unique=False)
    op.create_index(op.f('ix_approval_decisions_tenant_id'), 'approval_decisions', ['tenant_id'], unique=False)
    op.create_table('deliveries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('post_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('platform', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('permalink', sa.Text(), nullable=True),
    sa.Column('platform_post_id', sa.String(length=200), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status in ('pending', 'processing', 'failed_waiting_for_retry', 'published', 'failed')", name=op.f('ck_deliveries_status')),
    sa.ForeignKeyConstraint(['tenant_id', 'account_id'], ['social_accounts.tenant_id', 'social_accounts.id'], name=op.f('fk_deliveries_tenant_id_account_id_social_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id', 'post_id'], ['posts.tenant_id', 'posts.id'], name=op.f('fk_deliveries_tenant_id_post_id_posts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_deliveries_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deliveries')),
    sa.UniqueConstraint('post_id', 'account_id', name=op.f('uq_deliveries_post_id_account_id'))
    )
    op.create_index('ix_deliveries_published', 'deliveries', ['tenant_id', 'published_at'], unique=False)
    op.create_index(op.f('ix_deliveries_tenant_id'), 'deliveries', ['tenant_id'], unique=False)
    op.create_table('post_targets',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('post_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'account_id'], ['social_accounts.tenant_id', 'social_accounts.id'], name=op.f('fk_post_targets_tenant_id_account_id_social_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id', 'post_id'], ['posts.tenant_id', 'posts.id'], name=op.f('fk_post_targets_tenant_id_post_id_posts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_post_targets_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('post_id', 'account_id', name=op.f('pk_post_targets'))
    )
    op.create_index(op.f('ix_post_targets_tenant_id'), 'post_targets', ['tenant_id'], unique=False)
    op.create_table('stats_snapshots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('post_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('platform', sa.String(length=30), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metrics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('raw_metrics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('collected_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'account_id'], ['social_accounts.tenant_id', 'social_accounts.id'], name=op.f('fk_stats_snapshots_tenant_id_account_id_social_accounts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id', 'post_id'], ['posts.tenant_id', 'posts.id'], name=op.f('fk_stats_snapshots_tenant_id_post_id_posts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_stats_snapshots_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_snapshots')),
    sa.UniqueConstraint('post_id', 'account_id', 'recorded_at', name=op.f('uq_stats_snapshots_post_id_account_id_recorded_at'))
    )
    op.create_index(op.f('ix_stats_snapshots_tenant_id'), 'stats_snapshots', ['tenant_id'], unique=False)
    op.create_index('ix_stats_snapshots_tenant_recorded', 'stats_snapshots', ['tenant_id', 'recorded_at'], unique=False)
    op.create_table('invoice_counters',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_invoice_counters'))
    )
    if op.get_bind().dialect.name == "postgresql":
        _enable_row_level_security()
        _protect_finalized_invoices()


def downgrade() -> None:
    op.drop_table('invoice_counters')
    op.drop_index('ix_stats_snapshots_tenant_recorded', table_name='stats_snapshots')
    op.drop_index(op.f('ix_stats_snapshots_tenant_id'), table_name='stats_snapshots')
    op.drop_table('stats_snapshots')
    op.drop_index(op.f('ix_post_targets_tenant_id'), table_name='post_targets')
    op.drop_table('post_targets')
    op.drop_index(op.f('ix_deliveries_tenant_id'), table_name='deliveries')
    op.drop_index('ix_deliveries_published', table_name='deliveries')
    op.drop_table('deliveries')
    op.drop_index(op.f('ix_approval_decisions_tenant_id'), table_name='approval_decisions')
    op.drop_index('ix_approval_decisions_post', table_name='approval_decisions')
    op.drop_table('approval_decisions')
    op.drop_index('ix_webhook_events_profile', table_name='webhook_events')
    op.drop_index('ix_webhook_events_unemitted', table_name='webhook_events', postgresql_where=sa.text('emitted_at is null'))
    op.drop_index(op.f('ix_webhook_events_tenant_id'), table_name='webhook_events')
    op.drop_table('webhook_events')
    op.drop_index('ix_posts_tenant_status', table_name='posts')
    op.drop_index(op.f('ix_posts_tenant_id'), table_name='posts')
    op.drop_table('posts')
    op.drop_index(op.f('ix_invoice_lines_tenant_id'), table_name='invoice_lines')
    op.drop_table('invoice_lines')
    op.drop_index(op.f('ix_connection_requests_tenant_id'), table_name='connection_requests')
    op.drop_table('connection_requests')
    op.drop_index('uq_connection_intervals_one_open', table_name='connection_intervals', postgresql_where=sa.text('disconnected_at is null'), sqlite_where=sa.text('disconnected_at is null'))
    op.drop_index(op.f('ix_connection_intervals_tenant_id'), table_name='connection_intervals')
    op.drop_table('connection_intervals')
    op.drop_index(op.f('ix_social_accounts_tenant_id'), table_name='social_accounts')
    op.drop_table('social_accounts')
    op.drop_index(op.f('ix_notifications_tenant_id'), table_name='notifications')
    op.drop_table('notifications')
    op.drop_index(op.f('ix_members_tenant_id'), table_name='members')
    op.drop_table('members')
    op.drop_index(op.f('ix_invoices_tenant_id'), table_name='invoices')
    op.drop_table('invoices')
    op.drop_table('approval_steps')
    op.drop_table('approval_policies')
    op.drop_table('tenants')
    op.drop_table('plan_prices')
    op.drop_table('webhook_subscriptions')
    op.drop_table('plans')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS postpipe_refuse_finalized_invoice_line_change()")
        op.execute("DROP FUNCTION IF EXISTS postpipe_refuse_finalized_invoice_change()")
