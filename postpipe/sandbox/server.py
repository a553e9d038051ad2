"""Running the sandbox: in a background thread (tests, demo) or in the foreground (``postpipe sandbox``)."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from types import TracebackType
from typing import Callable

from postpipe.loopback_server import ThreadedServer

from .app import build_app
from .config import SandboxConfig
from .engine import SandboxEngine
from .state import SandboxState

logger = logging.getLogger(__name__)

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
        self._http = ThreadedServer(name="postproxy-sandbox-http", host=host, graceful=False, start_timeout=10.0)
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
        if self._http.running:
            return self
        self.port = self._http.start(build_app(self.engine), self._requested_port)
        self.engine.start_ticker()
        logger.info("Postproxy sandbox listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        self.engine.stop()
        self._http.stop()

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
