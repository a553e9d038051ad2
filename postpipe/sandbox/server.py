"""Running the sandbox: in a background thread (tests, demo) or in the foreground (``postpipe sandbox``)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
import time
from datetime import datetime
from types import TracebackType
from typing import Callable

import uvicorn

from .app import build_app
from .config import SandboxConfig
from .engine import SandboxEngine
from .state import SandboxState

logger = logging.getLogger(__name__)

_START_TIMEOUT_SECONDS = 10.0


class _PromptServer(uvicorn.Server):
    """uvicorn.Server that notices ``should_exit`` within ~10 ms and skips the graceful drain, so stop() is quick."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Close listeners and connections at once; a test double needs no graceful drain."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        await asyncio.sleep(0)
        for task in list(self.server_state.tasks):
            task.cancel()


class SandboxServer:
    """A Postproxy-compatible API on loopback, served by uvicorn in a daemon thread.

    ``port=0`` picks a free port; ``account_key=None`` generates one.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        account_key: str | None = None,
        config: SandboxConfig | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.engine = SandboxEngine(account_key=account_key, config=config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def account_key(self) -> str:
        return self.state.account_key

    @property
    def state(self) -> SandboxState:
        return self.engine.state

    def now(self) -> datetime:
        return self.engine.now()

    def advance(self, seconds: float) -> datetime:
        return self.engine.advance(seconds)

    def start(self) -> SandboxServer:
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(128)
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self.engine),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=5,
        )
        server = _PromptServer(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="postproxy-sandbox-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox HTTP server did not start")
            time.sleep(0.005)
        self.engine.start_ticker()
        logger.info("Postproxy sandbox listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        self.engine.stop()
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8787,
    account_key: str | None = None,
    on_ready: Callable[[str, str], None] | None = None,
    config: SandboxConfig | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; ``on_ready(base_url, account_key)`` runs once it accepts requests."""
    stop = threading.Event()
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    server = SandboxServer(host=host, port=port, account_key=account_key, config=config)
    try:
        server.start()
        if on_ready is not None:
            on_ready(server.base_url, server.account_key)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
