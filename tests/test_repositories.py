"""Core repositories behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from datetime import UTC, datetime, timedelta

import pytest

from postpipe.db import system_scope, tenant_scope
from postpipe.repositories import accounts, members, plans, tenants

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def test_tenant_upsert_is_idempotent(any_db: str) -> None:
    with system_scope("test") as s:
        first = tenants.upsert_tenant(s, slug="acme", name="Acme", time_zone="Europe/Paris", plan_id="starter")
        again = tenants.upsert_tenant(s, slug="acme", name="Acme Inc", time_zone="Europe/Paris", plan_id="growth")
        assert first.id == again.id and again.name == "Acme Inc" and again.plan_id == "growth"
        assert [t.slug for t in tenants.list_tenants(s)] == ["acme"]
        with pytest.raises(tenants.TenantNotFoundError, match="no-such"):
            tenants.get_by_slug(s, "no-such")


def test_members_roles_and_reactivation(any_db: str) -> None:
    with system_scope("test") as s:
        t = tenants.upsert_tenant(s, slug="acme", name="Acme", time_zone="UTC", plan_id="starter")
        admin = members.upsert_member(s, t.id, email="Boss@Acme.example", role="admin")
        assert admin.email == "boss@acme.example" and admin.active
        with pytest.raises(ValueError, match="role: 'owner'"):
            members.upsert_member(s, t.id, email="x@acme.example", role="owner")
        members.deactivate(s, t.id, "boss@acme.example")
    with tenant_scope(t.id) as s:
        found = members.find_by_email(s, t.id, "boss@acme.example")
        assert found is not None and not found.active
        assert members.upsert_member(s, t.id, email="boss@acme.example", role="approver").active


def test_account_intervals_open_close_and_reopen(any_db: str) -> None:
    with system_scope("test") as s:
        t = tenants.upsert_tenant(s, slug="acme", name="Acme", time_zone="UTC", plan_id="starter")
    with tenant_scope(t.id) as s:
        first = accounts.apply_profile(
            s, t.id, profile_id="prof_1", platform="twitter", name="@acme", status="active", at=T0
        )
        assert first.created and first.opened_interval
        same = accounts.apply_profile(
            s, t.id, profile_id="prof_1", platform="twitter", name="@acme", status="active", at=T0 + timedelta(hours=1)
        )
        assert not same.opened_interval and not same.closed_interval
        expired = accounts.apply_profile(
            s, t.id, profile_id="prof_1", platform="twitter", name="@acme", status="expired", at=T0 + timedelta(days=2)
        )
        assert expired.closed_interval and not expired.account.connected
        accounts.apply_profile(
            s, t.id, profile_id="prof_1", platform="twitter", name="@acme", status="active", at=T0 + timedelta(days=3)
        )
        gone = accounts.disconnect_missing(s, t.id, [], at=T0 + timedelta(days=4))
        assert [c.account.profile_id for c in gone] == ["prof_1"]
        assert accounts.intervals(s, first.account.id) == [
            (T0, T0 + timedelta(days=2)),
            (T0 + timedelta(days=3), T0 + timedelta(days=4)),
        ]


def test_profile_of_another_tenant_is_refused(any_db: str) -> None:
    with system_scope("test") as s:
        a = tenants.upsert_tenant(s, slug="alpha", name="A", time_zone="UTC", plan_id="starter")
        b = tenants.upsert_tenant(s, slug="bravo", name="B", time_zone="UTC", plan_id="starter")
        accounts.apply_profile(s, a.id, profile_id="prof_1", platform="twitter", name="@a", status="active")
        with pytest.raises(accounts.AccountOwnershipError, match="prof_1"):
            accounts.apply_profile(s, b.id, profile_id="prof_1", platform="twitter", name="@a", status="active")


def test_profile_of_another_tenant_is_refused_even_when_hidden_by_row_level_security(pg_db: str) -> None:
    with system_scope("test") as s:
        a = tenants.upsert_tenant(s, slug="alpha", name="A", time_zone="UTC", plan_id="starter")
        b = tenants.upsert_tenant(s, slug="bravo", name="B", time_zone="UTC", plan_id="starter")
        accounts.apply_profile(s, a.id, profile_id="prof_1", platform="twitter", name="@a", status="active")
    with pytest.raises(accounts.AccountOwnershipError, match="prof_1"), tenant_scope(b.id) as s:
        accounts.apply_profile(s, b.id, profile_id="prof_1", platform="twitter", name="@b", status="active")
    with system_scope("test") as s:
        owner = accounts.find_by_profile(s, "prof_1")
        assert owner is not None and owner.tenant_id == a.id and owner.name == "@a"


def test_two_writers_learning_of_the_same_new_profile_at_once_both_succeed(pg_db: str) -> None:
    """The sync flow and a webhook both record a brand-new profile: the second waits for the first, no error."""
    with system_scope("test") as s:
        t = tenants.upsert_tenant(s, slug="acme", name="Acme", time_zone="UTC", plan_id="starter")
    with ThreadPoolExecutor(max_workers=1) as pool, tenant_scope(t.id) as first:
        made = accounts.apply_profile(first, t.id, profile_id="prof_new", platform="twitter", name="@a", status="active")
        first.flush()  # the row exists, uncommitted: the second writer's insert waits on the unique profile id

        def second_writer() -> accounts.AccountChange:
            with tenant_scope(t.id) as second:
                return accounts.apply_profile(
                    second, t.id, profile_id="prof_new", platform="twitter", name="@acme", status="active"
                )

        waiting = pool.submit(second_writer)
        with pytest.raises(FuturesTimeout):
            waiting.result(timeout=0.5)  # blocked until the first transaction ends
        first.commit()
        later = waiting.result(timeout=30)
    assert made.created and made.opened_interval
    assert not later.created and not later.opened_interval and later.account.id == made.account.id
    with tenant_scope(t.id) as s:
        assert [a.name for a in accounts.list_accounts(s, t.id)] == ["@acme"]
        assert len(accounts.intervals(s, made.account.id)) == 1


def test_plan_catalog_round_trip(any_db: str) -> None:
    with system_scope("test") as s:
        growth = plans.plan_as_dict(s, "growth")
        assert growth["currency"] == "EUR" and growth["account_metering"] == "prorated"
        assert {p["metric"] for p in growth["prices"]} == {"published_posts", "connected_accounts", "seats"}
        with pytest.raises(plans.UnknownPlanError, match="'gold'"):
            plans.plan_as_dict(s, "gold")
