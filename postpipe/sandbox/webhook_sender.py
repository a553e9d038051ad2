"""Signs and POSTs queued webhook events, recording every attempt and retrying with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass

import httpx

from .events import envelope
from .records import WebhookAttemptRecord, WebhookJobRecord
from .state import SandboxState

logger = logging.getLogger(__name__)

USER_AGENT = "Postproxy-Webhooks/1.0"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the whole secret string>``."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class _Shipment:
    job: WebhookJobRecord
    url: str
    secret: str
    attempt_id: str


class WebhookSender:
    """Delivers due jobs in creation order; events sharing an order key (a post, a profile) never overtake."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._client = httpx.Client(timeout=state.config.webhook_timeout_seconds, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def deliver_due(self, until: float) -> bool:
        """Attempt every job due by ``until`` (one per order key per round); True if anything was attempted."""
        with self._state.lock:
            batch = self._collect(until)
        for shipment in batch:
            status = self._post(shipment)
            with self._state.lock:
                self._record(shipment, status)
        return bool(batch)

    def _collect(self, until: float) -> list[_Shipment]:
        state = self._state
        batch: list[_Shipment] = []
        for webhook_id, jobs in state.webhook_jobs.items():
            webhook = state.webhooks[webhook_id]
            blocked: set[str] = set()
            for job in jobs:
                key = job.event.order_key
                if key in blocked:
                    continue
                blocked.add(key)
                if job.next_attempt_at <= until and webhook.enabled:
                    batch.append(_Shipment(job, webhook.url, webhook.secret, state.ids.new("whd")))
        return batch

    def _post(self, shipment: _Shipment) -> int | None:
        body = json.dumps(envelope(shipment.job.event), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Postproxy-Event": shipment.job.event.type,
            "X-Postproxy-Delivery": shipment.attempt_id,
            "X-Postproxy-Signature": sign(shipment.secret, int(time.time()), body),
        }
        try:
            response = self._client.post(shipment.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            logger.info("webhook %s to %s failed: %s", shipment.job.event.type, shipment.url, error)
            return None
        return response.status_code

    def _record(self, shipment: _Shipment, status: int | None) -> None:
        state = self._state
        job = shipment.job
        jobs = state.webhook_jobs.get(job.webhook_id)
        if jobs is None:  # the webhook was deleted meanwhile
            return
        job.attempts_made += 1
        success = status is not None and 200 <= status < 300
        attempted_at = job.next_attempt_at
        state.webhook_attempts[job.webhook_id].append(
            WebhookAttemptRecord(
                id=shipment.attempt_id,
                webhook_id=job.webhook_id,
                event_id=job.event.id,
                event_type=job.event.type,
                response_status=status,
                attempt_number=job.attempts_made,
                success=success,
                attempted_at=attempted_at,
                created_at=attempted_at,
            )
        )
        backoff = state.config.webhook_backoff_seconds
        if success or job.attempts_made > len(backoff):
            if job in jobs:
                jobs.remove(job)
            if not success:
                logger.warning("webhook event %s to %s given up after %d attempts", job.event.id, shipment.url, job.attempts_made)
            return
        job.next_attempt_at = attempted_at + backoff[job.attempts_made - 1]
