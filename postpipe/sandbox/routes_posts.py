"""Posts: create, get, list, update, publish, delete, delete on platform, stats."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import events, publishing
from .clock import parse_iso
from .context import RequestContext
from .errors import ApiError, bad_request, invalid, not_found
from .platforms import NO_API_DELETE, PLATFORMS
from .post_input import PostInput, as_bool, build_media, build_thread, read_post_input, resolve_profiles
from .records import PlatformPostRecord, PostRecord, ProfileRecord
from .serializers import paginated, post_json
from .stats import records_for
from .validation import check_post_for_platforms

Reply = tuple[int, Any]

EDIT_CUTOFF_SECONDS = 300.0
PUBLISHED_EDITABLE = {("youtube", "title"), ("pinterest", "title"), ("pinterest", "destination_link")}
LIST_STATUS_FILTERS = frozenset(
    {"pending", "draft", "processing", "processed", "scheduled", "media_processing_failed", "published", "failed"}
)


def _visible_post(ctx: RequestContext) -> PostRecord:
    post = ctx.state.posts.get(ctx.path("id"))
    if post is None or not ctx.can_see(post.group_id):
        raise not_found()
    return post


def _platform_posts(ctx: RequestContext, post_id: str, profiles: list[ProfileRecord]) -> list[PlatformPostRecord]:
    return [
        PlatformPostRecord(id=ctx.state.ids.new("pp"), post_id=post_id, profile_id=p.id, platform=p.platform, profile_name=p.name)
        for p in profiles
    ]


def _fingerprint(group_id: str, body: str, profile_ids: list[str], media_urls: list[str]) -> str:
    material = json.dumps([group_id, body, sorted(profile_ids), media_urls], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


def _check_queue(ctx: RequestContext, group_id: str, queue_id: str | None) -> None:
    if queue_id is None:
        return
    queue = ctx.state.queues.get(queue_id)
    if queue is None or queue.group_id != group_id:
        raise invalid(f"Queue not found for {queue_id}")
    if not queue.timeslots:
        raise invalid("Queue has no timeslots")


def _group_for_new_post(ctx: RequestContext, entries: list[str]) -> str:
    """Account key without ``profile_group_id``: the group of the first listed profile id, else the context rule."""
    if ctx.caller.is_account and not ctx.query.get("profile_group_id"):
        for entry in entries:
            profile = ctx.state.profiles.get(entry)
            if profile is not None:
                return profile.profile_group_id
    return ctx.group_context()


def create_post(ctx: RequestContext) -> Reply:
    state = ctx.state
    spec = read_post_input(ctx.body, creating=True)
    group_id = _group_for_new_post(ctx, spec.profiles)
    profiles = resolve_profiles(state, group_id, spec.profiles)
    media_items: list[dict[str, str]] = spec.media if spec.has("media") else []
    thread_items: list[dict[str, Any]] = spec.thread if spec.has("thread") else []
    platform_params: dict[str, dict[str, Any]] = spec.platforms if spec.has("platforms") else {}
    queue_id = spec.queue_id if spec.has("queue_id") else None
    scheduled_at = spec.scheduled_at if spec.has("scheduled_at") else None
    if queue_id is not None and scheduled_at is not None:
        raise invalid("queue_id cannot be combined with scheduled_at")
    _check_queue(ctx, group_id, queue_id)
    problems = check_post_for_platforms(
        body=spec.body,
        media_count=len(media_items),
        thread=thread_items,
        target_platforms=[p.platform for p in profiles],
        platform_params=platform_params,
    )
    if problems:
        raise invalid(*problems)
    draft = bool(spec.draft) if spec.has("draft") else False
    fingerprint = None
    skip_check = ctx.headers.get("x-skip-duplicate-check", "").lower() == "true"
    if not draft:
        fingerprint = _fingerprint(group_id, spec.body, [p.id for p in profiles], [m["url"] for m in media_items])
        earlier = state.recent_fingerprints.get(fingerprint)
        if (
            not skip_check
            and earlier is not None
            and earlier[0] in state.posts
            and ctx.now - earlier[1] <= state.config.duplicate_window_seconds
        ):
            raise ApiError(409, "Duplicate post", extra={"duplicate_post_id": earlier[0]})
    post_id = state.ids.new("post")
    post = PostRecord(
        id=post_id,
        group_id=group_id,
        body=spec.body,
        status="draft" if draft else "pending",
        created_at=ctx.now,
        seq=state.next_post_seq(),
        profile_ids=[p.id for p in profiles],
        media=build_media(state, media_items),
        platform_params=platform_params,
        thread=build_thread(state, thread_items),
        scheduled_at=scheduled_at,
        draft=draft,
        queue_id=queue_id,
        queue_priority=(spec.queue_priority if spec.has("queue_priority") else "medium") if queue_id else None,
        platform_posts=_platform_posts(ctx, post_id, profiles),
        duplicate_fingerprint=fingerprint,
    )
    state.add_post(post)
    if fingerprint is not None:
        state.recent_fingerprints[fingerprint] = (post.id, ctx.now)
    if not draft:
        publishing.activate(state, post, ctx.now)
    return 201, post_json(state, post, ctx.now)


def get_post(ctx: RequestContext) -> Reply:
    return 200, post_json(ctx.state, _visible_post(ctx), ctx.now)


def _int_param(ctx: RequestContext, name: str, default: int) -> int:
    raw = ctx.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise bad_request(f"{name} must be an integer") from error
    if value < 0:
        raise bad_request(f"{name} must not be negative")
    return value


def _list_platforms_filter(ctx: RequestContext) -> set[str]:
    values = ctx.query.getlist("platforms") + ctx.query.getlist("platforms[]")
    wanted = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = wanted - set(PLATFORMS)
    if unknown:
        raise bad_request(f"Unknown platform: {sorted(unknown)[0]}")
    return wanted


def _matches_status(post: PostRecord, status: str) -> bool:
    if status == "published":
        return any(pp.status == "published" for pp in post.platform_posts)
    if status == "failed":
        return any(pp.status == "failed" for pp in post.platform_posts)
    return post.status == status


def list_posts(ctx: RequestContext) -> Reply:
    state = ctx.state
    group_id = ctx.group_context()
    page = _int_param(ctx, "page", 0)
    per_page = min(max(_int_param(ctx, "per_page", 10), 1), state.config.max_per_page)
    status = ctx.query.get("status") or None
    if status is not None and status not in LIST_STATUS_FILTERS:
        raise bad_request(f"Unknown status: {status}")
    platforms = _list_platforms_filter(ctx)
    scheduled_after_raw = ctx.query.get("scheduled_after")
    try:
        scheduled_after = parse_iso(scheduled_after_raw) if scheduled_after_raw else None
    except ValueError as error:
        raise bad_request("scheduled_after must be an ISO 8601 time") from error
    matching: list[PostRecord] = []
    for post_id in reversed(list(state.posts_by_group.get(group_id, {}))):
        post = state.posts[post_id]
        if status is not None and not _matches_status(post, status):
            continue
        if platforms and not any(pp.platform in platforms for pp in post.platform_posts):
            continue
        if scheduled_after is not None and (post.scheduled_at is None or post.scheduled_at <= scheduled_after):
            continue
        matching.append(post)
    window = matching[page * per_page : (page + 1) * per_page]
    items = [post_json(state, post, ctx.now) for post in window]
    return 200, paginated(items, total=len(matching), page=page, per_page=per_page)


def _editable_in_full(post: PostRecord, now: float) -> bool:
    if post.status == "draft":
        return True
    if post.status == "scheduled":
        return post.scheduled_at is None or post.scheduled_at - now > EDIT_CUTOFF_SECONDS
    return False


def update_post(ctx: RequestContext) -> Reply:
    post = _visible_post(ctx)
    spec = read_post_input(ctx.body, creating=False)
    if post.status == "processed" and any(pp.status == "published" for pp in post.platform_posts):
        _edit_published(ctx, post, spec)
    elif _editable_in_full(post, ctx.now):
        _edit_unpublished(ctx, post, spec)
    else:
        raise invalid("Post cannot be edited")
    return 200, post_json(ctx.state, post, ctx.now)


def _edit_published(ctx: RequestContext, post: PostRecord, spec: PostInput) -> None:
    problems = [f"{name} cannot be changed on a published post" for name in spec.touched if name not in ("body", "platforms")]
    if spec.has("platforms"):
        for network, params in spec.platforms.items():
            for key in params:
                if (network, key) not in PUBLISHED_EDITABLE:
                    problems.append(f"platforms.{network}.{key} cannot be changed on a published post")
    if problems:
        raise invalid(*problems)
    if spec.has("body"):
        targets = [pp.platform for pp in post.platform_posts if pp.status == "published"]
        problems = check_post_for_platforms(
            body=spec.body, media_count=len(post.media), thread=[], target_platforms=targets, platform_params={}
        )
        if problems:
            raise invalid(*problems)
        post.body = spec.body
    if spec.has("platforms"):
        for network, params in spec.platforms.items():
            post.platform_params.setdefault(network, {}).update(params)
    for platform_post in post.platform_posts:
        if platform_post.status == "published":
            events.emit(
                ctx.state,
                "platform_post.edited",
                events.platform_post_data(platform_post),
                group_id=post.group_id,
                order_key=post.id,
                now=ctx.now,
            )


def _edit_unpublished(ctx: RequestContext, post: PostRecord, spec: PostInput) -> None:
    state = ctx.state
    profiles = resolve_profiles(state, post.group_id, spec.profiles) if spec.has("profiles") else None
    merged_params = {network: dict(params) for network, params in post.platform_params.items()}
    if spec.has("platforms"):
        for network, params in spec.platforms.items():
            merged_params.setdefault(network, {}).update(params)
    body = spec.body if spec.has("body") else post.body
    media_items = spec.media if spec.has("media") else [{"url": m.source_url, "content_type": m.content_type} for m in post.media]
    thread_items = (
        spec.thread
        if spec.has("thread")
        else [{"body": t.body, "media": [{"url": m.source_url} for m in t.media]} for t in post.thread]
    )
    queue_id = spec.queue_id if spec.has("queue_id") else post.queue_id
    scheduled_at = spec.scheduled_at if spec.has("scheduled_at") else post.scheduled_at
    if spec.has("scheduled_at") and not spec.has("queue_id"):
        queue_id = None if scheduled_at is not None else queue_id
    if spec.has("queue_id") and queue_id is not None:
        scheduled_at = None
    _check_queue(ctx, post.group_id, queue_id)
    targets = [p.platform for p in profiles] if profiles is not None else [pp.platform for pp in post.platform_posts]
    problems = check_post_for_platforms(
        body=body, media_count=len(media_items), thread=thread_items, target_platforms=targets, platform_params=merged_params
    )
    if problems:
        raise invalid(*problems)

    old_queue_id = post.queue_id
    post.body = body
    post.platform_params = merged_params
    if spec.has("media"):
        post.media = build_media(state, spec.media)
    if spec.has("thread"):
        post.thread = build_thread(state, spec.thread)
    if profiles is not None:
        for platform_post in post.platform_posts:
            state.platform_posts.pop(platform_post.id, None)
        post.platform_posts = _platform_posts(ctx, post.id, profiles)
        post.profile_ids = [p.id for p in profiles]
        for platform_post in post.platform_posts:
            state.platform_posts[platform_post.id] = platform_post
    post.scheduled_at = scheduled_at
    post.queue_id = queue_id
    if queue_id is not None:
        post.queue_priority = spec.queue_priority if spec.has("queue_priority") else (post.queue_priority or "medium")
    else:
        post.queue_priority = None
    if old_queue_id is not None and old_queue_id in state.queues:
        old_queue = state.queues[old_queue_id]
        old_queue.post_ids.pop(post.id, None)
        publishing.rearrange_queue(state, old_queue, ctx.now)
    post.version += 1
    wants_draft = spec.draft if spec.has("draft") else post.draft
    if wants_draft:
        post.draft = True
        post.status = "draft"
    else:
        publishing.activate(state, post, ctx.now)


def publish_post(ctx: RequestContext) -> Reply:
    post = _visible_post(ctx)
    if post.status != "draft":
        raise invalid("Only draft posts can be published")
    publishing.publish_draft_now(ctx.state, post, ctx.now)
    return 200, post_json(ctx.state, post, ctx.now)


def _deletable_targets(post: PostRecord, body: dict[str, Any], *, strict: bool) -> list[PlatformPostRecord]:
    network = body.get("network")
    profile_id = body.get("profile_id")
    post_profile_id = body.get("post_profile_id")
    chosen = [
        pp
        for pp in post.platform_posts
        if (network is None or pp.platform == network)
        and (profile_id is None or pp.profile_id == profile_id)
        and (post_profile_id is None or pp.id == post_profile_id)
    ]
    if strict and (network or profile_id or post_profile_id):
        if not chosen:
            raise invalid("Nothing to delete for that target")
        blocked = sorted({pp.platform for pp in chosen if pp.platform in NO_API_DELETE})
        if blocked:
            raise invalid(f"{blocked[0]}: posts cannot be deleted through the API")
    return [pp for pp in chosen if pp.status == "published" and pp.platform not in NO_API_DELETE]


def delete_on_platform(ctx: RequestContext) -> Reply:
    post = _visible_post(ctx)
    targets = _deletable_targets(post, ctx.body, strict=True)
    for platform_post in targets:
        platform_post.status = "deleted"
    return 200, {"success": True, "deleting": [{"post_profile_id": pp.id, "platform": pp.platform} for pp in targets]}


def delete_post(ctx: RequestContext) -> Reply:
    post = _visible_post(ctx)
    raw_flag = ctx.query.get("delete_on_platform")
    if raw_flag is not None and as_bool(raw_flag, "delete_on_platform"):
        for platform_post in _deletable_targets(post, {}, strict=False):
            platform_post.status = "deleted"
    queue = ctx.state.queues.get(post.queue_id) if post.queue_id else None
    ctx.state.remove_post(post.id)
    if queue is not None:
        publishing.rearrange_queue(ctx.state, queue, ctx.now)
    return 200, {"deleted": True}


def _time_param(ctx: RequestContext, name: str) -> float | None:
    raw = ctx.query.get(name)
    if not raw:
        return None
    try:
        return parse_iso(raw)
    except ValueError as error:
        raise bad_request(f"{name} must be an ISO 8601 time") from error


def post_stats(ctx: RequestContext) -> Reply:
    state = ctx.state
    post_ids = [part.strip() for part in (ctx.query.get("post_ids") or "").split(",") if part.strip()]
    if not post_ids:
        raise bad_request("post_ids is required")
    if len(post_ids) > state.config.max_stats_post_ids:
        raise bad_request(f"At most {state.config.max_stats_post_ids} post_ids per request")
    profile_filter = {part.strip() for part in (ctx.query.get("profiles") or "").split(",") if part.strip()}
    since = _time_param(ctx, "from")
    until = _time_param(ctx, "to")
    data: dict[str, Any] = {}
    for post_id in dict.fromkeys(post_ids):
        post = state.posts.get(post_id)
        if post is None or not ctx.can_see(post.group_id):
            continue
        platforms = []
        for pp in post.platform_posts:
            if profile_filter and pp.profile_id not in profile_filter and pp.platform not in profile_filter:
                continue
            records: list[dict[str, Any]] = []
            if pp.published_at is not None and pp.status in ("published", "deleted"):
                records = records_for(
                    post_id=post.id,
                    profile_id=pp.profile_id,
                    platform=pp.platform,
                    published_at=pp.published_at,
                    now=ctx.now,
                    interval=state.config.stats_interval_seconds,
                    dense_records=state.config.stats_dense_records,
                    since=since,
                    until=until,
                )
            platforms.append({"profile_id": pp.profile_id, "platform": pp.platform, "records": records})
        data[post.id] = {"platforms": platforms}
    return 200, {"data": data}
