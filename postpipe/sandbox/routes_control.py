"""The sandbox's own control surface under ``/sandbox/`` (not part of Postproxy)."""

from __future__ import annotations

from typing import Any

from . import publishing
from .clock import parse_iso, to_iso
from .connections import connect_profile, expire_profile
from .context import RequestContext
from .errors import bad_request, invalid, not_found
from .platforms import PLATFORMS, POSTING_PLATFORMS
from .records import PlatformPostRecord, PostRecord

Reply = tuple[int, Any]

MAX_SEED_COUNT = 10_000


def add_fault(ctx: RequestContext) -> Reply:
    fault = ctx.state.faults.add(ctx.state.ids.new("flt"), ctx.body, PLATFORMS)
    return 201, fault.as_json()


def list_faults(ctx: RequestContext) -> Reply:
    return 200, {"data": ctx.state.faults.as_json()}


def clear_faults(ctx: RequestContext) -> Reply:
    return 200, {"deleted": True, "count": ctx.state.faults.clear()}


def expire(ctx: RequestContext) -> Reply:
    profile = ctx.state.profiles.get(ctx.path("id"))
    if profile is None:
        raise not_found()
    expire_profile(ctx.state, profile, ctx.now)
    return 200, {"id": profile.id, "status": profile.status}


def create_profile(ctx: RequestContext) -> Reply:
    """``POST /sandbox/profiles`` {profile_group_id, platform, name?, username?}: connect without the consent page."""
    group_id = ctx.body.get("profile_group_id")
    platform = ctx.body.get("platform")
    if group_id not in ctx.state.groups:
        raise invalid("profile_group_id must name an existing profile group")
    if platform not in PLATFORMS:
        raise invalid(f"platform must be one of {list(PLATFORMS)}")
    profile = connect_profile(
        ctx.state,
        group_id=str(group_id),
        platform=str(platform),
        now=ctx.now,
        name=ctx.body.get("name"),
        username=ctx.body.get("username"),
    )
    return 201, {"id": profile.id, "platform": profile.platform, "profile_group_id": profile.profile_group_id, "name": profile.name}


def seed_posts(ctx: RequestContext) -> Reply:
    """``POST /sandbox/seed``: N already-published posts for one or more profiles of one group, without webhooks."""
    state = ctx.state
    body = ctx.body
    profile_ids = body.get("profile_ids") or ([body["profile_id"]] if body.get("profile_id") else [])
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_SEED_COUNT:
        raise invalid(f"count must be an integer between 1 and {MAX_SEED_COUNT}")
    if not isinstance(profile_ids, list) or not profile_ids:
        raise invalid("profile_id (or profile_ids) is required")
    profiles = []
    for profile_id in profile_ids:
        profile = state.profiles.get(profile_id)
        if profile is None or profile.platform not in POSTING_PLATFORMS:
            raise invalid(f"Profile not found for {profile_id}")
        profiles.append(profile)
    group_id = profiles[0].profile_group_id
    if any(p.profile_group_id != group_id for p in profiles):
        raise invalid("all seeded profiles must be in one profile group")
    try:
        first_at = parse_iso(body["published_at"]) if body.get("published_at") else ctx.now
    except (ValueError, TypeError) as error:
        raise bad_request("published_at must be an ISO 8601 time") from error
    if first_at > ctx.now:
        raise invalid("published_at must not be in the future")
    spacing = float(body.get("spacing_seconds", 0) or 0)
    prefix = str(body.get("body") or "Seeded post")
    created: list[str] = []
    for index in range(count):
        published_at = min(first_at + index * spacing, ctx.now)
        post_id = state.ids.new("post")
        post = PostRecord(
            id=post_id,
            group_id=group_id,
            body=f"{prefix} #{index + 1}",
            status="processed",
            created_at=published_at,
            seq=state.next_post_seq(),
            profile_ids=[p.id for p in profiles],
            seeded=True,
        )
        for profile in profiles:
            platform_post = PlatformPostRecord(
                id=state.ids.new("pp"), post_id=post_id, profile_id=profile.id, platform=profile.platform, profile_name=profile.name
            )
            publishing.mark_published(state, platform_post, published_at)
            post.platform_posts.append(platform_post)
        state.add_post(post)
        created.append(post_id)
    return 201, {"post_ids": created, "profile_group_id": group_id}


def clock_now(ctx: RequestContext) -> Reply:
    return 200, {"now": to_iso(ctx.state.clock.now())}
