"""The sandbox clock: wall time plus an offset that only ever grows."""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timezone


class SandboxClock:
    """Unix-seconds clock that follows wall time and can be pushed forward."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._last = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Unix seconds at millisecond precision (what the API shows), never smaller than before."""
        with self._lock:
            current = max(math.floor((time.time() + self._offset) * 1000) / 1000, self._last)
            self._last = current
            return current

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += seconds
        return self.now()

    @property
    def offset(self) -> float:
        return self._offset


def to_datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def to_iso(timestamp: float | None) -> str | None:
    """Format unix seconds the way Postproxy does: ``2026-09-01T09:00:00.000Z``."""
    if timestamp is None:
        return None
    millis = round(timestamp * 1000)
    seconds, fraction = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:03d}Z"


def parse_iso(value: str) -> float:
    """Parse an ISO 8601 time (naive means UTC) into unix seconds; ValueError if malformed."""
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
