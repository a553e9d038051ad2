"""The usage-report flow: month to date from Postgres, cross-checked with Postproxy (the sandbox, real HTTP)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
from prefect.artifacts import Artifact
from pydantic import SecretStr

from flows.usage import usage_report
from postpipe.billing.periods import current_period
from postpipe.db import owner_session, system_scope
from postpipe.models import utcnow
from postpipe.postproxy import account_client
from postpipe.repositories import tenants

from .conftest import add_account, make_tenant, publish


async def _group_with_key_and_profiles(platforms: list[str]) -> tuple[str, str, str, list[str]]:
    """With the account-wide key, as onboarding does: a profile group, its scoped key, connected profiles."""
    async with account_client() as client:
        group = await client.profile_groups.create("Usage Co")
        key = await client.api_keys.create("usage-co", group.id)
        profile_ids = []
        for platform in platforms:
            connection = await client.profile_groups.initialize_connection(group.id, platform, "https://app.example/back")
            async with httpx.AsyncClient() as browser:  # the customer's browser on the consent page
                consent = await browser.get(connection.url, follow_redirects=False)
            assert consent.status_code == 302, consent.text
            profile_ids.append(httpx.URL(consent.headers["location"]).params["profile_id"])
    assert key.token
    return group.id, key.id, key.token, profile_ids


def test_usage_report_counts_month_to_date_and_reports_mismatches(
    pg_db: str, sandbox: Any, prefect_harness: None
) -> None:
    group_id, key_id, token, (twitter, linkedin, threads) = asyncio.run(
        _group_with_key_and_profiles(["twitter", "linkedin", "threads"])
    )
    now = utcnow()
    month_start = current_period(now, "UTC").bounds("UTC").start
    with owner_session() as s:
        checked = make_tenant(s, "usage-co")
        tenants.set_profile_group(s, checked, group_id)
        tenants.set_api_key(s, checked, key_id=key_id, token=SecretStr(token))
        # Postgres knows two of the three profiles, and one Postproxy does not list (sync has not run)
        a = add_account(s, checked, twitter, platform="twitter")
        b = add_account(s, checked, linkedin, platform="linkedin")
        add_account(s, checked, "prof-ghost", platform="threads")
        add_account(s, checked, "prof-gone", [(month_start - timedelta(days=40), month_start + timedelta(seconds=1))])
        publish(s, checked, [a, b], now - timedelta(seconds=1))  # this month: 2 platform posts
        publish(s, checked, [a], month_start - timedelta(hours=1))  # last month: not counted
        unchecked = make_tenant(s, "no-key")
        add_account(s, unchecked, "prof-nokey")

    result = asyncio.run(usage_report())

    rows = {row["tenant"]: row for row in result["tenants"]}
    assert rows["usage-co"]["posts_published"] == 2
    assert rows["usage-co"]["accounts_connected"] == 3
    assert rows["usage-co"]["seats"] == 1
    assert rows["usage-co"]["postproxy"] == "MISMATCH"
    assert result["mismatches"] == {
        "usage-co": {
            "postgres": 3,
            "postproxy": 3,
            "only_in_postgres": ["prof-ghost"],
            "only_at_postproxy": [threads],
        }
    }
    assert rows["no-key"]["postproxy"] == "not checked: tenant has no scoped key"
    artifact = Artifact.get("usage-report")
    assert artifact is not None
    stored = {row["tenant"]: row for row in json.loads(artifact.data)}
    assert stored["usage-co"]["only_in_postgres"] == "prof-ghost"
    assert stored["usage-co"]["only_at_postproxy"] == threads

    with system_scope("test") as s:  # once Postgres agrees with Postproxy, the report says so
        from postpipe.repositories import accounts

        accounts.mark_disconnected(s, checked, "prof-ghost")
        accounts.apply_profile(s, checked, profile_id=threads, platform="threads", name="threads", status="active")
    again = asyncio.run(usage_report())
    assert again["mismatches"] == {}
    assert {row["tenant"]: row["postproxy"] for row in again["tenants"]}["usage-co"] == "matches"
