"""Metering from Postgres facts (and SQLite): period boundaries per time zone, peak vs prorated accounts, seats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from postpipe.db import owner_session

from .conftest import add_account, add_member, make_tenant, publish
from .helpers import metered

LA = ZoneInfo("America/Los_Angeles")
TOKYO = ZoneInfo("Asia/Tokyo")
SEP1 = datetime(2026, 9, 1, tzinfo=UTC)


def test_deliveries_count_in_the_tenants_local_month(any_db: str) -> None:
    with owner_session() as s:
        la = make_tenant(s, "la", time_zone="America/Los_Angeles")
        tokyo = make_tenant(s, "tokyo", time_zone="Asia/Tokyo")
        la_accounts = [add_account(s, la, f"la-{p}", platform=p) for p in ("twitter", "linkedin", "threads", "bluesky")]
        tk = add_account(s, tokyo, "tk-twitter")
        # 23:30 local on the last day of September: September. 00:30 local on October 1st: October.
        publish(s, la, la_accounts, datetime(2026, 9, 30, 23, 30, tzinfo=LA))  # one post, four platforms = 4
        publish(s, la, la_accounts[:1], datetime(2026, 10, 1, 0, 30, tzinfo=LA))
        publish(s, la, la_accounts[:1], datetime(2026, 9, 1, 0, 0, tzinfo=LA))  # start is inclusive
        publish(s, la, la_accounts[:1], datetime(2026, 8, 31, 23, 59, tzinfo=LA))
        publish(s, tokyo, [tk], datetime(2026, 9, 30, 23, 30, tzinfo=TOKYO))  # 14:30 UTC Sep 30
        publish(s, tokyo, [tk], datetime(2026, 10, 1, 0, 30, tzinfo=TOKYO))  # still Sep 30 in UTC, but October
        publish(s, tokyo, [tk], datetime(2026, 9, 15, tzinfo=UTC), status="failed")  # not published: never billed
    september, october = metered("2026-09"), metered("2026-10")
    assert september["la"].published_posts == 5
    assert october["la"].published_posts == 1
    assert september["tokyo"].published_posts == 1
    assert october["tokyo"].published_posts == 1
    assert metered("2026-08")["la"].published_posts == 1


def test_account_connected_mid_month_peak_and_prorated(any_db: str) -> None:
    with owner_session() as s:
        for slug, plan in (("peaky", "starter"), ("prorata", "growth")):
            tid = make_tenant(s, slug, plan_id=plan)
            add_account(s, tid, f"{slug}-all-month")
            add_account(s, tid, f"{slug}-from-16th", [(datetime(2026, 9, 16, tzinfo=UTC), None)])
    usage = metered("2026-09")
    assert usage["peaky"].account_metering == "peak"
    assert usage["peaky"].quantity("connected_accounts") == 2
    # prorated: 30 days + 15 days (Sep 16 00:00 -> Oct 1 00:00) = 45 account-days; / 30 days = 1.5 accounts
    assert usage["prorata"].account_days == Decimal("45.0000")
    assert usage["prorata"].quantity("connected_accounts") == Decimal("1.5000")
    assert usage["prorata"].peak_accounts == 2


def test_disconnected_and_reconnected_account_counts_once_at_peak(any_db: str) -> None:
    with owner_session() as s:
        tid = make_tenant(s, "flaky", plan_id="growth")
        add_account(
            s,
            tid,
            "flaky-1",
            [
                (datetime(2026, 8, 20, tzinfo=UTC), datetime(2026, 9, 10, 12, tzinfo=UTC)),  # 9.5 days in September
                (datetime(2026, 9, 20, tzinfo=UTC), datetime(2026, 9, 25, tzinfo=UTC)),  # 5 days
                (datetime(2026, 9, 25, tzinfo=UTC), None),  # reconnected the same instant: 6 days
            ],
        )
        add_account(s, tid, "flaky-2", [(datetime(2026, 9, 10, 12, tzinfo=UTC), datetime(2026, 9, 10, 18, 0, 0, 8640, tzinfo=UTC))])
    usage = metered("2026-09")["flaky"]
    # never two at once: flaky-1's reconnection at the instant it closed counts once, flaky-2 opens as flaky-1 closes
    assert usage.peak_accounts == 1
    # 9.5 + 5 + 6 = 20.5 days, plus flaky-2: 6 h + 8.64 ms = 0.2500001 days -> 20.7500 (4 decimals)
    assert usage.account_days == Decimal("20.7500")
    assert usage.account_months == Decimal("0.6917")  # 20.7500001 / 30 = 0.69166667


def test_peak_seats_in_the_period(any_db: str) -> None:
    with owner_session() as s:
        tid = make_tenant(s, "team")  # the owner: one seat all along
        add_member(s, tid, "left-in-august@team.example", datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 8, 31, tzinfo=UTC))
        add_member(s, tid, "a@team.example", datetime(2026, 9, 3, tzinfo=UTC), datetime(2026, 9, 10, tzinfo=UTC))
        add_member(s, tid, "b@team.example", datetime(2026, 9, 10, tzinfo=UTC))  # joins as a leaves: no overlap
        add_member(s, tid, "c@team.example", datetime(2026, 9, 12, tzinfo=UTC), datetime(2026, 9, 13, tzinfo=UTC))
        add_member(s, tid, "later@team.example", datetime(2026, 10, 1, tzinfo=UTC))
    assert metered("2026-09")["team"].seats == 3  # owner + b + c on Sep 12
    assert metered("2026-10")["team"].seats == 3  # owner + b + later


def test_billable_tenants_follow_status_and_dates(any_db: str) -> None:
    with owner_session() as s:
        make_tenant(s, "active")
        make_tenant(s, "closed-during", status="closed", closed_at=datetime(2026, 9, 20, tzinfo=UTC))
        make_tenant(s, "closed-after", status="closed", closed_at=datetime(2026, 11, 2, tzinfo=UTC))
        make_tenant(s, "closed-before", status="closed", closed_at=datetime(2026, 8, 31, 23, tzinfo=UTC))
        make_tenant(s, "onboarding", status="onboarding")
        make_tenant(s, "born-later", created_at=SEP1 + timedelta(days=31))
    assert sorted(metered("2026-09")) == ["active", "closed-after", "closed-during"]
