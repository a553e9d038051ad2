"""Migrations, tenant isolation by the database itself, and secrets at rest."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from postpipe import migrate
from postpipe import models as m
from postpipe.db import owner_session, system_scope, tenant_scope
from postpipe.models import TENANT_SCOPED_TABLES, Base
from tests.conftest import create_database, drop_database, pg_url
from tests.factories import full_tenant


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrations_upgrade_empty_postgres_and_downgrade_back_to_empty() -> None:
    name = create_database("postpipe_migrations")
    url = pg_url(name)
    try:
        migrate.upgrade(url=url)
        assert _tables(url) == {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}
        engine = create_engine(url)
        with engine.connect() as conn:
            secured = set(conn.scalars(text("select relname from pg_class where relrowsecurity")))
        engine.dispose()
        assert secured == set(TENANT_SCOPED_TABLES)
        migrate.downgrade(url=url)
        assert _tables(url) == {"alembic_version"}
        migrate.upgrade(url=url)  # and up again: the downgrade left nothing behind that blocks it
        assert "posts" in _tables(url)
    finally:
        drop_database(name)


def test_migrations_on_sqlite(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    migrate.upgrade(url=url)
    assert "stats_snapshots" in _tables(url)
    migrate.downgrade(url=url)
    assert _tables(url) == {"alembic_version"}


def _count(session, table: str) -> int:
    return session.execute(text(f"select count(*) from {table}")).scalar_one()


@pytest.mark.postgres_only
def test_rls_hides_other_tenants_rows_in_every_table(pg_db: str) -> None:
    with system_scope("test set-up") as s:
        a = full_tenant(s, "alpha")
        b = full_tenant(s, "bravo")
    with owner_session() as s:
        before = {t: _count(s, t) for t in TENANT_SCOPED_TABLES}
    assert all(n == 2 for n in before.values()), before

    for table in TENANT_SCOPED_TABLES:
        with tenant_scope(a["tenant"]) as s:
            # a query that forgets the tenant filter still sees only alpha
            ids = set(s.scalars(text(f"select tenant_id from {table}")))
            assert ids == {a["tenant"]}, table
            column = "tenant_id"
            updated = s.execute(text(f"update {table} set {column} = {column}")).rowcount
            assert updated == 1, table
    with tenant_scope(a["tenant"]) as s:
        for table in reversed([t.name for t in Base.metadata.sorted_tables if t.name in TENANT_SCOPED_TABLES]):
            s.execute(text(f"delete from {table}"))
    with owner_session() as s:
        after = {t: _count(s, t) for t in TENANT_SCOPED_TABLES}
        bravo_left = {
            t: s.execute(text(f"select count(*) from {t} where tenant_id = :b"), {"b": b["tenant"]}).scalar_one()
            for t in TENANT_SCOPED_TABLES
        }
    assert after == {t: 1 for t in TENANT_SCOPED_TABLES}
    assert bravo_left == {t: 1 for t in TENANT_SCOPED_TABLES}


@pytest.mark.postgres_only
def test_rls_refuses_writing_rows_for_another_tenant(pg_db: str) -> None:
    with system_scope("test set-up") as s:
        a = full_tenant(s, "alpha")
        b = full_tenant(s, "bravo")
    with pytest.raises(ProgrammingError, match="row-level security"):
        with tenant_scope(a["tenant"]) as s:
            s.add(m.Member(tenant_id=b["tenant"], email="intruder@x.example", role="admin"))
            s.flush()


@pytest.mark.postgres_only
def test_unscoped_runtime_role_sees_nothing(pg_db: str) -> None:
    with system_scope("test set-up") as s:
        full_tenant(s, "alpha")
    with owner_session() as s:
        s.execute(text("SET LOCAL ROLE postpipe_app"))
        assert _count(s, "posts") == 0  # no tenant and no system scope: RLS shows nothing


@pytest.mark.parametrize(
    "row",
    ["target", "delivery", "author", "decision_member", "snapshot"],
)
def test_composite_foreign_keys_reject_cross_tenant_references(any_db: str, row: str) -> None:
    with system_scope("test set-up") as s:
        a = full_tenant(s, "alpha")
        b = full_tenant(s, "bravo")
    builders = {
        "target": lambda: m.PostTarget(tenant_id=a["tenant"], post_id=a["post"], account_id=b["account"]),
        "delivery": lambda: m.Delivery(
            tenant_id=a["tenant"], post_id=a["post"], account_id=b["account"], platform="twitter"
        ),
        "author": lambda: m.Post(tenant_id=a["tenant"], author_id=b["member"], body="x", content_hash="1" * 64),
        "decision_member": lambda: m.ApprovalDecision(
            tenant_id=a["tenant"],
            post_id=a["post"],
            step_position=1,
            content_hash="0" * 64,
            reviewer_email="x@y.z",
            member_id=b["member"],
            decision="approve",
            accepted=True,
        ),
        "snapshot": lambda: m.StatsSnapshot(
            tenant_id=a["tenant"],
            post_id=b["post"],
            account_id=a["account"],
            platform="twitter",
            recorded_at=m.utcnow(),
        ),
    }
    with pytest.raises(IntegrityError):
        with system_scope("test cross-tenant") as s:
            s.add(builders[row]())
            s.flush()
    with system_scope("check") as s:  # nothing half-written
        assert s.scalar(select(m.Post).where(m.Post.body == "x")) is None
