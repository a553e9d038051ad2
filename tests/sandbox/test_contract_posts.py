"""Contract: posts (create/get/list/update/publish/delete), validation, duplicates, idempotency, errors."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from postproxy import (
    BadRequestError,
    ConflictError,
    InstagramParams,
    NotFoundError,
    PinterestParams,
    PlatformParams,
    PostProxy,
    ThreadChildInput,
    TwitterParams,
    ValidationError,
    YouTubeParams,
)

from postpipe.sandbox import SandboxServer

from .conftest import Tenant
from .helpers import connect_profile, control, wait_until

pytestmark = pytest.mark.anyio

IMAGE = "https://cdn.example.com/a.jpg"


async def test_publish_now_reaches_processed_within_seconds(tenant: Tenant) -> None:
    post = await tenant.client.posts.create(
        "Launch day!", [tenant.twitter, "instagram"], media=[IMAGE, {"url": "https://cdn.example.com/b.mp4"}]
    )
    assert post.status == "pending" and post.draft is False
    assert {p.platform: p.status for p in post.platforms} == {"twitter": "pending", "instagram": "pending"}
    assert [m.content_type for m in post.media] == ["image/jpeg", "video/mp4"]

    async def processed() -> bool:
        return (await tenant.client.posts.get(post.id)).status == "processed"

    await wait_until(processed, timeout=5)
    done = await tenant.client.posts.get(post.id)
    for result in done.platforms:
        assert result.status == "published" and result.permalink and result.attempted_at is not None


async def test_statuses_move_with_the_clock(tenant: Tenant, sandbox: SandboxServer) -> None:
    post = await tenant.client.posts.create("Step by step", [tenant.twitter])
    sandbox.advance(0.6)
    mid = await tenant.client.posts.get(post.id)
    assert mid.status == "processing" and mid.platforms[0].status == "processing"
    sandbox.advance(1.0)
    done = await tenant.client.posts.get(post.id)
    assert done.status == "processed" and done.platforms[0].status == "published"


async def test_list_pagination_is_zero_based_newest_first(tenant: Tenant) -> None:
    ids = [(await tenant.client.posts.create(f"post {i}", [tenant.twitter], draft=True)).id for i in range(5)]
    first = await tenant.client.posts.list(page=0, per_page=2)
    second = await tenant.client.posts.list(page=1, per_page=2)
    last = await tenant.client.posts.list(page=2, per_page=2)
    assert (first.total, first.page, first.per_page) == (5, 0, 2)
    assert [p.id for p in first.data + second.data + last.data] == list(reversed(ids))
    assert (await tenant.client.posts.list(page=3, per_page=2)).data == []
    assert (await tenant.client.posts.list()).per_page == 10


async def test_list_filters(tenant: Tenant, sandbox: SandboxServer) -> None:
    soon = sandbox.now() + timedelta(hours=2)
    later = sandbox.now() + timedelta(days=2)
    draft = await tenant.client.posts.create("draft", [tenant.twitter], draft=True)
    early = await tenant.client.posts.create("soon", [tenant.twitter], scheduled_at=soon)
    late = await tenant.client.posts.create("later", [tenant.instagram], media=[IMAGE], scheduled_at=later)
    assert {p.id for p in (await tenant.client.posts.list(status="draft")).data} == {draft.id}
    assert {p.id for p in (await tenant.client.posts.list(status="scheduled")).data} == {early.id, late.id}
    assert {p.id for p in (await tenant.client.posts.list(platforms=["instagram"])).data} == {late.id}
    assert {p.id for p in (await tenant.client.posts.list(scheduled_after=soon + timedelta(hours=1))).data} == {late.id}


async def test_scheduled_post_publishes_when_clock_reaches_it(tenant: Tenant, sandbox: SandboxServer) -> None:
    when = sandbox.now() + timedelta(hours=3)
    post = await tenant.client.posts.create("Later", [tenant.twitter], scheduled_at=when)
    assert post.status == "scheduled" and post.scheduled_at == when.replace(microsecond=when.microsecond // 1000 * 1000)
    sandbox.advance(3 * 3600 - 60)
    assert (await tenant.client.posts.get(post.id)).status == "scheduled"
    sandbox.advance(62)
    done = await tenant.client.posts.get(post.id)
    assert done.status == "processed" and done.platforms[0].status == "published"
    assert done.platforms[0].attempted_at is not None and done.platforms[0].attempted_at >= when


async def test_draft_update_and_publish(tenant: Tenant, sandbox: SandboxServer) -> None:
    draft = await tenant.client.posts.create("first text", [tenant.twitter], draft=True)
    assert draft.status == "draft" and draft.draft is True
    edited = await tenant.client.posts.update(
        draft.id, body="second text", profiles=[tenant.twitter, tenant.instagram], media=[IMAGE],
        platforms=PlatformParams(instagram=InstagramParams(first_comment="more")),
    )
    assert edited.body == "second text" and {p.platform for p in edited.platforms} == {"twitter", "instagram"}
    assert edited.status == "draft"
    published = await tenant.client.posts.publish_draft(draft.id)
    assert published.status == "processing"
    with pytest.raises(ValidationError):
        await tenant.client.posts.publish_draft(draft.id)
    sandbox.advance(2)
    assert (await tenant.client.posts.get(draft.id)).status == "processed"


async def test_published_post_allows_only_limited_edits(tenant: Tenant, sandbox: SandboxServer) -> None:
    post = await tenant.client.posts.create("original", [tenant.twitter])
    with pytest.raises(ValidationError, match="cannot be edited"):
        await tenant.client.posts.update(post.id, body="too early")
    sandbox.advance(2)
    edited = await tenant.client.posts.update(post.id, body="typo fixed")
    assert edited.body == "typo fixed"
    with pytest.raises(ValidationError):
        await tenant.client.posts.update(post.id, media=[IMAGE])
    with pytest.raises(ValidationError):
        await tenant.client.posts.update(post.id, platforms=PlatformParams(twitter=TwitterParams(format="poll")))


async def test_delete_and_delete_on_platform(tenant: Tenant, sandbox: SandboxServer) -> None:
    post = await tenant.client.posts.create("bye", [tenant.twitter, tenant.instagram], media=[IMAGE])
    sandbox.advance(2)
    with pytest.raises(ValidationError):  # instagram cannot delete through the API
        await tenant.client.posts.delete_on_platform(post.id, network="instagram")
    deleting = await tenant.client.posts.delete_on_platform(post.id)
    assert [(d.platform, d.post_profile_id.startswith("pp_")) for d in deleting.deleting] == [("twitter", True)]
    statuses = {p.platform: p.status for p in (await tenant.client.posts.get(post.id)).platforms}
    assert statuses == {"twitter": "deleted", "instagram": "published"}
    assert (await tenant.client.posts.delete(post.id, delete_on_platform=True)).deleted is True
    with pytest.raises(NotFoundError):
        await tenant.client.posts.get(post.id)


@pytest.mark.parametrize(
    ("profiles", "kwargs", "expected"),
    [
        (["twitter"], {"body": "x" * 281}, "twitter: body is too long"),
        (["instagram"], {"body": "no media"}, "instagram: media is required"),
        (["instagram"], {"body": "c" * 2201, "media": [IMAGE]}, "instagram: caption is too long"),
        (
            ["instagram"],
            {"body": "ok", "media": [IMAGE], "platforms": PlatformParams(instagram=InstagramParams(first_comment="f" * 2197))},
            "instagram: first_comment is too long",
        ),
        (["youtube"], {"body": "video", "media": ["https://cdn.example.com/v.mp4"]}, "youtube: title is required"),
        (
            ["youtube"],
            {"body": "d" * 5001, "media": [IMAGE], "platforms": PlatformParams(youtube=YouTubeParams(title="t"))},
            "youtube: description is too long",
        ),
        (["pinterest"], {"body": "pin", "media": [IMAGE], "platforms": PlatformParams(pinterest=PinterestParams(title="t"))}, "pinterest: board_id is required"),
        (["pinterest"], {"body": "p" * 501, "media": [IMAGE], "platforms": PlatformParams(pinterest=PinterestParams(board_id="b"))}, "pinterest: body is too long"),
        (["threads"], {"body": "t" * 501}, "threads: body is too long"),
        (["bluesky"], {"body": "b" * 301}, "bluesky: body is too long"),
        (["linkedin"], {"body": "l" * 3001}, "linkedin: body is too long"),
        (["tiktok"], {"body": "t", "media": [IMAGE], "platforms": None}, None),
        (["tiktok"], {"body": "t" * 2201, "media": [IMAGE]}, "tiktok: body is too long"),
        (["facebook"], {"body": "f" * 63207}, "facebook: body is too long"),
        (["linkedin"], {"body": "thread", "thread": [ThreadChildInput(body="2/")]}, "linkedin: thread is not supported"),
        (["twitter"], {"body": "1/", "thread": [ThreadChildInput(body="y" * 281)]}, "twitter: thread[0].body is too long"),
    ],
)
async def test_platform_validation(
    account_client: PostProxy, sandbox: SandboxServer, profiles: list[str], kwargs: dict, expected: str | None
) -> None:
    group = await account_client.profile_groups.create("V")
    for platform in profiles:
        if platform == "bluesky":
            await account_client.profile_groups.connect_bluesky(group.id, identifier="v.bsky.social", app_password="pw")
        else:
            await connect_profile(account_client, group.id, platform)
    kwargs = dict(kwargs)
    body = kwargs.pop("body")
    if expected is None:
        post = await account_client.posts.create(body, profiles, **kwargs)
        assert post.status == "pending"
        return
    with pytest.raises(ValidationError) as caught:
        await account_client.posts.create(body, profiles, **kwargs)
    assert expected in str(caught.value)
    assert caught.value.response is not None and any(expected in e for e in caught.value.response["errors"])


async def test_unknown_platform_param_key_is_422(tenant: Tenant) -> None:
    with pytest.raises(ValidationError) as caught:
        await tenant.client._request(  # raw layout: the SDK's typed params cannot express a bad key
            "POST", "/posts", json={"post": {"body": "x"}, "profiles": [tenant.twitter], "platforms": {"twitter": {"colour": "red"}}}
        )
    assert str(caught.value) == "Invalid platform params for twitter: colour"


async def test_unknown_profile_is_422(tenant: Tenant) -> None:
    with pytest.raises(ValidationError, match="Profile not found for linkedin"):
        await tenant.client.posts.create("x", ["linkedin"])


async def test_duplicate_post_is_409_unless_skipped(tenant: Tenant, sandbox: SandboxServer) -> None:
    first = await tenant.client.posts.create("Same words", [tenant.twitter], media=[IMAGE])
    with pytest.raises(ConflictError) as caught:
        await tenant.client.posts.create("Same words", [tenant.twitter], media=[IMAGE])
    assert caught.value.status_code == 409
    assert caught.value.response == {"error": "Duplicate post", "duplicate_post_id": first.id}
    other_media = await tenant.client.posts.create("Same words", [tenant.twitter], media=["https://cdn.example.com/z.jpg"])
    assert other_media.id != first.id
    forced = await tenant.client.posts.create("Same words", [tenant.twitter], media=[IMAGE], skip_duplicate_check=True)
    assert forced.id != first.id
    # drafts are neither checked nor matched
    draft_a = await tenant.client.posts.create("Draft words", [tenant.twitter], draft=True)
    draft_b = await tenant.client.posts.create("Draft words", [tenant.twitter], draft=True)
    assert draft_a.id != draft_b.id
    sandbox.advance(601)  # outside the 10-minute window the same post is accepted again
    again = await tenant.client.posts.create("Same words", [tenant.twitter], media=[IMAGE])
    assert again.id not in {first.id, forced.id}


async def test_idempotent_replay_mismatch_and_errors_not_stored(tenant: Tenant, sandbox: SandboxServer) -> None:
    client = tenant.client
    first = await client.posts.create("Once only", [tenant.twitter], idempotency_key="post:1:create")
    replay = await client.posts.create("Once only", [tenant.twitter], idempotency_key="post:1:create")
    assert replay.id == first.id and replay.status == first.status == "pending"
    assert len(sandbox.state.posts) == 1
    with pytest.raises(ValidationError, match="Idempotency-Key"):
        await client.posts.create("Another body", [tenant.twitter], idempotency_key="post:1:create")
    with pytest.raises(ValidationError):
        await client.posts.create("x" * 300, [tenant.twitter], idempotency_key="post:2:create")
    fixed = await client.posts.create("fixed text", [tenant.twitter], idempotency_key="post:2:create")
    assert fixed.body == "fixed text"
    group = await client.profile_groups.get(tenant.group_id)
    assert group.id == tenant.group_id


async def test_idempotency_key_in_flight_is_409(tenant: Tenant, sandbox: SandboxServer) -> None:
    assert control(sandbox, "POST", "/sandbox/faults", {"scope": "api", "status": None, "count": 1, "path_prefix": "/api/posts", "delay_ms": 1000}).status_code == 201
    slow = asyncio.ensure_future(tenant.client.posts.create("slow", [tenant.twitter], idempotency_key="k-slow"))
    await wait_until(lambda: len(sandbox.state.idempotency) == 1, timeout=2, interval=0.01)  # the first one is in flight
    with pytest.raises(ConflictError, match="still being processed"):
        await tenant.client.posts.create("slow", [tenant.twitter], idempotency_key="k-slow")
    created = await slow
    assert (await tenant.client.posts.create("slow", [tenant.twitter], idempotency_key="k-slow")).id == created.id


async def test_not_found_and_bad_request_mapping(tenant: Tenant) -> None:
    with pytest.raises(NotFoundError) as missing:
        await tenant.client.posts.get("post_doesnotexist")
    assert missing.value.response == {"error": "Not found"}
    with pytest.raises(BadRequestError) as too_many:
        await tenant.client.posts.stats([f"post_{i}" for i in range(51)])
    assert too_many.value.status_code == 400
    with pytest.raises(BadRequestError):
        await tenant.client.posts.list(status="bogus")  # type: ignore[arg-type]


async def test_multipart_upload_layout_and_idempotent_retry(tenant: Tenant, tmp_path: "object") -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG fake image bytes")
    kwargs = {
        "media": [IMAGE],
        "media_files": [image],
        "platforms": PlatformParams(instagram=InstagramParams(format="post", first_comment="hi")),
        "thread": None,
        "idempotency_key": "upload-1",
    }
    post = await tenant.client.posts.create("With a file", [tenant.instagram, tenant.twitter], **kwargs)  # type: ignore[arg-type]
    assert [(m.source_url, m.content_type) for m in post.media] == [(IMAGE, "image/jpeg"), ("upload://photo.png", "image/png")]
    assert {p.platform: p.params for p in post.platforms}["instagram"] == {"format": "post", "first_comment": "hi"}
    # a retry has a new multipart boundary but the same content: it replays
    again = await tenant.client.posts.create("With a file", [tenant.instagram, tenant.twitter], **kwargs)  # type: ignore[arg-type]
    assert again.id == post.id
    threaded = await tenant.client.posts.create(
        "1/ file thread", [tenant.twitter], media_files=[image], thread=[ThreadChildInput(body="2/ more", media=[IMAGE])]
    )
    assert [t.body for t in threaded.thread] == ["2/ more"] and threaded.thread[0].media[0].source_url == IMAGE


async def test_rescheduling_and_the_edit_cutoff(tenant: Tenant, sandbox: SandboxServer) -> None:
    post = await tenant.client.posts.create("move me", [tenant.twitter], scheduled_at=sandbox.now() + timedelta(hours=2))
    moved = await tenant.client.posts.update(post.id, scheduled_at=sandbox.now() + timedelta(hours=4))
    assert moved.status == "scheduled"
    sandbox.advance(3 * 3600)
    assert (await tenant.client.posts.get(post.id)).status == "scheduled"  # the old time no longer fires
    sandbox.advance(3600 - 120)
    with pytest.raises(ValidationError, match="Post cannot be edited"):  # within 5 minutes of publishing
        await tenant.client.posts.update(post.id, body="too late")
    sandbox.advance(200)
    assert (await tenant.client.posts.get(post.id)).status == "processed"
    back_to_draft = await tenant.client.posts.create("park me", [tenant.twitter], scheduled_at=sandbox.now() + timedelta(hours=1))
    parked = await tenant.client.posts.update(back_to_draft.id, draft=True)
    assert parked.status == "draft"
    sandbox.advance(7200)
    assert (await tenant.client.posts.get(back_to_draft.id)).status == "draft"
