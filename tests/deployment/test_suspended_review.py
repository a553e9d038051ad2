"""The long-wait path of approve-and-publish: under a deployment the run suspends while it waits for a reviewer
(its process exits, no worker is held), and once `postpipe approve` resumes it, Prefect starts the flow again
from the top; the second pass must take the decision, publish exactly once and confirm every platform.

Everything is real: a Prefect server, the deployment served from a subprocess (`postpipe serve`), PostgreSQL,
the Postproxy sandbox and postpipe's webhook receiver."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from postproxy import PostProxy
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from postpipe.db import system_scope
from postpipe.drafting import NewPost, create_post
from postpipe.repositories import approvals, deliveries, posts
from postpipe.sandbox import SandboxServer
from postpipe.settings import reset_settings_cache
from postpipe.webhooks.server import ReceiverServer
from tests.deployment.processes import Background, PrefectServer, prefect_env, run_cli
from tests.tenants import connected_tenant

pytestmark = pytest.mark.e2e

DEPLOYMENT = "approve-and-publish/approve-and-publish"
AUTHOR, APPROVER = "author@slow.example", "ann@slow.example"
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@pytest.fixture
def receiver(pg_db: str, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReceiverServer]:
    """The webhook receiver on loopback, subscribed at the sandbox, so deliveries settle through webhooks."""
    from tasks.tenants import ensure_webhook_subscription

    with ReceiverServer(database_url=pg_db, emit_events=False, secrets_ttl_seconds=0.0) as server:
        monkeypatch.setenv("POSTPIPE_WEBHOOK_PUBLIC_URL", server.url)
        reset_settings_cache()
        asyncio.run(ensure_webhook_subscription.fn())
        yield server


def _child_pids(pid: int) -> set[int]:
    """Live (not zombie) direct children of ``pid``, read from /proc."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        state, ppid = fields[0], int(fields[1])
        if ppid == pid and state != "Z":
            children.add(int(stat.parent.name))
    return children


def _wait_for(
    what: str, check: Callable[[], Any], runner: Background, timeout: float, interval: float = 0.3
) -> Any:
    """Poll ``check()`` until it returns something truthy; fail with the runner's log after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        assert runner.process.poll() is None, f"the serve process exited early:\n{runner.log()[-6000:]}"
        time.sleep(interval)
    raise AssertionError(f"{what}: not seen within {timeout}s\n--- serve log ---\n{runner.log()[-6000:]}")


def _flow_run(server: PrefectServer, run_id: uuid.UUID) -> dict[str, Any]:
    run = server.api("GET", f"/flow_runs/{run_id}")
    assert isinstance(run, dict)
    return run


def _deployment_registered(server: PrefectServer) -> bool:
    response = httpx.get(f"{server.api_url}/deployments/name/{DEPLOYMENT}", timeout=5)
    return response.status_code == 200


def _postproxy_posts(sandbox: SandboxServer, key: str) -> list[Any]:
    async def fetch() -> list[Any]:
        async with PostProxy(key, base_url=sandbox.base_url) as client:
            return (await client.posts.list(per_page=100)).data

    return asyncio.run(fetch())


def test_a_suspended_review_resumes_and_publishes_once(
    pg_db: str,
    sandbox: SandboxServer,
    receiver: ReceiverServer,
    prefect_server: PrefectServer,
    client_home: Path,
) -> None:
    team = {AUTHOR: "creator", APPROVER: "approver"}
    tenant = connected_tenant(sandbox, "slow-co", ["twitter", "linkedin"], team=team)
    with system_scope("test: new post") as session:
        post_id = create_post(
            session,
            NewPost(tenant=tenant.slug, author=AUTHOR, body="A review that takes days",
                    targets=[tenant.profiles["twitter"], tenant.profiles["linkedin"]]),
        ).id

    env = prefect_env(
        prefect_server.api_url,
        client_home,
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        POSTPIPE_APPROVAL_POLL_SECONDS="1",
        POSTPIPE_DELIVERY_POLL_SECONDS="1",
        POSTPIPE_DELIVERY_CONFIRM_SECONDS="30",
        POSTPIPE_POSTPROXY_RETRY_BASE_DELAY="0.05",
    )
    runner = Background(["postpipe", "serve", "--only", "approve-and-publish"], env, client_home / "serve.log")
    try:
        _wait_for("the served deployment", lambda: _deployment_registered(prefect_server), runner, timeout=45)
        idle_children = _child_pids(runner.process.pid)
        with temporary_settings({PREFECT_API_URL: prefect_server.api_url}):
            run_id = run_deployment(DEPLOYMENT, parameters={"post_id": str(post_id)}, timeout=0).id

        # First pass: draft, then suspend; the flow-run process must go away while the run waits.
        run_processes = _wait_for(
            "the flow-run process", lambda: _child_pids(runner.process.pid) - idle_children, runner, timeout=30,
            interval=0.1,
        )
        suspended = _wait_for(
            "the Suspended state",
            lambda: (r := _flow_run(prefect_server, run_id))["state_name"] == "Suspended" and r,
            runner,
            timeout=45,
        )
        assert suspended["state_type"] == "PAUSED"
        _wait_for("the suspended run's process to exit",
                  lambda: not (_child_pids(runner.process.pid) & run_processes), runner, timeout=20)
        with system_scope("test: check the suspended post") as session:
            waiting = posts.get(session, post_id)
        assert waiting.status == "awaiting_approval"
        assert waiting.flow_run_id == run_id
        assert waiting.postproxy_post_id is not None  # the draft was made before the run suspended

        # A reviewer decides from a terminal, days later as far as the run knows: the runner starts it again.
        answer = run_cli(["postpipe", "approve", str(post_id), "--as", APPROVER, "--wait", "60"], env, timeout=90)
        assert f"approve by {APPROVER} recorded at step 1" in answer, answer
        finished = _wait_for(
            "the resumed run to finish",
            lambda: (r := _flow_run(prefect_server, run_id))["state_type"] in FINAL_STATES and r,
            runner,
            timeout=60,
        )
        assert finished["state_type"] == "COMPLETED", runner.log()[-6000:]
        history = prefect_server.api("GET", f"/flow_run_states/?flow_run_id={run_id}")
        assert isinstance(history, list)
        names = [s["name"] for s in sorted(history, key=lambda s: s["timestamp"])]
        suspended_at = names.index("Suspended")  # the flow ran twice: up to the suspend, then from the top to the end
        assert names[:suspended_at].count("Running") == 1 and names[suspended_at + 1 :].count("Running") == 1, names
    finally:
        runner.stop()

    with system_scope("test: outcome") as session:
        post = posts.get(session, post_id)
        decisions = approvals.decisions(session, post_id)
        outcomes = {d.platform: d.status for d in deliveries.for_post(session, post_id)}
    assert post.status == "published", post.status_reason
    accepted = [d for d in decisions if d.accepted]
    assert [(d.decision, d.reviewer_email) for d in accepted] == [("approve", APPROVER)]
    assert outcomes == {"twitter": "published", "linkedin": "published"}
    remote = _postproxy_posts(sandbox, tenant.key)
    assert [p.id for p in remote] == [post.postproxy_post_id]
