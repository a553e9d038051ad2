"""Deterministic engagement stats that grow with the sandbox clock, computed on request."""

from __future__ import annotations

import hashlib
from typing import Any, Iterator

from .clock import to_iso

# (normalized name, the network's own name) per platform; telegram and google_business have no post stats.
METRICS: dict[str, tuple[tuple[str, str], ...]] = {
    "instagram": (
        ("impressions", "views"),
        ("likes", "likes"),
        ("comments", "comments"),
        ("saved", "saved"),
        ("profile_visits", "profile_visits"),
        ("follows", "follows"),
    ),
    "facebook": (("impressions", "post_impressions"), ("clicks", "post_clicks"), ("likes", "post_reactions_like_total")),
    "twitter": (
        ("impressions", "impression_count"),
        ("likes", "like_count"),
        ("retweets", "retweet_count"),
        ("comments", "reply_count"),
        ("quotes", "quote_count"),
        ("saved", "bookmark_count"),
    ),
    "linkedin": (
        ("impressions", "impressionCount"),
        ("likes", "likeCount"),
        ("comments", "commentCount"),
        ("shares", "shareCount"),
        ("clicks", "clickCount"),
    ),
    "tiktok": (("impressions", "view_count"), ("likes", "like_count"), ("comments", "comment_count"), ("shares", "share_count")),
    "youtube": (("impressions", "viewCount"), ("likes", "likeCount"), ("comments", "commentCount"), ("saved", "favoriteCount")),
    "threads": (
        ("impressions", "views"),
        ("likes", "likes"),
        ("replies", "replies"),
        ("reposts", "reposts"),
        ("quotes", "quotes"),
        ("shares", "shares"),
    ),
    "pinterest": (
        ("impressions", "IMPRESSION"),
        ("likes", "REACTION"),
        ("comments", "COMMENT"),
        ("saved", "SAVE"),
        ("outbound_clicks", "OUTBOUND_CLICK"),
    ),
    "bluesky": (("likes", "likeCount"), ("reposts", "repostCount"), ("comments", "replyCount"), ("quotes", "quoteCount")),
}

_GROWTH_PER_HOUR = 0.95  # each hour closes 5 % of the gap to the metric's final value
_SECONDS_PER_HOUR = 3600.0


def _unit(*parts: str) -> float:
    """A stable number in [0, 1) derived from the parts."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _millis(timestamp: float) -> int:
    return round(timestamp * 1000)


def final_values(post_id: str, profile_id: str, platform: str) -> dict[str, float]:
    """The value each metric converges to, fixed by post, profile and metric name."""
    reach = 200.0 + _unit(post_id, profile_id, "reach") * 20000.0
    values: dict[str, float] = {}
    for name, _ in METRICS.get(platform, ()):
        if name == "impressions":
            values[name] = reach
        else:
            values[name] = reach * (0.002 + _unit(post_id, profile_id, name) * 0.08)
    return values


def metric_values(finals: dict[str, float], hours_elapsed: float) -> dict[str, int]:
    """Values after ``hours_elapsed``: monotonically non-decreasing in time."""
    progress = 1.0 - _GROWTH_PER_HOUR ** max(hours_elapsed, 0.0)
    return {name: int(final * progress) for name, final in finals.items()}


def record_offsets(elapsed: float, interval: float, dense_records: int) -> Iterator[float]:
    """Seconds after publication of each record so far: ``dense_records`` at ``interval``, then daily."""
    if elapsed < interval:
        return
    dense = min(int(elapsed // interval), dense_records)
    for index in range(1, dense + 1):
        yield index * interval
    if dense < dense_records:
        return
    start = dense_records * interval
    day = 24 * _SECONDS_PER_HOUR
    for index in range(1, int((elapsed - start) // day) + 1):
        yield start + index * day


def records_for(
    *,
    post_id: str,
    profile_id: str,
    platform: str,
    published_at: float,
    now: float,
    interval: float,
    dense_records: int,
    since: float | None = None,
    until: float | None = None,
) -> list[dict[str, Any]]:
    """The stats records of one published platform post, oldest first, filtered by ``since``/``until``."""
    metrics = METRICS.get(platform)
    if not metrics:
        return []
    finals = final_values(post_id, profile_id, platform)
    raw_names = dict(metrics)
    records: list[dict[str, Any]] = []
    for offset in record_offsets(now - published_at, interval, dense_records):
        recorded_at = published_at + offset
        if since is not None and _millis(recorded_at) < _millis(since):
            continue
        if until is not None and _millis(recorded_at) > _millis(until):
            break
        values = metric_values(finals, offset / _SECONDS_PER_HOUR)
        records.append(
            {
                "stats": values,
                "raw_stats": {raw_names[name]: value for name, value in values.items()},
                "recorded_at": to_iso(recorded_at),
            }
        )
    return records


def latest_insights(
    *, post_id: str, profile_id: str, platform: str, published_at: float, now: float, interval: float, dense_records: int
) -> dict[str, Any] | None:
    """The headline metric shown on a platform result: latest impressions and when."""
    if "impressions" not in dict(METRICS.get(platform, ())):
        return None
    last_offset: float | None = None
    for last_offset in record_offsets(now - published_at, interval, dense_records):
        pass
    if last_offset is None:
        return None
    finals = final_values(post_id, profile_id, platform)
    impressions = metric_values({"impressions": finals["impressions"]}, last_offset / _SECONDS_PER_HOUR)
    return {"impressions": impressions["impressions"], "on": to_iso(published_at + last_offset)}
