"""The receiver over real HTTP into PostgreSQL: apply, duplicates, out-of-order events, load and restarts."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postpipe import models as m
from postpipe.db import system_scope
from postpipe.repositories import accounts, deliveries, webhook_events
from postpipe.webhooks.server import ReceiverServer
from tests.webhooks.conftest import T0, Seed, envelope, platform_post, seed_tenant, signed

ROOT = Path(__file__).resolve().parents[2]


def post(http: httpx.Client, receiver: ReceiverServer, event: dict[str, Any]) -> httpx.Response:
    raw, headers = signed(event)
    return http.post(receiver.url, content=raw, headers=headers)


def delivery(post_id: uuid.UUID, account_id: uuid.UUID) -> deliveries.DeliveryInfo:
    with system_scope("test") as s:
        found = [d for d in deliveries.for_post(s, post_id) if d.account_id == account_id]
    assert len(found) == 1
    return found[0]


def test_platform_post_events_move_a_delivery_forward_only(receiver: ReceiverServer, http: httpx.Client) -> None:
    seed = seed_tenant()
    post_id, account_id = seed.posts["p_acme_0"], seed.accounts["prof_x"]
    retry = envelope("platform_post.failed_waiting_for_retry", platform_post("p_acme_0", "prof_x", "failed", error="rate limited"), at=T0)
    published = envelope("platform_post.published", platform_post("p_acme_0", "prof_x", "published", platform_id="1830"), at=T0 + timedelta(seconds=30))
    late_failure = envelope("platform_post.failed", platform_post("p_acme_0", "prof_x", "failed", error="boom"), at=T0 + timedelta(seconds=5))

    assert post(http, receiver, retry).json() == {"id": retry["id"], "duplicate": False, "matched": True}
    d = delivery(post_id, account_id)
    assert (d.status, d.error, d.attempts) == ("failed_waiting_for_retry", "rate limited", 1)

    assert post(http, receiver, published).status_code == 200
    d = delivery(post_id, account_id)
    assert (d.status, d.platform_post_id, d.published_at, d.error) == ("published", "1830", T0 + timedelta(seconds=30), None)

    assert post(http, receiver, late_failure).status_code == 200  # out of order: published is terminal
    d = delivery(post_id, account_id)
    assert (d.status, d.error, d.attempts, d.last_event_at) == ("published", None, 3, T0 + timedelta(seconds=30))
    other = delivery(post_id, seed.accounts["prof_ig"])
    assert other.status == "pending" and other.attempts == 0


def test_same_event_five_times_is_applied_once(receiver: ReceiverServer, http: httpx.Client) -> None:
    seed = seed_tenant()
    event = envelope("platform_post.failed_waiting_for_retry", platform_post("p_acme_0", "prof_x", "failed", error="later"))
    answers = [post(http, receiver, event).json() for _ in range(5)]
    assert [a["duplicate"] for a in answers] == [False, True, True, True, True]
    assert delivery(seed.posts["p_acme_0"], seed.accounts["prof_x"]).attempts == 1
    with system_scope("test") as s:
        assert webhook_events.counts(s)["stored"] == 1


def test_unknown_post_or_profile_is_stored_unmatched(receiver: ReceiverServer, http: httpx.Client) -> None:
    seed_tenant()
    unknown_post = envelope("platform_post.published", platform_post("p_nowhere", "prof_x", "published"))
    unknown_group = envelope("profile.disconnected", {"id": "prof_zz", "name": "zz", "platform": "x", "profile_group_id": "grp_none", "status": "expired", "uid": "1"})
    for event in (unknown_post, unknown_group):
        response = post(http, receiver, event)
        assert response.status_code == 200 and response.json()["matched"] is False
    with system_scope("test") as s:
        listed = {e.event_id: e for e in webhook_events.unmatched(s)}
    assert set(listed) == {unknown_post["id"], unknown_group["id"]}
    assert "p_nowhere" in (listed[unknown_post["id"]].note or "")
    assert listed[unknown_group["id"]].tenant_id is None and listed[unknown_group["id"]].applied_at is None


def test_profile_events_update_account_and_intervals_in_order(receiver: ReceiverServer, http: httpx.Client) -> None:
    seed = seed_tenant()
    profile = {"id": "prof_x", "name": "@prof_x", "platform": "twitter", "profile_group_id": seed.group_id, "uid": "u1"}
    disconnected = envelope("profile.disconnected", {**profile, "status": "expired", "origin": "automated"}, at=T0 + timedelta(hours=2))
    stale_connect = envelope("profile.connected", {**profile, "status": "active"}, at=T0 + timedelta(hours=1))
    new_profile = envelope("profile.connected", {**profile, "id": "prof_new", "status": "active"}, at=T0 + timedelta(hours=3))
    for event in (disconnected, stale_connect, new_profile):
        assert post(http, receiver, event).json()["matched"] is True
    with system_scope("test") as s:
        x = accounts.find_by_profile(s, "prof_x")
        assert x is not None and (x.status, x.connected) == ("expired", False)
        assert accounts.intervals(s, x.id)[-1][1] == T0 + timedelta(hours=2)
        new = accounts.find_by_profile(s, "prof_new")
        assert new is not None and new.connected and new.tenant_id == seed.tenant_id
        stored = webhook_events.get(s, new_profile["id"])
        assert stored is not None and stored.account_id == new.id


# ------------------------------------------------------------------ order independence (property)

STATUS_OF = {"failed_waiting_for_retry": "failed", "failed": "failed", "published": "published"}


def _new_post(seed: Seed, tag: str) -> str:
    ref = f"p_prop_{tag}_{uuid.uuid4().hex[:8]}"
    with system_scope("test set-up") as s:
        author = s.query(m.Member.id).filter(m.Member.tenant_id == seed.tenant_id).scalar()
        row = m.Post(tenant_id=seed.tenant_id, author_id=author, body=ref, content_hash="1" * 64, status="publishing", postproxy_post_id=ref)
        s.add(row)
        s.flush()
        deliveries.record_targets(s, seed.tenant_id, row.id, seed.accounts.values())
        seed.posts[ref] = row.id
    return ref


def _stream(ref: str, plan: list[tuple[str, int, str]]) -> list[dict[str, Any]]:
    events = []
    for n, (profile, retries, outcome) in enumerate(plan):
        for r in range(retries):
            events.append(envelope("platform_post.failed_waiting_for_retry",
                                   platform_post(ref, profile, "failed", error=f"retry {r}"), at=T0 + timedelta(minutes=10 * n + r)))
        if outcome != "none":
            events.append(envelope(f"platform_post.{outcome}",
                                   platform_post(ref, profile, outcome if outcome == "published" else "failed",
                                                 error="final" if outcome == "failed" else None,
                                                 platform_id="42" if outcome == "published" else None),
                                   at=T0 + timedelta(minutes=10 * n + 9)))
    return events


def _states(seed: Seed, ref: str) -> dict[uuid.UUID, tuple[Any, ...]]:
    with system_scope("test") as s:
        return {
            d.account_id: (d.status, d.attempts, d.error, d.platform_post_id, d.published_at, d.last_event_at)
            for d in deliveries.for_post(s, seed.posts[ref])
        }


@pytest.fixture
def prop_seed(receiver: ReceiverServer) -> Seed:
    return seed_tenant(posts=0)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(["prof_x", "prof_ig"]), st.integers(0, 3), st.sampled_from(["published", "failed", "none"])),
        min_size=1, max_size=2, unique_by=lambda t: t[0],
    ),
    shuffle_seed=st.integers(0, 2**32 - 1),
)
def test_any_order_of_a_posts_events_ends_in_the_same_states(
    receiver: ReceiverServer, http: httpx.Client, prop_seed: Seed, plan: list[tuple[str, int, str]], shuffle_seed: int
) -> None:
    in_order, shuffled = _new_post(prop_seed, "a"), _new_post(prop_seed, "b")
    events = _stream(in_order, plan)
    for event in events:
        assert post(http, receiver, event).status_code == 200
    permuted = _stream(shuffled, plan)
    random.Random(shuffle_seed).shuffle(permuted)
    for event in permuted:
        assert post(http, receiver, event).status_code == 200
    expected = _states(prop_seed, in_order)
    assert _states(prop_seed, shuffled) == expected
    for profile, retries, outcome in plan:  # and the states are the right ones
        status, attempts, *_ = expected[prop_seed.accounts[profile]]
        want = outcome if outcome != "none" else ("failed_waiting_for_retry" if retries else "pending")
        assert (status, attempts) == (want, retries + (outcome != "none"))


# ------------------------------------------------------------------ load and restarts


def _load_events(seed: Seed) -> list[dict[str, Any]]:
    events = []
    for ref in seed.posts:
        for profile in seed.accounts:
            events.append(envelope("platform_post.failed_waiting_for_retry", platform_post(ref, profile, "failed", error="busy"), at=T0))
            events.append(envelope("platform_post.published", platform_post(ref, profile, "published", platform_id="9"), at=T0 + timedelta(seconds=1)))
    return events


async def _send_all(url: str, events: list[dict[str, Any]], *, concurrency: int, retry: bool = False) -> dict[str, int]:
    """POST every event (like Postproxy: retry until a 2xx when ``retry``); returns event id -> final status."""
    results: dict[str, int] = {}
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=20.0, limits=httpx.Limits(max_connections=concurrency)) as client:
        async def one(event: dict[str, Any]) -> None:
            raw, headers = signed(event)
            async with semaphore:
                for _ in range(200 if retry else 1):
                    try:
                        response = await client.post(url, content=raw, headers=headers)
                        results[event["id"]] = response.status_code
                        if response.status_code == 200:
                            return
                    except httpx.TransportError:
                        results[event["id"]] = 0
                        results["transport-errors"] = results.get("transport-errors", 0) + 1
                    await asyncio.sleep(0.05)
        await asyncio.gather(*(one(e) for e in events))
    return results


def _assert_each_applied_once(seed: Seed, expected_events: int) -> None:
    with system_scope("test") as s:
        assert webhook_events.counts(s)["stored"] == expected_events
        states = [d for p in seed.posts.values() for d in deliveries.for_post(s, p)]
    assert len(states) == len(seed.posts) * len(seed.accounts)
    assert {(d.status, d.attempts) for d in states} == {("published", 2)}


@pytest.fixture
def served_receiver(pg_db: str, secret: str) -> Iterator[str]:
    """``postpipe webhooks serve`` in its own process (the client below would otherwise share its GIL)."""
    port = _free_port()
    env = {**os.environ, "POSTPIPE_DATABASE_URL": pg_db, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "postpipe", "webhooks", "serve", "--port", str(port), "--no-emit"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "postpipe webhooks serve did not start"
            time.sleep(0.1)
        yield base + "/webhooks/postproxy"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_thousand_concurrent_events_none_lost_each_applied_once(served_receiver: str) -> None:
    seed = seed_tenant(posts=250)
    events = _load_events(seed)
    assert len(events) == 1000
    # like Postproxy, redeliver what got no answer: under this load a keep-alive connection the server is
    # closing can be picked for a request now and then (a transport error, never an acknowledged event)
    results = asyncio.run(_send_all(served_receiver, events, concurrency=32, retry=True))
    results.pop("transport-errors", None)
    assert len(results) == 1000 and set(results.values()) == {200}
    _assert_each_applied_once(seed, 1000)


def test_restarted_receiver_loses_no_acknowledged_event(receiver: ReceiverServer) -> None:
    seed = seed_tenant(posts=60)
    events = _load_events(seed)

    async def scenario() -> dict[str, int]:
        sending = asyncio.create_task(_send_all(receiver.url, events, concurrency=16, retry=True))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(receiver.restart)  # some requests die mid-flight; only 200s count as delivered
        return await sending

    results = asyncio.run(scenario())
    assert results.pop("transport-errors", 0) > 0  # the restart did cut requests off...
    assert set(results.values()) == {200}  # ...and every event was acknowledged in the end (after retries)
    _assert_each_applied_once(seed, len(events))


def test_prefect_down_acknowledges_and_keeps_the_event_for_reconciliation(pg_db: str, secret: str, http: httpx.Client) -> None:
    seed_tenant()
    event = envelope("platform_post.published", platform_post("p_acme_0", "prof_x", "published", platform_id="7"))
    with ReceiverServer(database_url=pg_db, prefect_api_url="http://127.0.0.1:9/api") as receiver:
        assert http.get(receiver.base_url + "/healthz").json()["prefect_events"] == "on"  # a forwarder is running
        assert post(http, receiver, event).json()["matched"] is True
        time.sleep(0.5)  # the forwarder tries Prefect after the response, fails, and logs it
    with system_scope("test") as s:
        stored = webhook_events.get(s, event["id"])
        assert stored is not None and stored.applied_at is not None and stored.emitted_at is None
        assert [e.event_id for e in webhook_events.unemitted(s)] == [event["id"]]


def test_unmatched_cli_lists_events_for_operators(receiver: ReceiverServer, http: httpx.Client, capsys: pytest.CaptureFixture[str]) -> None:
    from postpipe.cli import main

    assert main(["webhooks", "unmatched"]) == 0
    assert "no unmatched webhook events" in capsys.readouterr().out
    event = envelope("platform_post.failed", platform_post("p_ghost", "prof_x", "failed"))
    assert post(http, receiver, event).status_code == 200
    assert main(["webhooks", "unmatched"]) == 0
    out = capsys.readouterr().out
    assert event["id"] in out and "p_ghost" in out
