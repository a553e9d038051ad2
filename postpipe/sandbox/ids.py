"""Opaque, URL-safe identifiers in the style of Postproxy's hashids."""

from __future__ import annotations

import random
import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits


class IdFactory:
    """Makes ids such as ``post_k3j9x0a1b2``; reproducible when seeded."""

    def __init__(self, seed: int | None) -> None:
        self._random = random.Random(seed if seed is not None else secrets.randbits(64))
        self._issued: set[str] = set()
        self._timeslot_counter = 0

    def new(self, prefix: str, length: int = 12) -> str:
        while True:
            candidate = prefix + "_" + "".join(self._random.choices(_ALPHABET, k=length))
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate

    def next_timeslot_id(self) -> int:
        self._timeslot_counter += 1
        return self._timeslot_counter


def new_secret_token(prefix: str) -> str:
    """A secret (API key token, webhook secret, connect token): always cryptographically random."""
    return prefix + secrets.token_urlsafe(24)
