"""Turning a tenant's collection plan into Postproxy stats requests, and the answers into snapshot rows.

Pure logic (no I/O): the ``collect-stats`` flow's task fetches, these functions decide what to ask and what to
keep. Records for profiles the tenant does not own, or for posts it did not ask about, are counted and dropped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from postproxy._exceptions import AuthenticationError, PostProxyError, RateLimitError

from postpipe.repositories.stats import CollectionPlan, PostToCollect, SnapshotRow

MAX_POST_IDS_PER_REQUEST = 50
"""Postproxy answers at most 50 post ids per ``GET /api/posts/stats``."""

HEADLINE_METRIC = "impressions"


@dataclass(frozen=True)
class StatsRequest:
    """One ``posts.stats`` call: up to 50 Postproxy post ids and the earliest record time wanted."""

    post_ids: tuple[str, ...]
    from_date: datetime


@dataclass(frozen=True)
class TopPost:
    tenant: str
    post_id: uuid.UUID
    postproxy_post_id: str
    impressions: int


@dataclass(frozen=True)
class TenantStatsResult:
    """What one tenant's collection did (the flow's per-tenant row)."""

    tenant: str
    posts_published: int
    requests: int
    records: int
    snapshots_added: int
    posts_covered: int
    ignored_records: int
    impressions: int
    top_posts: tuple[TopPost, ...] = ()

    def as_row(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "status": "ok",
            "posts_published": self.posts_published,
            "posts_covered": self.posts_covered,
            "snapshots_added": self.snapshots_added,
            "impressions": self.impressions,
            "requests": self.requests,
            "ignored_records": self.ignored_records,
        }


@dataclass(frozen=True)
class TenantFailure:
    """A tenant whose collection failed, and why (one line an operator can act on)."""

    tenant: str
    reason: str

    def as_row(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "status": "failed", "error": self.reason}


def plan_requests(posts: Iterable[PostToCollect], batch_size: int = MAX_POST_IDS_PER_REQUEST) -> list[StatsRequest]:
    """Batches of post ids sharing a similar start time: posts sorted by how far back they need records."""
    if not 1 <= batch_size <= MAX_POST_IDS_PER_REQUEST:
        raise ValueError(f"batch_size must be between 1 and {MAX_POST_IDS_PER_REQUEST}, got {batch_size}")
    ordered = sorted(posts, key=lambda p: (p.fetch_from, p.postproxy_post_id))
    return [
        StatsRequest(
            post_ids=tuple(p.postproxy_post_id for p in chunk),
            from_date=min(p.fetch_from for p in chunk),
        )
        for chunk in (ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size))
    ]


@dataclass
class CollectedStats:
    """Accumulates the answers of one tenant's requests into snapshot rows and headline figures."""

    plan: CollectionPlan
    rows: list[SnapshotRow] = field(default_factory=list)
    records: int = 0
    ignored_records: int = 0
    _post_ids: dict[str, uuid.UUID] = field(default_factory=dict)
    _latest: dict[tuple[uuid.UUID, uuid.UUID], tuple[datetime, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._post_ids = {p.postproxy_post_id: p.post_id for p in self.plan.posts}

    def add(self, data: dict[str, Any]) -> None:
        """Take in ``StatsResponse.data``: Postproxy post id -> platforms -> records."""
        for postproxy_post_id, post_stats in data.items():
            post_id = self._post_ids.get(postproxy_post_id)
            for platform_stats in post_stats.platforms:
                self.records += len(platform_stats.records)
                account = self.plan.accounts.get(platform_stats.profile_id)
                if post_id is None or account is None:
                    self.ignored_records += len(platform_stats.records)
                    continue
                for record in platform_stats.records:
                    recorded_at = _utc(record.recorded_at)
                    self.rows.append(
                        SnapshotRow(post_id, account.id, account.platform, recorded_at, record.stats, record.raw_stats)
                    )
                    key = (post_id, account.id)
                    impressions = _as_int(record.stats.get(HEADLINE_METRIC))
                    if key not in self._latest or self._latest[key][0] <= recorded_at:
                        self._latest[key] = (recorded_at, impressions)

    @property
    def posts_covered(self) -> int:
        """Posts with at least one record on an account of the tenant."""
        return len({post_id for post_id, _ in self._latest})

    def impressions_by_post(self) -> dict[uuid.UUID, int]:
        """Latest impressions of each post, summed over its accounts."""
        totals: dict[uuid.UUID, int] = {}
        for (post_id, _), (_, impressions) in self._latest.items():
            totals[post_id] = totals.get(post_id, 0) + impressions
        return totals

    def result(self, tenant: str, *, requests: int, snapshots_added: int, top: int = 5) -> TenantStatsResult:
        by_post = self.impressions_by_post()
        refs = {p.post_id: p.postproxy_post_id for p in self.plan.posts}
        best = sorted(by_post.items(), key=lambda item: (-item[1], str(item[0])))[:top]
        return TenantStatsResult(
            tenant=tenant,
            posts_published=len(self.plan.posts),
            requests=requests,
            records=self.records,
            snapshots_added=snapshots_added,
            posts_covered=self.posts_covered,
            ignored_records=self.ignored_records,
            impressions=sum(by_post.values()),
            top_posts=tuple(TopPost(tenant, pid, refs[pid], n) for pid, n in best),
        )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _as_int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def describe_failure(exc: BaseException) -> str:
    """Why a tenant's collection failed, in one line an operator can act on (never contains the key)."""
    if isinstance(exc, AuthenticationError):
        return "Postproxy rejected the tenant's API key (401): revoked or invalid; re-issue the key"
    if isinstance(exc, RateLimitError):
        return "throttled by Postproxy (429) beyond the retry budget; the next hourly run catches up"
    if isinstance(exc, PostProxyError):
        return f"Postproxy error (HTTP {exc.status_code}): {exc}"
    if isinstance(exc, TimeoutError):
        return f"timed out waiting for a concurrency slot or Postproxy: {exc}"
    return f"{type(exc).__name__}: {exc}"
