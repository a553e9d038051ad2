"""``postpipe stats report``: totals from the latest snapshots, charts in HTML, and only the tenant's own posts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from flows.stats import collect_stats
from postpipe.cli import main
from postpipe.db import system_scope, tenant_scope
from postpipe.repositories import stats

from .helpers import publish_posts, tenant_with_profiles


def test_a_tenant_report_shows_only_its_own_posts(
    stats_world: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox = stats_world
    acme = tenant_with_profiles(sandbox, "acme", ["twitter", "instagram"])
    beta = tenant_with_profiles(sandbox, "beta", ["twitter"])
    acme_posts = publish_posts(sandbox, acme, count=3, published_at=sandbox.now(), body="<script>alert(1)</script> launch")
    beta_posts = publish_posts(sandbox, beta, count=2, published_at=sandbox.now())
    sandbox.advance(4 * 3600 + 60)
    asyncio.run(collect_stats())

    html_file = tmp_path / "acme.html"
    assert main(["stats", "report", "acme", "--html", str(html_file)]) == 0
    out = capsys.readouterr().out
    for post in acme_posts:
        assert post.postproxy_id in out
    for post in beta_posts:
        assert post.postproxy_id not in out
    assert "instagram" in out and "twitter" in out

    # the totals are the latest snapshot per post and account, summed
    with tenant_scope(acme.id) as session:
        latest = stats.latest_snapshots(session, acme.id)
    assert len(latest) == 6
    twitter_impressions = sum(s.metrics["impressions"] for s in latest if s.platform == "twitter")
    assert str(twitter_impressions) in out

    html = html_file.read_text()
    assert html.count("<svg") == 3 and html.count("<polyline") == 6  # 3 top posts x 2 accounts, 4 hourly points
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert all(p.postproxy_id not in html for p in beta_posts)

    # Row-level security, not only the query's filter: inside acme's scope beta's rows do not exist
    with tenant_scope(acme.id) as session:
        assert stats.latest_snapshots(session, beta.id) == []
        assert stats.count(session) == 6 * 4
    with system_scope("test: every tenant") as session:
        assert len(stats.latest_snapshots(session, beta.id)) == 2


def test_report_since_and_unknown_tenant(stats_world: Any, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox = stats_world
    acme = tenant_with_profiles(sandbox, "acme", ["twitter"])
    publish_posts(sandbox, acme, count=1, published_at=sandbox.now())
    sandbox.advance(2 * 3600 + 60)
    asyncio.run(collect_stats())

    later = (sandbox.now().date().replace(year=sandbox.now().year + 1)).isoformat()
    assert main(["stats", "report", "acme", "--since", later]) == 0
    assert "No stats collected yet." in capsys.readouterr().out

    assert main(["stats", "report", "acme", "--since", "yesterday"]) == 2
    assert "--since: expected a date as YYYY-MM-DD" in capsys.readouterr().err
    assert main(["stats", "report", "nobody"]) == 2
    assert "no tenant with slug 'nobody'" in capsys.readouterr().err
