"""The webhook envelope: ``{"id", "type", "created_at", "data": {...}}`` (Postproxy sends ``data`` flat)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class InvalidEnvelopeError(ValueError):
    """The body is not a Postproxy webhook envelope; the message names the bad field."""


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]
    raw: dict[str, Any]


def post_ref(event_type: str, data: dict[str, Any]) -> str | None:
    """The Postproxy post id an event is about: ``data.id`` of a ``post.*`` event, ``data.post_id`` of a
    ``platform_post.*`` or ``media.*`` event; None for any other event (a profile's, say)."""
    kind = event_type.split(".", 1)[0]
    value = data.get("id") if kind == "post" else data.get("post_id") if kind in ("platform_post", "media") else None
    return value if isinstance(value, str) and value else None


MAX_ID_LENGTH = 120
MAX_TYPE_LENGTH = 80


def parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise InvalidEnvelopeError(f"{field} must be an ISO 8601 time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEnvelopeError(f"{field} is not an ISO 8601 time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise InvalidEnvelopeError(f"{field} has no time zone: {value[:40]!r}")
    return moment.astimezone(UTC)


def parse_envelope(body: bytes) -> Envelope:
    """Parse and check the envelope; raises ``InvalidEnvelopeError`` naming the first bad field."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidEnvelopeError("body is not valid JSON") from None
    if not isinstance(raw, dict):
        raise InvalidEnvelopeError("body must be a JSON object")
    event_id = raw.get("id")
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_ID_LENGTH:
        raise InvalidEnvelopeError(f"id must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    event_type = raw.get("type")
    if not isinstance(event_type, str) or "." not in event_type or len(event_type) > MAX_TYPE_LENGTH:
        raise InvalidEnvelopeError("type must be an event type such as 'platform_post.published'")
    created_at = parse_time(raw.get("created_at"), "created_at")
    data = raw.get("data")
    if not isinstance(data, dict):
        raise InvalidEnvelopeError("data must be a JSON object")
    return Envelope(id=event_id, type=event_type, created_at=created_at, data=data, raw=raw)
