from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from postpipe.background import BackgroundFlow
from postpipe.background import wait_until_paused as _wait_until_paused
from postpipe.sandbox import SandboxServer
from postpipe.settings import reset_settings_cache
from postpipe.webhooks.server import ReceiverServer


@pytest.fixture
def receiver(pg_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReceiverServer]:
    """postpipe's webhook receiver on loopback (stores and applies; Prefect events are tested elsewhere)."""
    with ReceiverServer(database_url=pg_db, emit_events=False, secrets_ttl_seconds=0.0) as server:
        monkeypatch.setenv("POSTPIPE_WEBHOOK_PUBLIC_URL", server.url)
        yield server


@pytest.fixture
def world(receiver: ReceiverServer, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """Sandbox + receiver + the installation's webhook subscription; fast polling for tests."""
    from tasks.tenants import ensure_webhook_subscription

    monkeypatch.setenv("POSTPIPE_WEBHOOK_PUBLIC_URL", receiver.url)
    monkeypatch.setenv("POSTPIPE_APPROVAL_POLL_SECONDS", "0.5")
    monkeypatch.setenv("POSTPIPE_DELIVERY_POLL_SECONDS", "1")
    monkeypatch.setenv("POSTPIPE_DELIVERY_CONFIRM_SECONDS", "30")
    monkeypatch.setenv("POSTPIPE_POSTPROXY_RETRY_BASE_DELAY", "0.05")
    reset_settings_cache()
    asyncio.run(ensure_webhook_subscription.fn())
    return sandbox


FlowInThread = BackgroundFlow


def wait_until_paused(post_id: uuid.UUID, timeout: float = 30) -> uuid.UUID:
    return _wait_until_paused(post_id, timeout=timeout)


def wait_for(condition: Any, timeout: float = 20.0) -> None:
    """Poll ``condition`` until it holds (webhooks arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")
