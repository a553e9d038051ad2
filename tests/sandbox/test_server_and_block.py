"""Starting and stopping the sandbox, the foreground entry point, and the Prefect credentials block."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from blocks.postproxy import PostproxyCredentials
from postpipe.sandbox import SandboxServer

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_start_and_stop_are_quick_and_state_is_per_instance() -> None:
    started = time.monotonic()
    first = SandboxServer().start()
    second = SandboxServer(account_key="sbx_fixed_key").start()
    assert time.monotonic() - started < 2.0
    try:
        assert first.base_url != second.base_url and first.base_url.startswith("http://127.0.0.1:")
        assert second.account_key == "sbx_fixed_key" and first.account_key.startswith("sbx_acct_")
        headers = {"Authorization": f"Bearer {first.account_key}"}
        created = httpx.post(first.base_url + "/api/profile_groups", json={"profile_group": {"name": "only here"}}, headers=headers)
        assert created.status_code == 201
        assert len(first.state.groups) == 1 and len(second.state.groups) == 0
        wrong_instance = httpx.get(second.base_url + "/api/profile_groups", headers=headers)
        assert wrong_instance.status_code == 401
    finally:
        stopping = time.monotonic()
        first.stop()
        second.stop()
        assert time.monotonic() - stopping < 1.0
    with pytest.raises(httpx.ConnectError):
        httpx.get(first.base_url + "/sandbox/health", timeout=1)


def test_unknown_api_path_is_json_404(sandbox: SandboxServer) -> None:
    response = httpx.get(sandbox.base_url + "/api/nothing/here", headers={"Authorization": f"Bearer {sandbox.account_key}"})
    assert response.status_code == 404 and response.json() == {"error": "Not found"}


def test_serve_forever_reports_ready_and_stops_on_sigint() -> None:
    code = (
        "import sys\n"
        "from postpipe.sandbox.server import serve_forever\n"
        "serve_forever(port=0, account_key='sbx_cli', on_ready=lambda url, key: (sys.stdout.write(url + ' ' + key + '\\n'), sys.stdout.flush()))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT)
    try:
        assert process.stdout is not None
        base_url, key = process.stdout.readline().split()
        assert key == "sbx_cli"
        clock = httpx.get(base_url + "/sandbox/clock", headers={"Authorization": "Bearer sbx_cli"})
        assert clock.status_code == 200 and clock.json()["now"].endswith("Z")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.anyio
async def test_credentials_block_builds_a_working_sdk_client(sandbox: SandboxServer) -> None:
    block = PostproxyCredentials(api_key=sandbox.account_key, base_url=sandbox.base_url)
    assert PostproxyCredentials.get_block_type_slug() == "postproxy-credentials"
    assert PostproxyCredentials._to_block_schema().fields["secret_fields"] == ["api_key"]
    assert sandbox.account_key not in repr(block)
    client = block.get_client()
    try:
        group = await client.profile_groups.create("From the block")
    finally:
        await client.close()
    scoped = PostproxyCredentials(api_key=sandbox.account_key, base_url=sandbox.base_url, profile_group_id=group.id).get_client()
    try:
        assert scoped.profile_group_id == group.id
        assert (await scoped.posts.list()).total == 0
    finally:
        await scoped.close()
