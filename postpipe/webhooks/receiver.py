"""The webhook receiver: an ASGI app (Starlette) that Postproxy posts its events to.

``POST /webhooks/postproxy``: verify the signature (401), check the envelope (400), then in one transaction store
the event once and apply it; answer 200 only after the commit (503 when the database is unreachable, so Postproxy
retries). After the response, matched events are handed to a forwarder that emits them as Prefect events and marks
them emitted; anything it cannot emit stays unemitted for the ``reconcile-deliveries`` flow.

``GET /healthz``: 200 ``{"database": "ok"}`` or 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from postpipe.db import get_engine, system_scope
from postpipe.repositories import webhook_events, webhook_subscriptions
from postpipe.repositories.webhook_events import StoredEvent
from postpipe.settings import get_settings
from postpipe.webhooks import apply, signing
from postpipe.webhooks.envelope import InvalidEnvelopeError, parse_envelope
from postpipe.webhooks.events import EmissionError, PrefectEventSink, emit_stored

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/postproxy"
MAX_BODY_BYTES = 1_000_000
SCOPE_REASON = "webhook receiver"
DB_UNAVAILABLE = (OperationalError, InterfaceError)


class SecretsCache:
    """The accepted signing secrets, re-read from the database at most every ``ttl_seconds``."""

    def __init__(self, database_url: str | None, ttl_seconds: float) -> None:
        self._url = database_url
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._secrets: list[SecretStr] = []
        self._loaded_at = float("-inf")

    def get(self) -> list[SecretStr]:
        with self._lock:
            if time.monotonic() - self._loaded_at >= self._ttl:
                with system_scope(SCOPE_REASON, url=self._url) as session:
                    self._secrets = webhook_subscriptions.signing_secrets(session)
                self._loaded_at = time.monotonic()
            return self._secrets


class EventForwarder:
    """Emits stored events to Prefect in the background, in batches, off the request path."""

    def __init__(self, sink: PrefectEventSink, database_url: str | None, *, max_queue: int = 10_000) -> None:
        self._sink = sink
        self._url = database_url
        self._queue: asyncio.Queue[StoredEvent] = asyncio.Queue(maxsize=max_queue)
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, stored: StoredEvent) -> None:
        """Queue one event (runs on the event loop, after the response was sent)."""
        try:
            self._queue.put_nowait(stored)
        except asyncio.QueueFull:
            log.warning("event forwarder queue full; %s stays unemitted until reconciliation", stored.event_id)

    def _mark_emitted(self, ids: list[uuid.UUID]) -> None:
        with system_scope(SCOPE_REASON, url=self._url) as session:
            webhook_events.mark_emitted(session, ids)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < 200 and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await emit_stored(self._sink, batch, self._mark_emitted)
            except EmissionError as exc:
                log.warning("%d event(s) not emitted to Prefect (reconciliation will retry): %s", len(batch), exc)
            except Exception:  # the forwarder must survive anything; the rows stay unemitted
                log.exception("emitting %d event(s) to Prefect failed", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="postpipe-event-forwarder")

    async def stop(self, *, drain_seconds: float = 2.0) -> None:
        if self._worker is None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout=drain_seconds)
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._worker = None
        with contextlib.suppress(Exception):
            await self._sink.aclose()


@dataclass(frozen=True)
class _Outcome:
    status: int
    body: dict[str, object]
    stored: StoredEvent | None = None


def _process(raw: bytes, signature: str | None, secrets: SecretsCache, database_url: str | None) -> _Outcome:
    """Everything that touches the database, run in a worker thread."""
    try:
        signing.verify(raw, signature, secrets.get(), tolerance_seconds=get_settings().webhook_tolerance_seconds)
    except signing.NoSigningSecretError as exc:
        return _Outcome(503, {"error": exc.reason, "detail": str(exc)})
    except signing.SignatureError as exc:
        return _Outcome(401, {"error": f"signature {exc.reason}", "detail": str(exc)})
    try:
        envelope = parse_envelope(raw)
    except InvalidEnvelopeError as exc:
        return _Outcome(400, {"error": "invalid envelope", "detail": str(exc)})
    try:
        with system_scope(SCOPE_REASON, url=database_url) as session:
            received = apply.receive(session, envelope)
    except apply.DuplicateEventError:  # already stored: the scope rolled this transaction back
        return _Outcome(200, {"id": envelope.id, "duplicate": True})
    stored = received.stored
    body: dict[str, object] = {"id": envelope.id, "duplicate": received.duplicate}
    if stored is not None:
        body["matched"] = stored.matched
    return _Outcome(200, body, stored)


def create_app(
    *,
    database_url: str | None = None,
    sink: PrefectEventSink | None = None,
    emit_events: bool = True,
    secrets_ttl_seconds: float = 5.0,
) -> Starlette:
    """The receiver app. ``sink`` defaults to one that uses ``PREFECT_API_URL``; ``emit_events=False`` stores only."""
    secrets = SecretsCache(database_url, secrets_ttl_seconds)
    forwarder: EventForwarder | None = None
    if emit_events:
        sink = sink or PrefectEventSink()
        if sink.configured:
            forwarder = EventForwarder(sink, database_url)
        else:
            log.warning("no Prefect API configured: webhook events are stored but emitted only by reconciliation")

    async def receive_webhook(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        signature = request.headers.get(signing.SIGNATURE_HEADER)
        try:
            outcome = await run_in_threadpool(_process, raw, signature, secrets, database_url)
        except DB_UNAVAILABLE as exc:
            log.warning("webhook not accepted, database unavailable: %s", type(exc).__name__)
            return JSONResponse({"error": "database unavailable, retry later"}, status_code=503)
        background = None
        if forwarder is not None and outcome.stored is not None and outcome.stored.matched:
            background = BackgroundTask(forwarder.submit, outcome.stored)
        return JSONResponse(outcome.body, status_code=outcome.status, background=background)

    def _ping() -> None:
        with get_engine(database_url or get_settings().database_url).connect() as conn:
            conn.execute(text("select 1"))

    async def healthz(_request: Request) -> JSONResponse:
        try:
            await run_in_threadpool(_ping)
        except DB_UNAVAILABLE:
            return JSONResponse({"database": "unreachable"}, status_code=503)
        return JSONResponse({"database": "ok", "prefect_events": "on" if forwarder else "off"})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if forwarder is not None:
            forwarder.start()
        try:
            yield
        finally:
            if forwarder is not None:
                await forwarder.stop()

    app = Starlette(
        routes=[Route(WEBHOOK_PATH, receive_webhook, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )
    return app
