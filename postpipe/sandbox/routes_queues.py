"""Post queues: create, list, get, update, delete, next slot."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import publishing
from .clock import to_iso
from .context import RequestContext
from .errors import invalid, not_found
from .queue_slots import validate_timeslot
from .records import QueueRecord, TimeslotRecord
from .serializers import queue_json

Reply = tuple[int, Any]


def _json(ctx: RequestContext, queue: QueueRecord) -> dict[str, Any]:
    return queue_json(queue, sum(1 for pid in queue.post_ids if pid in ctx.state.posts))


def _visible_queue(ctx: RequestContext) -> QueueRecord:
    queue = ctx.state.queues.get(ctx.path("id"))
    if queue is None or not ctx.can_see(queue.group_id):
        raise not_found()
    return queue


def _check_timezone(name: Any, problems: list[str]) -> str | None:
    if not isinstance(name, str) or not name:
        problems.append("timezone must be an IANA time zone name")
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone is not a known IANA time zone: {name}")
        return None
    return name


def _check_jitter(value: Any, problems: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 60:
        problems.append("jitter must be an integer between 0 and 60 minutes")
        return None
    return value


def _normalized_time(text: str) -> str:
    hours, minutes = text.split(":")
    return f"{int(hours):02d}:{int(minutes):02d}"


def _apply_timeslots(ctx: RequestContext, queue: QueueRecord, entries: Any, problems: list[str]) -> list[TimeslotRecord] | None:
    if not isinstance(entries, list):
        problems.append("queue_timeslots_attributes must be a list")
        return None
    slots = list(queue.timeslots)
    for entry in entries:
        if not isinstance(entry, dict):
            problems.append("each timeslot must be an object")
            continue
        if entry.get("_destroy"):
            before = len(slots)
            slots = [slot for slot in slots if slot.id != entry.get("id")]
            if len(slots) == before:
                problems.append(f"timeslot not found: {entry.get('id')}")
            continue
        error = validate_timeslot(entry.get("day"), entry.get("time"))
        if error:
            problems.append(error)
            continue
        slots.append(TimeslotRecord(id=ctx.state.ids.next_timeslot_id(), day=entry["day"], time=_normalized_time(entry["time"])))
    return slots


def list_queues(ctx: RequestContext) -> Reply:
    group_id = ctx.group_context()
    queues = [ctx.state.queues[qid] for qid in ctx.state.queues_by_group.get(group_id, {})]
    return 200, {"data": [_json(ctx, q) for q in queues]}


def get_queue(ctx: RequestContext) -> Reply:
    return 200, _json(ctx, _visible_queue(ctx))


def create_queue(ctx: RequestContext) -> Reply:
    group_id = ctx.group_context(ctx.body.get("profile_group_id") or None)
    attrs = ctx.body.get("post_queue")
    if not isinstance(attrs, dict):
        raise invalid("post_queue can't be blank")
    problems: list[str] = []
    name = attrs.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("Name can't be blank")
    timezone = _check_timezone(attrs.get("timezone", "UTC"), problems)
    jitter = _check_jitter(attrs.get("jitter", 0), problems)
    queue = QueueRecord(
        id=ctx.state.ids.new("queue"),
        group_id=group_id,
        name=str(name).strip() if isinstance(name, str) else "",
        description=attrs.get("description"),
        timezone=timezone or "UTC",
        enabled=True,
        jitter=jitter or 0,
        created_at=ctx.now,
    )
    slots = _apply_timeslots(ctx, queue, attrs.get("queue_timeslots_attributes", []), problems)
    if problems:
        raise invalid(*problems)
    queue.timeslots = slots or []
    if "enabled" in attrs:
        queue.enabled = bool(attrs["enabled"])
    ctx.state.add_queue(queue)
    return 201, _json(ctx, queue)


def update_queue(ctx: RequestContext) -> Reply:
    queue = _visible_queue(ctx)
    attrs = ctx.body.get("post_queue")
    if not isinstance(attrs, dict):
        raise invalid("post_queue can't be blank")
    problems: list[str] = []
    timezone = _check_timezone(attrs["timezone"], problems) if "timezone" in attrs else queue.timezone
    jitter = _check_jitter(attrs["jitter"], problems) if "jitter" in attrs else queue.jitter
    name = attrs.get("name", queue.name)
    if not isinstance(name, str) or not name.strip():
        problems.append("Name can't be blank")
    slots = _apply_timeslots(ctx, queue, attrs["queue_timeslots_attributes"], problems) if "queue_timeslots_attributes" in attrs else queue.timeslots
    enabled = attrs.get("enabled", queue.enabled)
    if not isinstance(enabled, bool):
        problems.append("enabled must be true or false")
    if problems:
        raise invalid(*problems)
    queue.name = str(name).strip()
    if "description" in attrs:
        queue.description = attrs["description"]
    queue.timezone = timezone or queue.timezone
    queue.jitter = jitter if jitter is not None else queue.jitter
    queue.timeslots = slots or []
    queue.enabled = bool(enabled)
    publishing.rearrange_queue(ctx.state, queue, ctx.now)
    return 200, _json(ctx, queue)


def delete_queue(ctx: RequestContext) -> Reply:
    queue = _visible_queue(ctx)
    ctx.state.remove_queue(queue.id)
    for post_id in queue.post_ids:
        post = ctx.state.posts.get(post_id)
        if post is None:
            continue
        post.queue_id = None
        post.queue_priority = None
        if post.scheduled_at is None:
            post.draft = True
            post.status = "draft"
            post.version += 1
        elif not queue.enabled:
            publishing.activate(ctx.state, post, ctx.now)
    return 200, {"deleted": True}


def next_slot(ctx: RequestContext) -> Reply:
    queue = _visible_queue(ctx)
    slot = publishing.next_free_slot(ctx.state, queue, ctx.now)
    if slot is None:
        raise invalid("Queue has no timeslots")
    return 200, {"next_slot": to_iso(slot)}
