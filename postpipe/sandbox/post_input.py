"""Reading the create/update post layout (``post`` wrapper plus top-level siblings) into checked values."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from typing import Any

from .clock import parse_iso
from .errors import bad_request, invalid
from .queue_slots import PRIORITY_RANK
from .records import MediaRecord, ProfileRecord, ThreadItemRecord
from .state import SandboxState
from .validation import check_platform_params

_UNSET: Any = object()


def as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise invalid(f"{name} must be true or false")


def guess_content_type(url: str) -> str:
    guessed = mimetypes.guess_type(url.split("?", 1)[0])[0]
    return guessed or "image/jpeg"


@dataclass
class PostInput:
    """Fields present in a request; absent ones keep the ``_UNSET`` marker (for PATCH)."""

    body: Any = _UNSET
    scheduled_at: Any = _UNSET
    draft: Any = _UNSET
    profiles: Any = _UNSET
    media: Any = _UNSET
    platforms: Any = _UNSET
    thread: Any = _UNSET
    queue_id: Any = _UNSET
    queue_priority: Any = _UNSET
    touched: list[str] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return getattr(self, name) is not _UNSET


def read_post_input(payload: dict[str, Any], *, creating: bool) -> PostInput:
    """Parse shapes and types; cross-object checks (profiles, queue, platform rules) come later."""
    result = PostInput()
    wrapper = payload.get("post")
    if wrapper is None and creating:
        raise bad_request("param is missing or the value is empty: post")
    if wrapper is not None and not isinstance(wrapper, dict):
        raise bad_request("post must be an object")
    wrapper = wrapper or {}
    problems: list[str] = []
    if "body" in wrapper:
        if not isinstance(wrapper["body"], str):
            problems.append("Body must be a string")
        else:
            result.body = wrapper["body"]
            result.touched.append("body")
    elif creating:
        problems.append("Body can't be blank")
    if "scheduled_at" in wrapper:
        raw = wrapper["scheduled_at"]
        try:
            result.scheduled_at = None if raw in (None, "") else parse_iso(str(raw))
            result.touched.append("scheduled_at")
        except ValueError:
            problems.append(f"scheduled_at is not a valid ISO 8601 time: {raw}")
    if "draft" in wrapper and wrapper["draft"] is not None:
        result.draft = as_bool(wrapper["draft"], "draft")
        result.touched.append("draft")
    if "profiles" in payload:
        profiles = payload["profiles"]
        if not isinstance(profiles, list) or not all(isinstance(p, str) for p in profiles):
            problems.append("profiles must be a list of profile ids or network names")
        else:
            result.profiles = profiles
            result.touched.append("profiles")
    elif creating:
        problems.append("profiles can't be blank")
    if "media" in payload:
        result.media = _read_media(payload["media"], "media", problems)
        result.touched.append("media")
    if "platforms" in payload:
        platforms = payload["platforms"]
        if not isinstance(platforms, dict):
            problems.append("platforms must be an object keyed by network")
        else:
            problems.extend(check_platform_params(platforms))
            result.platforms = platforms
            result.touched.append("platforms")
    if "thread" in payload:
        result.thread = _read_thread(payload["thread"], problems)
        result.touched.append("thread")
    if "queue_id" in payload:
        result.queue_id = payload["queue_id"] or None
        result.touched.append("queue_id")
    if "queue_priority" in payload and payload["queue_priority"] is not None:
        if payload["queue_priority"] not in PRIORITY_RANK:
            problems.append("queue_priority must be high, medium or low")
        else:
            result.queue_priority = payload["queue_priority"]
            result.touched.append("queue_priority")
    if problems:
        raise invalid(*problems)
    return result


def _read_media(value: Any, name: str, problems: list[str]) -> list[dict[str, str]]:
    if not isinstance(value, list):
        problems.append(f"{name} must be a list of URLs")
        return []
    items: list[dict[str, str]] = []
    for entry in value:
        if isinstance(entry, str) and entry:
            items.append({"url": entry, "content_type": guess_content_type(entry)})
        elif isinstance(entry, dict) and isinstance(entry.get("url"), str):
            items.append({"url": entry["url"], "content_type": guess_content_type(entry["url"])})
        elif isinstance(entry, dict) and isinstance(entry.get("upload"), str):
            items.append({"url": f"upload://{entry['upload']}", "content_type": str(entry.get("content_type") or "application/octet-stream")})
        else:
            problems.append(f"{name} entries must be URLs or objects with a url")
    return items


def _read_thread(value: Any, problems: list[str]) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        problems.append("thread must be a list of {body, media}")
        return []
    items: list[dict[str, Any]] = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict) or not isinstance(entry.get("body"), str):
            problems.append(f"thread[{index}].body can't be blank")
            continue
        items.append({"body": entry["body"], "media": _read_media(entry.get("media") or [], f"thread[{index}].media", problems)})
    return items


def resolve_profiles(state: SandboxState, group_id: str, entries: list[str]) -> list[ProfileRecord]:
    """Profile ids or network names ("the group's first connected profile of that network"); 422 for unknown ones."""
    resolved: dict[str, ProfileRecord] = {}
    problems: list[str] = []
    group_profiles = state.group_profiles(group_id)
    for entry in entries:
        profile = state.profiles.get(entry)
        if profile is None or profile.profile_group_id != group_id:
            candidates = [p for p in group_profiles if p.platform == entry]
            active = [p for p in candidates if p.status == "active"]
            profile = (active or candidates or [None])[0]
        if profile is None:
            problems.append(f"Profile not found for {entry}")
        else:
            resolved[profile.id] = profile
    if problems:
        raise invalid(*problems)
    if not resolved:
        raise invalid("profiles can't be blank")
    return list(resolved.values())


def build_media(state: SandboxState, items: list[dict[str, str]]) -> list[MediaRecord]:
    return [MediaRecord(id=state.ids.new("med"), source_url=i["url"], content_type=i["content_type"]) for i in items]


def build_thread(state: SandboxState, items: list[dict[str, Any]]) -> list[ThreadItemRecord]:
    return [
        ThreadItemRecord(id=state.ids.new("thr"), body=i["body"], media=build_media(state, i["media"])) for i in items
    ]

