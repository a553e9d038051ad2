"""Real Prefect processes for the deployment tests: a server, a process worker, and CLI calls, each bounded in
time and always stopped (the worker may ignore the first SIGTERM, so stopping escalates to SIGKILL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prefect_env(api_url: str, home: Path, **extra: str) -> dict[str, str]:
    """The test process's environment (POSTPIPE_* included) pointed at one Prefect server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
        **extra,
    )
    return env


def run_cli(argv: list[str], env: dict[str, str], *, timeout: float = 120, cwd: Path = REPO_ROOT) -> str:
    """Run a console script of the venv (``postpipe``, ``prefect``); fail with its output if it fails."""
    done = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}:\n{output[-6000:]}"
    return output


class Background:
    """A subprocess in its own process group, logging to a file, stopped with escalation."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.process = subprocess.Popen(
            [str(BIN / argv[0]), *argv[1:]], env=env, cwd=REPO_ROOT, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        for sig, grace in ((signal.SIGINT, 8.0), (signal.SIGINT, 4.0), (signal.SIGKILL, 5.0)):
            if self.process.poll() is not None:
                break
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                continue
        try:  # flow-run subprocesses a worker started share its group
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()


class PrefectServer(Background):
    """``prefect server start`` on a free loopback port with its own PREFECT_HOME (SQLite)."""

    def __init__(self, home: Path, startup_timeout: float = 60.0) -> None:
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        home.mkdir(parents=True, exist_ok=True)
        env = prefect_env(self.api_url, home)
        del env["PREFECT_API_URL"]
        env["PREFECT_UI_API_URL"] = self.api_url  # else the UI calls the default port 4200
        super().__init__(
            ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)], env, home / "server.log"
        )
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server exited {self.process.returncode}:\n{self.log()[-4000:]}")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).json() is True:
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"prefect server not healthy after {startup_timeout}s:\n{self.log()[-4000:]}")

    def api(self, method: str, path: str, json: object | None = None) -> object:
        response = httpx.request(method, f"{self.api_url}{path}", json=json, timeout=10)
        response.raise_for_status()
        return response.json()
