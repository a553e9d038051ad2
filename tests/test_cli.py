"""The ``postpipe`` command as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "POSTPIPE_DATABASE_URL"} | env
    return subprocess.run(
        [sys.executable, "-m", "postpipe", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_db_upgrade_creates_the_embedded_sqlite_database_in_the_working_directory(tmp_path: Path) -> None:
    result = _run(["db", "upgrade"], tmp_path, PYTHONPATH=str(Path(__file__).parents[1]))
    assert result.returncode == 0, result.stderr
    assert "plans: starter, growth, agency" in result.stdout
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'postpipe.db'}")
    with engine.connect() as conn:
        assert conn.scalar(sa.text("select count(*) from plans")) == 3
    engine.dispose()
    again = _run(["db", "upgrade"], tmp_path, PYTHONPATH=str(Path(__file__).parents[1]))
    assert again.returncode == 0, again.stderr


def test_sandbox_command_serves_the_api_and_prints_its_key(tmp_path: Path) -> None:
    import socket
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-m", "postpipe", "sandbox", "--port", str(port), "--account-key", "acct_test_key"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True,
    )
    try:
        first = process.stdout.readline() if process.stdout else ""
        assert f"http://127.0.0.1:{port}" in first
        deadline = time.monotonic() + 10
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/profile_groups",
                                   headers={"Authorization": "Bearer acct_test_key"})
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert answer.status_code == 200 and answer.json() == {"data": []}
        assert httpx.get(f"http://127.0.0.1:{port}/api/profile_groups",
                         headers={"Authorization": "Bearer wrong"}).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
