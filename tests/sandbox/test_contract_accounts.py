"""Contract: profile groups, API keys, profiles and key scoping, through the official SDK only."""

from __future__ import annotations

import httpx
import pytest
from postproxy import AuthenticationError, NotFoundError, PostProxy, ValidationError

from postpipe.sandbox import SandboxServer

from .conftest import Tenant
from .helpers import connect_profile

pytestmark = pytest.mark.anyio


async def test_profile_group_lifecycle(account_client: PostProxy) -> None:
    created = await account_client.profile_groups.create("Client A")
    assert created.name == "Client A" and created.profiles_count == 0
    listed = await account_client.profile_groups.list()
    assert [g.id for g in listed.data] == [created.id]
    fetched = await account_client.profile_groups.get(created.id)
    assert fetched == created
    assert (await account_client.profile_groups.delete(created.id)).deleted is True
    with pytest.raises(NotFoundError):
        await account_client.profile_groups.get(created.id)


async def test_group_with_profiles_cannot_be_deleted(account_client: PostProxy) -> None:
    group = await account_client.profile_groups.create("Busy")
    await connect_profile(account_client, group.id, "linkedin")
    assert (await account_client.profile_groups.get(group.id)).profiles_count == 1
    with pytest.raises(ValidationError):
        await account_client.profile_groups.delete(group.id)


async def test_blank_group_name_is_422_with_both_error_shapes(account_client: PostProxy) -> None:
    with pytest.raises(ValidationError) as caught:
        await account_client.profile_groups.create("  ")
    assert caught.value.status_code == 422
    assert caught.value.response is not None
    assert caught.value.response["error"] == "Name can't be blank"
    assert caught.value.response["errors"] == ["Name can't be blank"]


async def test_api_keys_token_shown_once_and_revocation_is_immediate(account_client: PostProxy, sandbox: SandboxServer) -> None:
    group = await account_client.profile_groups.create("G")
    key = await account_client.api_keys.create("ci", group.id)
    assert key.token and key.profile_group_id == group.id
    listed = await account_client.api_keys.list()
    assert [(k.id, k.token) for k in listed.data] == [(key.id, None)]
    async with PostProxy(key.token, base_url=sandbox.base_url) as scoped:
        assert [g.id for g in (await scoped.profile_groups.list()).data] == [group.id]
        assert (await account_client.api_keys.delete(key.id)).deleted is True
        with pytest.raises(AuthenticationError):
            await scoped.profile_groups.list()
    with pytest.raises(NotFoundError):
        await account_client.api_keys.delete(key.id)


async def test_unknown_key_is_401(sandbox: SandboxServer) -> None:
    async with PostProxy("not-a-key", base_url=sandbox.base_url) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.posts.list()
    assert caught.value.status_code == 401


async def test_scoped_key_sees_only_its_group(account_client: PostProxy, tenant: Tenant, sandbox: SandboxServer) -> None:
    other = await account_client.profile_groups.create("Tenant B")
    other_profile = await connect_profile(account_client, other.id, "twitter")
    other_post = await account_client.posts.create("B's news", [other_profile], profile_group_id=other.id)

    scoped = tenant.client
    assert [g.id for g in (await scoped.profile_groups.list()).data] == [tenant.group_id]
    assert {p.profile_group_id for p in (await scoped.profiles.list()).data} == {tenant.group_id}
    for call in (
        scoped.profile_groups.get(other.id),
        scoped.posts.get(other_post.id),
        scoped.profiles.get(other_profile),
        scoped.posts.list(profile_group_id=other.id),
    ):
        with pytest.raises(NotFoundError):
            await call
    with pytest.raises(ValidationError):  # another group's profile id does not resolve inside this group
        await scoped.posts.create("sneaky", [other_profile])
    stats = await scoped.posts.stats([other_post.id])
    assert stats.data == {}


async def test_scoped_key_refused_on_account_only_endpoints(tenant: Tenant) -> None:
    scoped = tenant.client
    for call in (
        scoped.api_keys.list(),
        scoped.api_keys.create("x", tenant.group_id),
        scoped.api_keys.delete(tenant.key_id),
        scoped.profile_groups.create("nope"),
        scoped.profile_groups.delete(tenant.group_id),
    ):
        with pytest.raises(AuthenticationError) as caught:
            await call
        assert caught.value.status_code == 401


async def test_profile_group_id_param_is_tolerated_everywhere(account_client: PostProxy, sandbox: SandboxServer) -> None:
    group = await account_client.profile_groups.create("Default")
    async with PostProxy(sandbox.account_key, base_url=sandbox.base_url, profile_group_id=group.id) as client:
        assert len((await client.profile_groups.list()).data) == 1
        assert (await client.api_keys.list()).data == []
        assert (await client.webhooks.list()).data == []
        assert (await client.queues.list()).data == []
        assert (await client.posts.list()).total == 0
        key = await client.api_keys.create("k", group.id)
        assert (await client.api_keys.delete(key.id)).deleted


async def test_profiles_get_list_delete_and_connection_flow(account_client: PostProxy, sandbox: SandboxServer) -> None:
    group = await account_client.profile_groups.create("G")
    connection = await account_client.profile_groups.initialize_connection(group.id, "youtube", "https://app.example/cb?x=1")
    assert connection.success and connection.url.startswith(sandbox.base_url + "/sandbox/connect/")
    async with httpx.AsyncClient() as browser:
        first = await browser.get(connection.url, follow_redirects=False)
        again = await browser.get(connection.url, follow_redirects=False)
    assert first.status_code == 302
    location = httpx.URL(first.headers["location"])
    assert location.host == "app.example" and location.params["x"] == "1" and location.params["platform"] == "youtube"
    assert again.status_code == 404  # a connect link works once
    profile_id = location.params["profile_id"]
    profile = await account_client.profiles.get(profile_id)
    assert (profile.platform, profile.status, profile.profile_group_id) == ("youtube", "active", group.id)
    assert [p.id for p in (await account_client.profiles.list()).data] == [profile_id]

    # refresh_connection re-activates the existing profile instead of adding one
    assert sandbox.state.profiles[profile_id].status == "active"
    from .helpers import control

    assert control(sandbox, "POST", f"/sandbox/profiles/{profile_id}/expire").status_code == 200
    assert (await account_client.profiles.get(profile_id)).status == "expired"
    refresh = await account_client.profile_groups.initialize_connection(group.id, "youtube", refresh_connection=True)
    async with httpx.AsyncClient() as browser:
        page = await browser.get(refresh.url)
    assert page.status_code == 200
    assert (await account_client.profiles.get(profile_id)).status == "active"
    assert len((await account_client.profiles.list()).data) == 1

    assert (await account_client.profiles.delete(profile_id)).success is True
    with pytest.raises(NotFoundError):
        await account_client.profiles.get(profile_id)


async def test_bluesky_connects_synchronously(account_client: PostProxy) -> None:
    group = await account_client.profile_groups.create("G")
    connected = await account_client.profile_groups.connect_bluesky(group.id, identifier="acme.bsky.social", app_password="abcd-efgh")
    assert connected.success and connected.profile.network == "bluesky"
    assert connected.profile.external_username == "acme.bsky.social"
    with pytest.raises(ValidationError):
        await account_client.profile_groups.initialize_connection(group.id, "myspace")  # type: ignore[arg-type]


async def test_account_key_posts_into_the_group_of_the_listed_profile(account_client: PostProxy) -> None:
    first = await account_client.profile_groups.create("First")
    second = await account_client.profile_groups.create("Second")
    await connect_profile(account_client, first.id, "twitter")
    target = await connect_profile(account_client, second.id, "twitter")
    post = await account_client.posts.create("for the second group", [target])
    assert post.platforms[0].profile_id == target
    assert [p.id for p in (await account_client.posts.list(profile_group_id=second.id)).data] == [post.id]
    assert (await account_client.posts.list()).total == 0  # no profile_group_id: the first group
    with pytest.raises(NotFoundError):
        await account_client.posts.get(post.id, profile_group_id=first.id)
