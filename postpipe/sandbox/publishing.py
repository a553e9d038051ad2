"""The asynchronous life of a post, driven by sandbox-clock timers.

pending -> processing -> processed for the post; per platform post pending -> processing ->
published | failed, with an optional failed (waiting for retry) -> processing -> ... detour.
"""

from __future__ import annotations

import hashlib

from . import events
from .platforms import permalink
from .queue_slots import PRIORITY_RANK, jitter_seconds, slot_times
from .records import PlatformPostRecord, PostRecord, QueueRecord
from .state import SandboxState
from .stats import METRICS, final_values, metric_values

FINAL_PLATFORM_STATUSES = frozenset({"published", "failed", "deleted"})


def activate(state: SandboxState, post: PostRecord, now: float) -> None:
    """Put a non-draft post on its way: into its queue, onto its schedule, or straight to publishing."""
    post.draft = False
    post.version += 1
    if post.queue_id is not None and post.queue_id in state.queues:
        queue = state.queues[post.queue_id]
        post.status = "scheduled"
        queue.post_ids[post.id] = None
        rearrange_queue(state, queue, now)
    elif post.scheduled_at is not None and post.scheduled_at > now:
        post.status = "scheduled"
        state.timers.schedule(post.scheduled_at, _start, post.id, post.version)
    else:
        _start(state, now, post.id, post.version)


def publish_draft_now(state: SandboxState, post: PostRecord, now: float) -> None:
    """``POST /posts/{id}/publish``: a draft goes out at once (or onto its schedule / queue)."""
    if post.queue_id is None and (post.scheduled_at is None or post.scheduled_at <= now):
        post.draft = False
        post.version += 1
        _begin_processing(state, post, now)
    else:
        activate(state, post, now)


def rearrange_queue(state: SandboxState, queue: QueueRecord, now: float) -> None:
    """Hand the queue's waiting posts the next free slots: high priority first, then oldest first."""
    waiting = [state.posts[pid] for pid in queue.post_ids if pid in state.posts]
    waiting.sort(key=lambda post: (PRIORITY_RANK.get(post.queue_priority or "medium", 1), post.seq))
    slots = slot_times(queue, now)
    seed = state.config.seed or 0
    for post in waiting:
        post.version += 1
        slot = next(slots, None)
        if slot is None:
            post.scheduled_at = None
            continue
        post.scheduled_at = max(slot + jitter_seconds(queue, post.id, seed), now + 1.0)
        if queue.enabled:
            state.timers.schedule(post.scheduled_at, _start, post.id, post.version)


def next_free_slot(state: SandboxState, queue: QueueRecord, now: float) -> float | None:
    """The first slot (without jitter) not taken by a post already waiting in the queue."""
    taken = sum(1 for pid in queue.post_ids if pid in state.posts)
    for index, slot in enumerate(slot_times(queue, now)):
        if index == taken:
            return slot
    return None


def _current(state: SandboxState, post_id: str, version: int) -> PostRecord | None:
    post = state.posts.get(post_id)
    if post is None or post.version != version:
        return None
    return post


def _start(state: SandboxState, now: float, post_id: str, version: int) -> None:
    post = _current(state, post_id, version)
    if post is None:
        return
    if post.queue_id is not None:
        queue = state.queues.get(post.queue_id)
        if queue is not None and not queue.enabled:
            return  # paused: stays scheduled until the queue is enabled again
        if queue is not None:
            queue.post_ids.pop(post.id, None)
    post.status = "pending"
    for platform_post in post.platform_posts:
        platform_post.status = "pending"
    state.timers.schedule(now + state.config.pending_seconds, _processing, post.id, post.version)


def _processing(state: SandboxState, now: float, post_id: str, version: int) -> None:
    post = _current(state, post_id, version)
    if post is not None:
        _begin_processing(state, post, now)


def _begin_processing(state: SandboxState, post: PostRecord, now: float) -> None:
    if post.queue_id is not None and post.queue_id in state.queues:
        state.queues[post.queue_id].post_ids.pop(post.id, None)
    post.status = "processing"
    for platform_post in post.platform_posts:
        platform_post.status = "processing"
        platform_post.attempted_at = now
        state.timers.schedule(now + state.config.processing_seconds, _outcome, platform_post.id, post.version)
    if not post.platform_posts:
        _complete_if_done(state, post, now)


def _outcome(state: SandboxState, now: float, platform_post_id: str, version: int) -> None:
    platform_post = state.platform_posts.get(platform_post_id)
    if platform_post is None:
        return
    post = _current(state, platform_post.post_id, version)
    if post is None or platform_post.status != "processing":
        return
    platform_post.attempts += 1
    profile = state.profiles.get(platform_post.profile_id)
    if profile is None or profile.status != "active":
        state_text = "deleted" if profile is None else profile.status
        _fail(state, post, platform_post, f"Profile is {state_text}; reconnect it to publish", "profile_not_active", now)
        return
    fault = state.faults.take_platform_fault(
        platform_post.platform, platform_post.profile_id, first_attempt=platform_post.attempts == 1
    )
    if fault is not None and fault.mode == "fail":
        _fail(state, post, platform_post, fault.error, "sandbox_fault", now)
    elif fault is not None:
        _fail_for_retry(state, post, platform_post, fault.error, now)
    else:
        _publish(state, post, platform_post, now)


def _error_details(message: str, code: str) -> dict[str, str | None]:
    return {
        "platform_error_code": code,
        "platform_error_subcode": None,
        "platform_error_message": message,
        "postproxy_note": "Injected by the Postproxy sandbox" if code == "sandbox_fault" else None,
    }


def _fail(state: SandboxState, post: PostRecord, platform_post: PlatformPostRecord, message: str, code: str, now: float) -> None:
    platform_post.status = "failed"
    platform_post.waiting_for_retry = False
    platform_post.error = message
    platform_post.error_details = _error_details(message, code)
    events.emit(
        state, "platform_post.failed", events.platform_post_data(platform_post), group_id=post.group_id, order_key=post.id, now=now
    )
    _complete_if_done(state, post, now)


def _fail_for_retry(state: SandboxState, post: PostRecord, platform_post: PlatformPostRecord, message: str, now: float) -> None:
    platform_post.status = "failed"
    platform_post.waiting_for_retry = True
    platform_post.error = message
    platform_post.error_details = _error_details(message, "sandbox_fault")
    events.emit(
        state,
        "platform_post.failed_waiting_for_retry",
        events.platform_post_data(platform_post),
        group_id=post.group_id,
        order_key=post.id,
        now=now,
    )
    state.timers.schedule(now + state.config.retry_seconds, _retry, platform_post.id, post.version)


def _retry(state: SandboxState, now: float, platform_post_id: str, version: int) -> None:
    platform_post = state.platform_posts.get(platform_post_id)
    if platform_post is None or _current(state, platform_post.post_id, version) is None:
        return
    platform_post.status = "processing"
    platform_post.waiting_for_retry = False
    platform_post.error = None
    platform_post.error_details = None
    platform_post.attempted_at = now
    state.timers.schedule(now + state.config.processing_seconds, _outcome, platform_post.id, version)


def platform_post_number(platform_post_id: str) -> str:
    """A stable, numeric id of the post on the network."""
    digest = hashlib.sha256(platform_post_id.encode()).digest()
    return str(10**18 + int.from_bytes(digest[:8], "big") % (9 * 10**18))


def mark_published(state: SandboxState, platform_post: PlatformPostRecord, now: float) -> None:
    """Record a successful publication (shared by the engine and the seeding endpoint)."""
    profile = state.profiles.get(platform_post.profile_id)
    username = profile.username if profile is not None else "sandbox"
    platform_post.status = "published"
    platform_post.waiting_for_retry = False
    platform_post.error = None
    platform_post.error_details = None
    platform_post.platform_post_id = platform_post_number(platform_post.id)
    platform_post.permalink = permalink(platform_post.platform, username, platform_post.platform_post_id)
    platform_post.published_at = now
    if platform_post.attempted_at is None:
        platform_post.attempted_at = now
    if profile is not None:
        profile.post_count += 1


def _publish(state: SandboxState, post: PostRecord, platform_post: PlatformPostRecord, now: float) -> None:
    mark_published(state, platform_post, now)
    events.emit(
        state, "platform_post.published", events.platform_post_data(platform_post), group_id=post.group_id, order_key=post.id, now=now
    )
    if METRICS.get(platform_post.platform):
        state.timers.schedule(now + state.config.stats_interval_seconds, _insights, platform_post.id, post.id)
    _complete_if_done(state, post, now)


def _insights(state: SandboxState, now: float, platform_post_id: str, post_id: str) -> None:
    platform_post = state.platform_posts.get(platform_post_id)
    post = state.posts.get(post_id)
    if platform_post is None or post is None or platform_post.published_at is None or platform_post.status != "published":
        return
    hours = (now - platform_post.published_at) / 3600.0
    finals = final_values(post.id, platform_post.profile_id, platform_post.platform)
    data = events.platform_post_data(platform_post)
    data["insights"] = metric_values(finals, hours)
    events.emit(state, "platform_post.insights", data, group_id=post.group_id, order_key=post.id, now=now)


def _complete_if_done(state: SandboxState, post: PostRecord, now: float) -> None:
    if post.status == "processed":
        return
    for platform_post in post.platform_posts:
        if platform_post.status not in FINAL_PLATFORM_STATUSES or platform_post.waiting_for_retry:
            return
    post.status = "processed"
    events.emit(state, "post.processed", events.post_processed_data(state, post), group_id=post.group_id, order_key=post.id, now=now)
