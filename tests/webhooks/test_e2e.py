"""End to end: sandbox webhook -> receiver -> Prefect event -> triggered flow run -> account expired, link recorded.

Starts its own ``prefect server`` and a runner serving the flow (both subprocesses, killed at the end).
Select with ``-m e2e``; it takes about half a minute.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from postpipe.db import system_scope
from postpipe.postproxy import account_client
from postpipe.repositories import accounts, connection_requests, webhook_events, webhook_subscriptions
from postpipe.webhooks.server import ReceiverServer
from tests.webhooks.conftest import sandbox_tenant

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 90.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def _wait_for(check, what: str, deadline: float) -> object:  # type: ignore[no-untyped-def]
    while time.monotonic() < deadline:
        try:
            value = check()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_LOGGING_LEVEL="WARNING", PREFECT_UI_ENABLED="false")
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        _wait_for(lambda: httpx.get(f"{api}/health", timeout=2).status_code == 200, "the Prefect server",
                  time.monotonic() + 60)
        yield api, {**env, "PREFECT_API_URL": api}
    finally:
        _stop(process)
        log.close()


@pytest.mark.e2e
def test_profile_disconnected_webhook_triggers_reconnection_flow(
    pg_db: str, sandbox, prefect_server: tuple[str, dict[str, str]], tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    api, prefect_env = prefect_server
    deadline = time.monotonic() + DEADLINE_SECONDS
    st = sandbox_tenant(sandbox.base_url, posts=1)

    with ReceiverServer(database_url=pg_db, prefect_api_url=api) as receiver:
        async def subscribe() -> str:
            async with account_client() as client:
                hook = await client.webhooks.create(receiver.url, ["profile.connected", "profile.disconnected"])
            assert hook.secret
            return hook.secret

        secret = asyncio.run(subscribe())
        with system_scope("test set-up") as s:
            webhook_subscriptions.save(s, url=receiver.url, postproxy_webhook_id="wh_e2e", secret=SecretStr(secret))

        env = {**prefect_env, **{k: v for k, v in os.environ.items() if k.startswith("POSTPIPE_")},
               "PREFECT_RUNNER_POLL_FREQUENCY": "1", "PYTHONPATH": str(ROOT), "PREFECT_HOME": str(tmp_path / "runner")}
        runner_log = open(tmp_path / "runner.log", "wb")  # noqa: SIM115 - closed below
        runner = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "webhooks" / "serve_reaction.py")], cwd=ROOT, env=env,
            stdout=runner_log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            def automation_ready() -> bool:
                response = httpx.post(f"{api}/automations/filter", json={}, timeout=5)
                return any(a["enabled"] and "e2e" in a["name"] for a in response.json())

            _wait_for(automation_ready, "the served deployment's trigger", deadline)
            account_key = sandbox.account_key
            expired = httpx.post(f"{sandbox.base_url}/sandbox/profiles/{st.profile_id}/expire",
                                 headers={"Authorization": f"Bearer {account_key}"}, timeout=5)
            assert expired.status_code == 200

            def reconnection_recorded() -> bool:
                with system_scope("test") as s:
                    return bool(connection_requests.list_pending(s, st.seed.tenant_id))

            _wait_for(reconnection_recorded, "the triggered flow's reconnection link", deadline)

            def run_completed() -> bool:
                runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=5).json()
                return any(r["name"] == f"profile-disconnected-{st.profile_id}" and r["state_type"] == "COMPLETED"
                           for r in runs)

            _wait_for(run_completed, "the triggered flow run to complete", deadline)
        finally:
            _stop(runner)
            runner_log.close()

    with system_scope("test") as s:
        account = accounts.find_by_profile(s, st.profile_id)
        assert account is not None and account.status == "expired" and not account.connected
        (request,) = connection_requests.list_pending(s, st.seed.tenant_id)
        assert request.refresh and "/sandbox/connect/" in request.url
        (event,) = [e for e in webhook_events.unemitted(s) if e.type == "profile.disconnected"] or [None]
        assert event is None  # it was emitted (and marked) by the receiver
