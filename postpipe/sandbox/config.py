"""Tunable timings and limits of the sandbox (all durations in sandbox seconds)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxConfig:
    """Knobs of one sandbox instance; the defaults suit tests and the demo."""

    pending_seconds: float = 0.5
    """Time a post stays ``pending`` before it moves to ``processing``."""
    processing_seconds: float = 1.0
    """Time a platform post stays ``processing`` before its outcome."""
    retry_seconds: float = 2.0
    """Wait after a ``failed_waiting_for_retry`` before the next attempt."""
    duplicate_window_seconds: float = 600.0
    """An identical post inside this window is refused with 409."""
    idempotency_ttl_seconds: float = 24 * 3600.0
    """How long a stored 2xx answer is replayed for an ``Idempotency-Key``."""
    stats_interval_seconds: float = 3600.0
    """Cadence of stats records during the dense period after publication."""
    stats_dense_records: int = 48
    """Number of records at ``stats_interval_seconds`` before the cadence turns daily."""
    webhook_timeout_seconds: float = 2.0
    """Wall-clock timeout of one webhook HTTP attempt."""
    webhook_backoff_seconds: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0)
    """Waits between delivery attempts; its length + 1 is the attempt limit."""
    tick_interval_seconds: float = 0.2
    """Wall-clock period of the background ticker."""
    max_per_page: int = 100
    max_stats_post_ids: int = 50
    seed: int | None = None
    """Seed of id generation and queue jitter; ``None`` picks a random one."""
