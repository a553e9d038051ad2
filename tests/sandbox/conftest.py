"""Fixtures: a fresh sandbox per test, SDK clients bound to it, a webhook listener."""

from __future__ import annotations

from typing import AsyncIterator, Iterator

import pytest
from postproxy import PostProxy

from postpipe.sandbox import SandboxServer

from .helpers import WebhookListener, close_client, connect_profile, sdk_client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
async def account_client(sandbox: SandboxServer) -> AsyncIterator[PostProxy]:
    client = sdk_client(sandbox.account_key, sandbox.base_url)
    yield client
    await close_client(client)


@pytest.fixture
async def tenant(account_client: PostProxy, sandbox: SandboxServer) -> AsyncIterator["Tenant"]:
    """A profile group with a scoped key, an SDK client on that key and twitter + instagram profiles."""
    group = await account_client.profile_groups.create("Tenant A")
    key = await account_client.api_keys.create("tenant-a", group.id)
    assert key.token is not None
    client = sdk_client(key.token, sandbox.base_url)
    twitter = await connect_profile(client, group.id, "twitter")
    instagram = await connect_profile(client, group.id, "instagram")
    yield Tenant(group_id=group.id, token=key.token, key_id=key.id, client=client, twitter=twitter, instagram=instagram)
    await close_client(client)


class Tenant:
    def __init__(self, *, group_id: str, token: str, key_id: str, client: PostProxy, twitter: str, instagram: str) -> None:
        self.group_id = group_id
        self.token = token
        self.key_id = key_id
        self.client = client
        self.twitter = twitter
        self.instagram = instagram


@pytest.fixture
def listener() -> Iterator[WebhookListener]:
    receiver = WebhookListener().start()
    yield receiver
    receiver.stop()
