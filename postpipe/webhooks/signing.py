"""Postproxy webhook signatures: ``X-Postproxy-Signature: t=<unix seconds>,v1=<hex>``.

The digest is HMAC-SHA256 keyed with the webhook secret string exactly as issued (``whsec_...`` included), over
``"<t>.<raw body bytes>"``. A signature is accepted when its timestamp is within the tolerance of now (both
directions) and it matches one of the given secrets: during rotation the current and the previous one.
No exception raised here ever contains a secret or a computed digest.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

from pydantic import SecretStr

SIGNATURE_HEADER = "X-Postproxy-Signature"


class SignatureError(Exception):
    """The request is not provably from Postproxy; ``reason`` is a short machine-readable word."""

    reason = "invalid"


class MissingSignatureError(SignatureError):
    reason = "missing"


class MalformedSignatureError(SignatureError):
    reason = "malformed"


class StaleSignatureError(SignatureError):
    reason = "stale"


class FutureSignatureError(SignatureError):
    reason = "future"


class SignatureMismatchError(SignatureError):
    reason = "mismatch"


class NoSigningSecretError(SignatureError):
    """postpipe has no webhook secret configured, so nothing can be verified."""

    reason = "no-secret"


def _plain(secret: SecretStr | str) -> bytes:
    return (secret.get_secret_value() if isinstance(secret, SecretStr) else secret).encode()


def compute_digest(secret: SecretStr | str, timestamp: int, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    return hmac.new(_plain(secret), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: SecretStr | str, body: bytes, *, timestamp: int | None = None) -> str:
    """The header value Postproxy would send for ``body`` (tests, the benchmark and the demo use it)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},v1={compute_digest(secret, ts, body)}"


def parse_header(header: str | None) -> tuple[int, list[str]]:
    """Split the header into its timestamp and its ``v1`` digests (a sender may send several)."""
    if header is None or not header.strip():
        raise MissingSignatureError(f"the {SIGNATURE_HEADER} header is missing")
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise MalformedSignatureError(f"{SIGNATURE_HEADER}: expected key=value pairs, got {part.strip()[:20]!r}")
        if key == "t":
            if not value.isdigit():
                raise MalformedSignatureError(f"{SIGNATURE_HEADER}: t must be unix seconds")
            timestamp = int(value)
        elif key == "v1":
            if len(value) != 64 or any(c not in "0123456789abcdef" for c in value.lower()):
                raise MalformedSignatureError(f"{SIGNATURE_HEADER}: v1 must be 64 hex characters")
            digests.append(value.lower())
    if timestamp is None:
        raise MalformedSignatureError(f"{SIGNATURE_HEADER}: the t= timestamp is missing")
    if not digests:
        raise MalformedSignatureError(f"{SIGNATURE_HEADER}: no v1= signature")
    return timestamp, digests


def verify(
    body: bytes,
    header: str | None,
    secrets: Sequence[SecretStr | str],
    *,
    tolerance_seconds: int,
    now: float | None = None,
) -> int:
    """Check ``header`` against ``body``; returns the index of the secret that matched (0 = current).

    Raises a ``SignatureError`` subclass naming what is wrong.
    """
    timestamp, digests = parse_header(header)
    current = time.time() if now is None else now
    if timestamp < current - tolerance_seconds:
        raise StaleSignatureError(
            f"signature timestamp is {int(current - timestamp)} s old (tolerance {tolerance_seconds} s)"
        )
    if timestamp > current + tolerance_seconds:
        raise FutureSignatureError(
            f"signature timestamp is {int(timestamp - current)} s in the future (tolerance {tolerance_seconds} s)"
        )
    if not secrets:
        raise NoSigningSecretError("no webhook signing secret is configured (webhook_subscriptions is empty)")
    for index, secret in enumerate(secrets):
        expected = compute_digest(secret, timestamp, body)
        # compare against every digest so that timing does not reveal which one nearly matched
        if any(hmac.compare_digest(expected, candidate) for candidate in digests):
            return index
    raise SignatureMismatchError("signature does not match the body for any configured webhook secret")
