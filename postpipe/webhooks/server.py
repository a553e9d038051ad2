"""Running the receiver: ``ReceiverServer`` serves it from a background thread (tests, the demo, benchmarks)."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from postpipe.loopback_server import ServerStartError, ThreadedServer
from postpipe.webhooks.events import PrefectEventSink
from postpipe.webhooks.receiver import WEBHOOK_PATH, create_app

log = logging.getLogger(__name__)


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
    ) -> None:
        self.host = host
        self._requested_port = port
        self._app_kwargs: dict[str, Any] = {
            "database_url": database_url,
            "emit_events": emit_events,
            "secrets_ttl_seconds": secrets_ttl_seconds,
        }
        self._prefect_api_url = prefect_api_url
        self._app: Any = None
        self._http = ThreadedServer(name="postpipe-webhook-receiver", host=host, lifespan="on", backlog=1024)
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

    def start(self) -> ReceiverServer:
        if self._http.running:
            return self
        if self._app is None:  # a fresh app (and Prefect connection) per start: each start has its own event loop
            sink = PrefectEventSink(self._prefect_api_url) if self._app_kwargs["emit_events"] else None
            self._app = create_app(sink=sink, **self._app_kwargs)
        try:
            self.port = self._http.start(self._app, self.port or self._requested_port)
        except ServerStartError as exc:
            raise ReceiverServerError(str(exc)) from exc
        log.info("webhook receiver listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop within about a second; requests in flight either complete or were never acknowledged."""
        self._http.stop()
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
