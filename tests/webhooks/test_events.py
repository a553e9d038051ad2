"""The Prefect event built for a stored webhook event names the Postproxy post it is about, and only that."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from postpipe.repositories.webhook_events import StoredEvent
from postpipe.webhooks.events import build_event


def _stored(event_type: str, data: dict[str, Any], profile_id: str | None = None) -> StoredEvent:
    now = datetime(2026, 9, 1, tzinfo=UTC)
    return StoredEvent(
        id=uuid.uuid4(), event_id="evt_1", type=event_type, payload={"type": event_type, "data": data},
        tenant_id=None, matched=False, post_id=None, account_id=None, profile_id=profile_id, occurred_at=now,
        received_at=now, applied_at=None, emitted_at=None, note=None,
    )


@pytest.mark.parametrize(
    ("event_type", "data", "profile_id", "resource", "post_ref"),
    [
        ("post.published", {"id": "p_1"}, None, "postproxy.post.p_1", "p_1"),
        ("platform_post.published", {"id": "pp_9", "post_id": "p_1", "profile_id": "prof_x"}, "prof_x",
         "postproxy.post.p_1", "p_1"),
        ("media.failed", {"id": "med_1", "post_id": "p_1"}, None, "postproxy.post.p_1", "p_1"),
        ("profile.disconnected", {"id": "prof_x"}, "prof_x", "postproxy.profile.prof_x", None),
        ("post.published", {}, None, "postproxy.event.evt_1", None),
    ],
)
def test_the_event_names_the_post_it_is_about(
    event_type: str, data: dict[str, Any], profile_id: str | None, resource: str, post_ref: str | None
) -> None:
    event = build_event(_stored(event_type, data, profile_id))
    assert event.resource.id == resource
    assert event.payload["postproxy_post_id"] == post_ref
