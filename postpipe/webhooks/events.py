"""Turning stored webhook events into Prefect events, and sending them.

Event name ``postproxy.<event type>``; the resource is what the event is about (``postproxy.post.<id>`` for post
and platform_post events, ``postproxy.profile.<id>`` for profile events); related resources name the tenant
(role ``tenant``), postpipe's post and account, and the Postproxy profile. The Prefect event id is derived from
the webhook id, so a re-emission after a partial failure carries the same id.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from prefect.events import Event
from prefect.events.clients import PrefectEventsClient

from postpipe.repositories.webhook_events import StoredEvent
from postpipe.webhooks.envelope import post_ref

log = logging.getLogger(__name__)

PAYLOAD_FIELDS = ("platform", "status", "error", "platform_id", "permalink", "profile_group_id", "origin", "name")


def prefect_event_id(webhook_event_id: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"postproxy-webhook:{webhook_event_id}")


def _primary_resource(stored: StoredEvent) -> tuple[str, str]:
    data, kind = stored.data, stored.type.split(".", 1)[0]
    if kind == "profile" and stored.profile_id:
        return f"postproxy.profile.{stored.profile_id}", str(data.get("name") or stored.profile_id)
    ref = post_ref(stored.type, data)
    if ref is not None:
        return f"postproxy.post.{ref}", ref
    return f"postproxy.event.{stored.event_id}", stored.event_id


def build_event(stored: StoredEvent) -> Event:
    """The Prefect event for a stored webhook event."""
    resource_id, resource_name = _primary_resource(stored)
    resource = {
        "prefect.resource.id": resource_id,
        "prefect.resource.name": resource_name,
        "postproxy.event-id": stored.event_id,
    }
    if stored.tenant_id is not None:
        resource["postpipe.tenant"] = str(stored.tenant_id)
    related: list[dict[str, str]] = []
    if stored.tenant_id is not None:
        related.append({"prefect.resource.id": f"postpipe.tenant.{stored.tenant_id}", "prefect.resource.role": "tenant"})
    if stored.post_id is not None:
        related.append({"prefect.resource.id": f"postpipe.post.{stored.post_id}", "prefect.resource.role": "post"})
    if stored.account_id is not None:
        related.append(
            {"prefect.resource.id": f"postpipe.account.{stored.account_id}", "prefect.resource.role": "account"}
        )
    if stored.profile_id and not resource_id.startswith("postproxy.profile."):
        related.append({"prefect.resource.id": f"postproxy.profile.{stored.profile_id}", "prefect.resource.role": "profile"})
    data = stored.data
    payload: dict[str, Any] = {
        "event_id": stored.event_id,
        "type": stored.type,
        "tenant_id": str(stored.tenant_id) if stored.tenant_id else None,
        "post_id": str(stored.post_id) if stored.post_id else None,
        "account_id": str(stored.account_id) if stored.account_id else None,
        "profile_id": stored.profile_id,
        "postproxy_post_id": post_ref(stored.type, data),
        "matched": stored.matched,
    }
    payload.update({k: data[k] for k in PAYLOAD_FIELDS if k in data})
    kwargs: dict[str, Any] = {}
    if stored.occurred_at is not None:
        kwargs["occurred"] = stored.occurred_at
    return Event(
        event=f"postproxy.{stored.type}", resource=resource, related=related, payload=payload,
        id=prefect_event_id(stored.event_id), **kwargs,
    )


class EmissionError(RuntimeError):
    """Prefect could not be reached; the events stay unemitted for the reconcile flow."""


class PrefectEventSink:
    """One long-lived websocket to Prefect's events API; each batch is confirmed (ping/pong) before it counts.

    ``api_url=None`` reads ``PREFECT_API_URL`` when first used. After a failure the sink stays quiet for
    ``retry_after_seconds`` (events meanwhile stay unemitted) instead of hammering a down server.
    """

    def __init__(self, api_url: str | None = None, *, retry_after_seconds: float = 5.0) -> None:
        self._api_url = api_url
        self._client: PrefectEventsClient | None = None
        self._lock = asyncio.Lock()
        self._quiet_until = 0.0
        self._retry_after = retry_after_seconds

    def _resolve_url(self) -> str | None:
        if self._api_url:
            return self._api_url
        from prefect.settings import PREFECT_API_URL

        return PREFECT_API_URL.value() or None

    @property
    def configured(self) -> bool:
        return self._resolve_url() is not None

    async def _connect(self) -> PrefectEventsClient:
        if self._client is None:
            url = self._resolve_url()
            if url is None:
                raise EmissionError("no Prefect API URL is configured (PREFECT_API_URL)")
            client = PrefectEventsClient(api_url=url, reconnection_attempts=1, checkpoint_every=10_000)
            await client.__aenter__()
            self._client = client
        return self._client

    async def emit(self, events: Sequence[Event]) -> None:
        """Send the events and wait until Prefect has received them all; raises ``EmissionError``."""
        if not events:
            return
        async with self._lock:
            if time.monotonic() < self._quiet_until:
                raise EmissionError("Prefect was unreachable moments ago; not retrying yet")
            try:
                client = await self._connect()
                for event in events:
                    await client.emit(event)
                websocket = client._websocket  # confirm receipt: a pong follows every message sent before it
                if websocket is None:
                    raise EmissionError("the Prefect events websocket closed")
                await asyncio.wait_for(await websocket.ping(), timeout=10)
            except EmissionError:
                await self._drop()
                raise
            except Exception as exc:  # any transport failure: the caller leaves the rows unemitted
                await self._drop()
                raise EmissionError(f"cannot send events to Prefect: {type(exc).__name__}: {exc}") from exc

    async def _drop(self) -> None:
        self._quiet_until = time.monotonic() + self._retry_after
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.__aexit__(None, None, None)
            except Exception:  # closing a broken socket can fail too; nothing to do
                log.debug("closing the Prefect events client failed", exc_info=True)

    async def aclose(self) -> None:
        async with self._lock:
            client, self._client = self._client, None
            if client is not None:
                await client.__aexit__(None, None, None)


async def emit_stored(
    sink: PrefectEventSink,
    stored: Sequence[StoredEvent],
    mark_emitted: Callable[[list[uuid.UUID]], Any],
) -> int:
    """Emit matched events and mark them emitted (``mark_emitted`` is called in a worker thread); returns how many."""
    wanted = [s for s in stored if s.matched]
    if not wanted:
        return 0
    await sink.emit([build_event(s) for s in wanted])
    ids = [s.id for s in wanted]
    await asyncio.to_thread(mark_emitted, ids)
    return len(ids)
