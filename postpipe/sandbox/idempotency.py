"""``Idempotency-Key`` bookkeeping: replay stored 2xx answers, refuse reuse in flight or with another body."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum

MAX_KEY_LENGTH = 255


class Verdict(Enum):
    PROCEED = "proceed"
    REPLAY = "replay"
    IN_FLIGHT = "in_flight"
    MISMATCH = "mismatch"


@dataclass
class _Entry:
    fingerprint: str
    created_at: float
    status: int | None = None
    body: bytes | None = None


@dataclass
class StoredAnswer:
    status: int
    body: bytes


def fingerprint(method: str, path: str, canonical_body: bytes) -> str:
    """The identity of a request for idempotency: method, path (no query) and the canonical body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical_body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyStore:
    """Keys are account-wide; only 2xx answers are kept, for ``ttl`` sandbox seconds."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._entries: dict[str, _Entry] = {}

    def begin(self, key: str, print_: str, now: float) -> tuple[Verdict, StoredAnswer | None]:
        entry = self._entries.get(key)
        if entry is not None and entry.status is not None and now - entry.created_at > self._ttl:
            del self._entries[key]
            entry = None
        if entry is None:
            self._entries[key] = _Entry(fingerprint=print_, created_at=now)
            return Verdict.PROCEED, None
        if entry.fingerprint != print_:
            return Verdict.MISMATCH, None
        if entry.status is None or entry.body is None:
            return Verdict.IN_FLIGHT, None
        return Verdict.REPLAY, StoredAnswer(entry.status, entry.body)

    def finish(self, key: str, status: int, body: bytes, now: float) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return
        if 200 <= status < 300:
            entry.status = status
            entry.body = body
            entry.created_at = now
        else:
            del self._entries[key]

    def abandon(self, key: str) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.status is None:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
