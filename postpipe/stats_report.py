"""A tenant's stats report: totals per platform and per post from the latest snapshot of each post and account,
and the impressions of its top posts over time (drawn as small inline SVG charts in the HTML rendering).

Everything is read in ``tenant_scope``: on PostgreSQL row-level security guarantees the report can only ever
contain the tenant's own posts, whatever a query forgets.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postpipe.db import tenant_scope
from postpipe.models import utcnow
from postpipe.repositories import stats
from postpipe.repositories.stats import LatestSnapshot, SeriesPoint
from postpipe.stats_collection import HEADLINE_METRIC as HEADLINE
from postpipe.templates import environment

COMMON_METRICS = ("impressions", "likes", "comments")
"""Metrics shown in their own column; every other metric is listed under "other"."""
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")


@dataclass(frozen=True)
class PlatformTotals:
    platform: str
    accounts: int
    posts: int
    metrics: dict[str, int]


@dataclass(frozen=True)
class PostTotals:
    post_id: uuid.UUID
    postproxy_post_id: str | None
    body: str
    platforms: tuple[str, ...]
    latest_at: datetime
    metrics: dict[str, int]

    @property
    def impressions(self) -> int:
        return self.metrics.get(HEADLINE, 0)


@dataclass(frozen=True)
class Series:
    """One account's impressions of one post over time."""

    label: str
    points: tuple[tuple[datetime, int], ...]


@dataclass(frozen=True)
class StatsReport:
    tenant: str
    since: datetime | None
    generated_at: datetime
    platforms: tuple[PlatformTotals, ...]
    posts: tuple[PostTotals, ...]
    top_posts: tuple[PostTotals, ...]
    series: dict[uuid.UUID, tuple[Series, ...]]


def _numbers(metrics: Mapping[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _sum(many: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for metrics in many:
        for name, value in metrics.items():
            total[name] += value
    return dict(sorted(total.items()))


def build_report(tenant_id: uuid.UUID, tenant_slug: str, *, since: datetime | None = None, top: int = 5) -> StatsReport:
    """Totals per platform and per post (latest snapshot per post and account, summed) and the top posts' series."""
    with tenant_scope(tenant_id) as session:
        latest = stats.latest_snapshots(session, tenant_id, since=since)
        posts = _post_totals(latest)
        top_posts = posts[:top]  # already by impressions, highest first
        points = stats.series(session, tenant_id, [p.post_id for p in top_posts], since=since)
    names = {s.account_id: s.account_name for s in latest}
    return StatsReport(
        tenant=tenant_slug,
        since=since,
        generated_at=utcnow(),
        platforms=_platform_totals(latest),
        posts=posts,
        top_posts=top_posts,
        series=_series(points, names),
    )


def _platform_totals(latest: list[LatestSnapshot]) -> tuple[PlatformTotals, ...]:
    by_platform: dict[str, list[LatestSnapshot]] = defaultdict(list)
    for snapshot in latest:
        by_platform[snapshot.platform].append(snapshot)
    return tuple(
        PlatformTotals(
            platform=platform,
            accounts=len({s.account_id for s in rows}),
            posts=len({s.post_id for s in rows}),
            metrics=_sum(_numbers(s.metrics) for s in rows),
        )
        for platform, rows in sorted(by_platform.items())
    )


def _post_totals(latest: list[LatestSnapshot]) -> tuple[PostTotals, ...]:
    by_post: dict[uuid.UUID, list[LatestSnapshot]] = defaultdict(list)
    for snapshot in latest:
        by_post[snapshot.post_id].append(snapshot)
    totals = [
        PostTotals(
            post_id=post_id,
            postproxy_post_id=rows[0].postproxy_post_id,
            body=rows[0].body,
            platforms=tuple(sorted({s.platform for s in rows})),
            latest_at=max(s.recorded_at for s in rows),
            metrics=_sum(_numbers(s.metrics) for s in rows),
        )
        for post_id, rows in by_post.items()
    ]
    return tuple(sorted(totals, key=lambda p: (-p.impressions, str(p.post_id))))


def _series(points: list[SeriesPoint], account_names: Mapping[uuid.UUID, str]) -> dict[uuid.UUID, tuple[Series, ...]]:
    grouped: dict[uuid.UUID, dict[uuid.UUID, list[SeriesPoint]]] = defaultdict(lambda: defaultdict(list))
    for point in points:
        if HEADLINE in point.metrics:
            grouped[point.post_id][point.account_id].append(point)
    return {
        post_id: tuple(
            Series(
                label=f"{rows[0].platform} ({account_names.get(account_id, account_id)})",
                points=tuple((p.recorded_at, int(p.metrics[HEADLINE])) for p in rows),
            )
            for account_id, rows in sorted(by_account.items(), key=lambda item: item[1][0].platform)
        )
        for post_id, by_account in grouped.items()
    }


# ---------------------------------------------------------------- HTML


@dataclass(frozen=True)
class ChartLine:
    label: str
    color: str
    points: str  # "x,y x,y ..." in the SVG's coordinates


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    y_max: int
    start: str
    end: str
    lines: tuple[ChartLine, ...]


def chart(series: Iterable[Series], *, width: int = 420, height: int = 140) -> Chart | None:
    """The geometry of a line chart of the series (time on x, value on y from 0); None when there is nothing."""
    lines = [s for s in series if s.points]
    if not lines:
        return None
    left, top, right, bottom = 56, 10, width - 10, height - 24
    first = min(t for s in lines for t, _ in s.points)
    last = max(t for s in lines for t, _ in s.points)
    t0, t1 = first.timestamp(), last.timestamp()
    y_max = max(1, max(v for s in lines for _, v in s.points))

    def x(t: datetime) -> float:
        return left + (right - left) * ((t.timestamp() - t0) / (t1 - t0) if t1 > t0 else 0.5)

    def y(v: int) -> float:
        return bottom - (bottom - top) * v / y_max

    return Chart(
        width=width,
        height=height,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        y_max=y_max,
        start=first.strftime("%Y-%m-%d %H:%M"),
        end=last.strftime("%Y-%m-%d %H:%M"),
        lines=tuple(
            ChartLine(s.label, PALETTE[i % len(PALETTE)], " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in s.points))
            for i, s in enumerate(lines)
        ),
    )


def render_html(report: StatsReport) -> str:
    """The report as a standalone HTML page (autoescaped), with an SVG chart per top post."""
    metric_names = sorted({name for p in report.platforms for name in p.metrics})
    return environment().get_template("stats_report.html").render(
        report=report,
        metric_names=metric_names,
        charts={p.post_id: chart(report.series.get(p.post_id, ())) for p in report.top_posts},
    )


def other_metrics(metrics: Mapping[str, int]) -> str:
    """The metrics not shown in a column of their own, as ``name value`` pairs."""
    return ", ".join(f"{k} {v}" for k, v in sorted(metrics.items()) if k not in COMMON_METRICS)
