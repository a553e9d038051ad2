"""Running the receiver: ``ReceiverServer`` serves it from a background thread (tests, the demo, benchmarks)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from postpipe.webhooks.events import PrefectEventSink
from postpipe.webhooks.receiver import WEBHOOK_PATH, create_app

log = logging.getLogger(__name__)

_START_TIMEOUT_SECONDS = 15.0


class ReceiverServerError(RuntimeError):
    pass


class ReceiverServer:
    """The webhook receiver on loopback, served by uvicorn in a daemon thread; ``port=0`` picks a free port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        database_url: str | None = None,
        prefect_api_url: str | None = None,
        emit_events: bool = True,
        secrets_ttl_seconds: float = 5.0,
        app: Any = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._app_kwargs: dict[str, Any] = {
            "database_url": database_url,
            "emit_events": emit_events,
            "secrets_ttl_seconds": secrets_ttl_seconds,
        }
        self._prefect_api_url = prefect_api_url
        self._own_app = app is None
        self._app = app
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise ReceiverServerError("the receiver is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The webhook endpoint to give Postproxy (or the sandbox)."""
        return self.base_url + WEBHOOK_PATH

    @property
    def app(self) -> Any:
        return self._app

    def start(self) -> ReceiverServer:
        if self._thread is not None:
            return self
        if self._app is None:  # a fresh app (and Prefect connection) per start: each start has its own event loop
            sink = PrefectEventSink(self._prefect_api_url) if self._app_kwargs["emit_events"] else None
            self._app = create_app(sink=sink, **self._app_kwargs)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port or self._requested_port))
        sock.listen(1024)
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=5,
            backlog=1024,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="postpipe-webhook-receiver", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ReceiverServerError("the webhook receiver did not start")
            time.sleep(0.005)
        log.info("webhook receiver listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop within about a second; requests in flight either complete or were never acknowledged."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=3.0)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout=2.0)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None
        if self._own_app:
            self._app = None

    def restart(self) -> ReceiverServer:
        """Stop and start again on the same port, with a fresh app (as after a crash and restart)."""
        self.stop()
        return self.start()

    def __enter__(self) -> ReceiverServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
