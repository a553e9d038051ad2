"""Onboarding, account sync and offboarding against the sandbox over real HTTP, PostgreSQL and Prefect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from postproxy import PostProxy
from postproxy._exceptions import AuthenticationError, PostProxyError
from sqlalchemy import func, select

from flows.accounts import sync_accounts
from flows.onboarding import offboard_tenant, onboard_tenant
from postpipe import models as m
from postpipe.db import owner_session, system_scope, tenant_scope
from postpipe.onboarding import OnboardingError
from postpipe.repositories import accounts, tenants
from postpipe.sandbox import SandboxServer
from tests.onboarding.conftest import add_fault, clear_faults, follow_consent_link

pytestmark = pytest.mark.usefixtures("prefect_harness", "pg_db")

REDIRECT = "https://app.example.com/connected"


def params(slug: str = "alpha", **overrides: Any) -> dict[str, Any]:
    base = dict(
        slug=slug,
        name=slug.title(),
        plan="starter",
        time_zone="Europe/Paris",
        admin_email=f"admin@{slug}.example",
        platforms=["twitter", "instagram"],
        redirect_url=REDIRECT,
    )
    return {**base, **overrides}


async def postproxy_counts(sandbox: SandboxServer) -> dict[str, int]:
    async with PostProxy(sandbox.account_key, base_url=sandbox.base_url) as client:
        return {
            "groups": len((await client.profile_groups.list()).data),
            "keys": len((await client.api_keys.list()).data),
            "webhooks": len((await client.webhooks.list()).data),
        }


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_two_tenants_connect_and_each_sees_only_its_own_accounts(sandbox: SandboxServer) -> None:
    alpha = run(onboard_tenant(**params("alpha")))
    bravo = run(onboard_tenant(**params("bravo", platforms=["linkedin"], plan="growth", time_zone="Asia/Tokyo")))
    assert [link["platform"] for link in alpha["links"]] == ["twitter", "instagram"]
    for link in alpha["links"] + bravo["links"]:
        assert link["state"] == "pending"
        follow_consent_link(link["url"], REDIRECT)

    report = run(sync_accounts())
    assert report["alpha"]["new_accounts"] == 2 and report["bravo"]["new_accounts"] == 1
    assert report["alpha"]["links_completed"] == 2

    with system_scope("test") as s:
        alpha_id = tenants.get_by_slug(s, "alpha").id
        bravo_id = tenants.get_by_slug(s, "bravo").id
        alpha_key = tenants.api_key(s, alpha_id).get_secret_value()
        assert tenants.get(s, alpha_id).status == "active"
    with tenant_scope(alpha_id) as s:  # RLS: even an unfiltered query sees alpha's accounts only
        platforms = sorted(s.scalars(select(m.SocialAccount.platform)))
        assert platforms == ["instagram", "twitter"]
        assert all(len(accounts.intervals(s, a.id)) == 1 for a in accounts.list_accounts(s, alpha_id))
        assert s.scalar(select(func.count()).select_from(m.ConnectionRequest).where(m.ConnectionRequest.state == "pending")) == 0
    with tenant_scope(bravo_id) as s:
        assert sorted(s.scalars(select(m.SocialAccount.platform))) == ["linkedin"]

    async def scoped_view() -> list[str]:
        async with PostProxy(alpha_key, base_url=sandbox.base_url) as client:
            return sorted(p.platform for p in (await client.profiles.list()).data)

    assert run(scoped_view()) == ["instagram", "twitter"]


def test_rerun_reuses_pending_links_and_creates_nothing_twice(sandbox: SandboxServer) -> None:
    first = run(onboard_tenant(**params("alpha")))
    second = run(onboard_tenant(**params("alpha")))
    assert [l["url"] for l in first["links"]] == [l["url"] for l in second["links"]]
    assert run(postproxy_counts(sandbox)) == {"groups": 1, "keys": 1, "webhooks": 1}


@pytest.mark.parametrize(
    "failing_path, fails_at",
    [
        ("/api/profile_groups", "ensure-profile-group"),  # after the tenant row, before the group
        ("/api/api_keys", "ensure-scoped-key"),  # after the group, before the key
        ("/api/webhooks", "ensure-webhook-subscription"),  # after the key, before the subscription
        ("/api/profile_groups/", "request-connections"),  # after the subscription, before the links
    ],
)
def test_failure_between_steps_then_rerun_creates_nothing_twice(
    sandbox: SandboxServer, fast_retries: None, failing_path: str, fails_at: str
) -> None:
    run(onboard_tenant(**params("other")))  # another tenant already onboarded: the subscription exists
    add_fault(sandbox, scope="api", status=503, count=100, path_prefix=failing_path)
    with pytest.raises(PostProxyError) as failure:
        run(onboard_tenant(**params("alpha")))
    assert failure.value.status_code == 503
    with system_scope("test") as s:  # the run stopped at the failing step: the steps before it are done
        tenant = tenants.get_by_slug(s, "alpha")
        done = {"ensure-profile-group": [], "ensure-scoped-key": ["group"],
                "ensure-webhook-subscription": ["group", "key"], "request-connections": ["group", "key"]}[fails_at]
        assert (tenant.profile_group_id is not None) == ("group" in done)
        assert tenant.has_api_key == ("key" in done)
    clear_faults(sandbox)
    result = run(onboard_tenant(**params("alpha")))
    run(onboard_tenant(**params("alpha")))  # and once more for good measure
    assert run(postproxy_counts(sandbox)) == {"groups": 2, "keys": 2, "webhooks": 1}
    assert len(result["links"]) == 2
    with owner_session() as s:
        assert s.scalar(select(func.count()).select_from(m.Tenant)) == 2
        assert s.scalar(select(func.count()).select_from(m.Member)) == 2
        assert s.scalar(select(func.count()).select_from(m.WebhookSubscription)) == 1
        pending = s.scalars(select(m.ConnectionRequest.platform).where(m.ConnectionRequest.state == "pending")).all()
        assert sorted(pending) == ["instagram", "instagram", "twitter", "twitter"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("platforms", ["twitter", "myspace"], "platforms: unknown or non-OAuth platform(s) 'myspace'"),
        ("slug", "Not A Slug", "slug: 'Not A Slug' is not a slug"),
        ("plan", "platinum", "plan: unknown plan 'platinum'"),
        ("time_zone", "Europe/Atlantis", "time_zone: 'Europe/Atlantis' is not an IANA time zone"),
        ("redirect_url", "http://app.example.com/back", "redirect_url: 'http://app.example.com/back' must use https"),
        ("admin_email", "not-an-email", "admin_email: 'not-an-email' is not an email address"),
    ],
)
def test_bad_parameters_are_refused_by_name_and_nothing_is_written(
    sandbox: SandboxServer, field: str, value: Any, message: str
) -> None:
    with pytest.raises(OnboardingError) as error:
        run(onboard_tenant(**params(**{field: value})))
    assert message in str(error.value)
    with owner_session() as s:
        assert s.scalar(select(func.count()).select_from(m.Tenant)) == 0
    assert run(postproxy_counts(sandbox)) == {"groups": 0, "keys": 0, "webhooks": 0}


def test_loopback_http_redirect_is_allowed(sandbox: SandboxServer) -> None:
    result = run(onboard_tenant(**params("alpha", redirect_url="http://127.0.0.1:8000/back")))
    assert result["links"][0]["state"] == "pending"


def test_offboarding_removes_postproxy_objects_and_keeps_history(sandbox: SandboxServer) -> None:
    alpha = run(onboard_tenant(**params("alpha")))
    run(onboard_tenant(**params("bravo", platforms=["linkedin"])))
    for link in alpha["links"]:
        follow_consent_link(link["url"], REDIRECT)
    run(sync_accounts())
    with system_scope("test") as s:
        alpha_id = tenants.get_by_slug(s, "alpha").id
        alpha_key = tenants.api_key(s, alpha_id).get_secret_value()
        author = s.scalar(select(m.Member.id).where(m.Member.tenant_id == alpha_id))
        s.add(m.Post(tenant_id=alpha_id, author_id=author, body="history", content_hash="a" * 64, status="published"))

    result = run(offboard_tenant("alpha"))
    assert result["deleted"] == {"profiles": 2, "groups": 1, "keys": 1}
    assert result["accounts_disconnected"] == 2

    async def refused() -> None:
        async with PostProxy(alpha_key, base_url=sandbox.base_url) as client:
            await client.profiles.list()

    with pytest.raises(AuthenticationError):
        run(refused())
    assert run(postproxy_counts(sandbox)) == {"groups": 1, "keys": 1, "webhooks": 1}  # bravo's remain
    with tenant_scope(alpha_id) as s:
        assert s.scalar(select(m.Post.body)) == "history"
        closed = accounts.list_accounts(s, alpha_id)
        assert len(closed) == 2 and not any(a.connected for a in closed)
        assert all(accounts.intervals(s, a.id)[-1][1] is not None for a in closed)
    with system_scope("test") as s:
        assert tenants.get(s, alpha_id).status == "closed"

    again = run(offboard_tenant("alpha"))  # harmless re-run
    assert again["deleted"] == {"profiles": 0, "groups": 0, "keys": 0}


def test_sync_closes_intervals_of_expired_and_vanished_accounts(sandbox: SandboxServer) -> None:
    import httpx

    alpha = run(onboard_tenant(**params("alpha")))
    for link in alpha["links"]:
        follow_consent_link(link["url"], REDIRECT)
    run(sync_accounts("alpha"))
    with system_scope("test") as s:
        alpha_id = tenants.get_by_slug(s, "alpha").id
        twitter = next(a for a in accounts.list_accounts(s, alpha_id) if a.platform == "twitter")
    httpx.post(
        f"{sandbox.base_url}/sandbox/profiles/{twitter.profile_id}/expire",
        headers={"Authorization": f"Bearer {sandbox.account_key}"},
    ).raise_for_status()
    run(sync_accounts("alpha"))
    with tenant_scope(alpha_id) as s:
        expired = accounts.find_by_profile(s, twitter.profile_id)
        assert expired is not None and expired.status == "expired" and not expired.connected
        assert accounts.intervals(s, twitter.id)[0][1] is not None
