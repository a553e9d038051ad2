"""The Prefect global limits postpipe's flows acquire (always strictly), and creating the ones that are missing.

``postpipe setup`` creates them for every tenant key it knows; ``collect-stats`` creates any still missing (a
tenant onboarded later) before it fans out. Both go through ``ensure_limits``: a limit that exists keeps the
values an operator may have tuned.

- ``postproxy-api-rate``: a rate limit shared by everything that calls Postproxy.
- ``postproxy-key-<api key id>``: a concurrency limit per tenant's scoped Postproxy key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.exceptions import ObjectAlreadyExists

GLOBAL_RATE_LIMIT = "postproxy-api-rate"
GLOBAL_RATE_LIMIT_SLOTS = 60
"""Burst size of the shared Postproxy rate limit when it has to be created."""
GLOBAL_RATE_LIMIT_DECAY_PER_SECOND = 20.0
"""Sustained requests per second of the shared Postproxy rate limit when it has to be created."""
KEY_LIMIT_PREFIX = "postproxy-key-"
KEY_LIMIT_SLOTS = 2
"""Concurrent holders per Postproxy key when the key's limit has to be created."""
_PAGE = 200


def key_limit_name(api_key_id: str) -> str:
    return f"{KEY_LIMIT_PREFIX}{api_key_id}"


@dataclass(frozen=True)
class LimitState:
    """One wanted limit after ``ensure_limits``: its size (as it now stands) and whether this call created it."""

    name: str
    kind: Literal["rate limit", "concurrency limit"]
    slots: int
    decay_per_second: float | None
    outcome: Literal["created", "exists", "created-meanwhile"]

    def describe(self) -> str:
        if self.decay_per_second:
            return f"{self.slots} slots, refilled {self.decay_per_second:g}/s"
        return f"{self.slots} concurrent holders"


def wanted_limits(api_key_ids: list[str]) -> dict[str, tuple[int, float | None]]:
    """Every limit the flows acquire, with the size (and decay, for the rate limit) to create it with."""
    limits: dict[str, tuple[int, float | None]] = {
        GLOBAL_RATE_LIMIT: (GLOBAL_RATE_LIMIT_SLOTS, GLOBAL_RATE_LIMIT_DECAY_PER_SECOND)
    }
    limits.update({key_limit_name(key_id): (KEY_LIMIT_SLOTS, None) for key_id in sorted(set(api_key_ids))})
    return limits


async def ensure_limits(client: PrefectClient, api_key_ids: list[str]) -> list[LimitState]:
    """Create the wanted limits that are missing (existing ones are read a page at a time, not one by one)."""
    existing: dict[str, tuple[int, float | None]] = {}
    offset = 0
    while True:
        page = await client.read_global_concurrency_limits(limit=_PAGE, offset=offset)
        existing.update({limit.name: (limit.limit, limit.slot_decay_per_second or None) for limit in page})
        if len(page) < _PAGE:
            break
        offset += _PAGE
    states = []
    for name, (slots, decay) in wanted_limits(api_key_ids).items():
        kind: Literal["rate limit", "concurrency limit"] = "rate limit" if decay else "concurrency limit"
        if name in existing:
            states.append(LimitState(name, kind, *existing[name], outcome="exists"))
            continue
        # the server rejects an explicit null decay: leave the field out for plain concurrency
        spec = GlobalConcurrencyLimitCreate(name=name, limit=slots, **({"slot_decay_per_second": decay} if decay else {}))
        try:
            await client.create_global_concurrency_limit(spec)
        except ObjectAlreadyExists:  # created meanwhile by another run
            states.append(LimitState(name, kind, slots, decay, outcome="created-meanwhile"))
            continue
        states.append(LimitState(name, kind, slots, decay, outcome="created"))
    return states
