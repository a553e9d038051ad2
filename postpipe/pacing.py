"""Pacing Postproxy calls with Prefect global concurrency limits, cheaply enough for thousands of tenants a run.

Both limits are acquired strictly: a limit that is missing is an error, never a silent "unlimited" (Prefect's
default ``strict=False`` only logs a warning). ``423 Locked`` waits for the server's ``Retry-After``; waiting
longer than ``timeout_seconds`` raises ``TimeoutError``.

Every acquisition is a write on the Prefect server, and on a SQLite-backed server (the temporary server, small
installations) writes that meet fail with 503, after which Prefect's client backs off for seconds. With one
lease per tenant, measured at 200 tenants, an acquisition took 4 s on average and the flow was 6.8 times as
slow as the same work without Prefect. So slots are taken in bulk, ahead of need, one call at a time
(``LimitCalls``), and a busy answer is tried again after milliseconds rather than seconds:

- ``RateBlocks``: a rate limit shared by everything that calls Postproxy. Slots are taken ``block`` at a time
  and handed out locally, and the next block is requested in the background as soon as the current one is
  taken, so a request waits for Prefect only when it really outpaces the limit.
- ``KeySlots``: one concurrency limit per Postproxy key. The run knows its tenants in advance, so the keys
  are acquired in groups (one lease, one request) in the order the run will need them, the next ones while
  the current one starts. A group's lease is released when its last member is done, and renewed while held.
  If some key of a group is busy (another run holds it), that group falls back to one lease per key, so a
  busy key delays only its own tenant.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError

log = logging.getLogger(__name__)
T = TypeVar("T")

BUSY_RETRIES = 12
"""Tries of a limit call the Prefect server answers with 503 (about 6 s in all)."""
BUSY_PAUSE_SECONDS = 0.05
"""First pause before trying a busy call again; doubled each time, at most 1 s."""
GROUPS_AHEAD = 2
"""Key groups requested before they are needed: a request can take seconds on a busy SQLite-backed server."""
MIN_LEASE_SECONDS = 60.0
"""The Prefect server refuses shorter leases."""


def _refused(exc: httpx.HTTPStatusError) -> ConcurrencySlotAcquisitionError:
    return ConcurrencySlotAcquisitionError(f"cannot acquire slots: HTTP {exc.response.status_code} {exc.response.text}")


async def _until_unlocked(what: str, call: Callable[[], Awaitable[T]], timeout_seconds: float) -> T:
    """Run ``call``; on ``423 Locked`` wait the server's Retry-After and try again, until ``timeout_seconds``."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            return await call()
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 423:
                raise _refused(exc) from exc
            wait = float(exc.response.headers.get("Retry-After", "1"))
            if time.monotonic() + wait > deadline:
                raise TimeoutError(f"no free slot of {what} within {timeout_seconds:g} s") from exc
            await asyncio.sleep(wait)


def _missing(names: Iterable[str], body: dict[str, Any] | list[dict[str, Any]]) -> list[str]:
    limits = body if isinstance(body, list) else body.get("limits", [])
    found = {limit["name"] for limit in limits}
    return [name for name in names if name not in found]


class PrefectServerBusy(Exception):
    """The Prefect server answered 503: its database was busy (SQLite: "database is locked")."""


async def _raise_when_busy(response: httpx.Response) -> None:
    if response.status_code == 503:
        await response.aread()
        raise PrefectServerBusy(f"{response.request.method} {response.request.url.path}: 503 {response.text[:200]}")


class LimitCalls:
    """Prefect's global-limit endpoints, one call at a time, on a client of their own.

    On a SQLite-backed server a write that meets another one fails with 503 ("database is locked"), and
    Prefect's client then waits 2 s, 4 s, ... before trying again: right for an overloaded server, far too
    long for a lock that clears in milliseconds, while every tenant waits for the slot. Measured at 200 tenants,
    about half of these calls met the server's own recording of task runs. So the client's response hook turns
    a 503 into ``PrefectServerBusy`` before that back-off, and the call is tried again after a short, jittered
    pause (``BUSY_RETRIES`` times at most). The run's own calls never collide with each other: one at a time.
    """

    def __init__(self, client: PrefectClient, *, busy_retries: int = BUSY_RETRIES) -> None:
        self._client = client
        self._busy_retries = busy_retries
        self._lock = asyncio.Lock()

    @classmethod
    @asynccontextmanager
    async def open(cls, *, busy_retries: int = BUSY_RETRIES) -> AsyncIterator[LimitCalls]:
        async with get_client(httpx_settings={"event_hooks": {"response": [_raise_when_busy]}}) as client:
            yield cls(client, busy_retries=busy_retries)

    async def take(self, name: str, slots: int) -> httpx.Response:
        return await self._call(
            lambda: self._client.increment_concurrency_slots(names=[name], slots=slots, mode="rate_limit")
        )

    async def lease(
        self, names: list[str], lease_seconds: float, holder: ConcurrencyLeaseHolder | None
    ) -> httpx.Response:
        return await self._call(
            lambda: self._client.increment_concurrency_slots_with_lease(
                names=names, slots=1, mode="concurrency", lease_duration=lease_seconds, holder=holder
            )
        )

    async def release(self, lease_id: uuid.UUID) -> None:
        await self._call(lambda: self._client.release_concurrency_slots_with_lease(lease_id))

    async def renew(self, lease_id: uuid.UUID, lease_seconds: float) -> None:
        await self._call(lambda: self._client.renew_concurrency_lease(lease_id, lease_seconds))

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, self._busy_retries + 1):
            async with self._lock:
                try:
                    return await call()
                except PrefectServerBusy:
                    if attempt == self._busy_retries:
                        raise
            await asyncio.sleep(random.uniform(0.5, 1.5) * min(BUSY_PAUSE_SECONDS * 2 ** (attempt - 1), 1.0))
        raise AssertionError("unreachable")  # pragma: no cover


class RateBlocks:
    """``permit()`` before each request: one acquisition of ``block`` slots of the rate limit ``name`` covers
    ``block`` requests, and the next block is already on its way when the current one runs out.

    Slots left unused at the end of the run were still counted (they decay like used ones): pacing errs on the
    safe side.
    """

    def __init__(self, calls: LimitCalls, name: str, *, block: int, timeout_seconds: float) -> None:
        if block < 1:
            raise ValueError(f"block must be at least 1, got {block}")
        self.name = name
        self.block = block
        self.acquisitions = 0
        self._calls = calls
        self._timeout_seconds = timeout_seconds
        self._left = 0
        self._next: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def permit(self) -> None:
        async with self._lock:
            if self._left == 0:
                upcoming, self._next = self._next or asyncio.create_task(self._take()), None
                await upcoming
                self._left = self.block
                self._next = asyncio.create_task(self._take())  # the reserve: at most two blocks taken at once
            self._left -= 1

    async def close(self) -> None:
        """Stop a block request still in flight (the run is done)."""
        if self._next is not None:
            self._next.cancel()
            await asyncio.gather(self._next, return_exceptions=True)
            self._next = None

    async def _take(self) -> None:
        response = await _until_unlocked(
            f"rate limit {self.name!r}",
            lambda: self._calls.take(self.name, self.block),
            self._timeout_seconds,
        )
        if _missing([self.name], response.json()):
            raise ConcurrencySlotAcquisitionError(f"rate limit {self.name!r} must be created before acquiring slots")
        self.acquisitions += 1


@dataclass
class _Group:
    names: list[str]
    members_left: int
    acquired: asyncio.Task[dict[str, uuid.UUID | BaseException]] | None = None
    lease_ids: set[uuid.UUID] = field(default_factory=set)


class KeySlots:
    """One slot of each key's concurrency limit, held while that key's tenant is collected.

    ``keys`` are the limit names in the order the run will hold them; ``hold(name)`` must be entered once per
    announcement: a group is released when all of its members have been held and left. Use as
    ``async with KeySlots(...) as slots``: leaving releases whatever is still held.
    """

    def __init__(
        self,
        calls: LimitCalls,
        keys: list[str],
        *,
        group_size: int,
        lease_seconds: float,
        timeout_seconds: float,
        holder: ConcurrencyLeaseHolder | None = None,
    ) -> None:
        if group_size < 1:
            raise ValueError(f"group_size must be at least 1, got {group_size}")
        if lease_seconds < MIN_LEASE_SECONDS:
            raise ValueError(f"lease_seconds must be at least {MIN_LEASE_SECONDS:.0f}, got {lease_seconds}")
        unique = list(dict.fromkeys(keys))
        self.acquisitions = 0
        self._calls = calls
        self._lease_seconds = lease_seconds
        self._timeout_seconds = timeout_seconds
        self._holder = holder
        self._groups = [_Group(unique[i : i + group_size], members_left=0) for i in range(0, len(unique), group_size)]
        self._group_of = {name: index for index, group in enumerate(self._groups) for name in group.names}
        for name in keys:  # a key announced twice (two tenants sharing it) is held, and left, twice
            self._groups[self._group_of[name]].members_left += 1
        self._renewal: asyncio.Task[None] | None = None
        self._releases: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> KeySlots:
        self._renewal = asyncio.create_task(self._renew_forever())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            await asyncio.gather(self._renewal, return_exceptions=True)
        await asyncio.gather(*self._releases)
        for group in self._groups:
            if group.acquired is not None and not group.acquired.done():
                group.acquired.cancel()
                await asyncio.gather(group.acquired, return_exceptions=True)
            await self._release(group)

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        index = self._group_of.get(name)
        if index is None:
            raise KeyError(f"{name!r} is not one of the keys this run announced")
        group = self._groups[index]
        for ahead in range(index + 1, min(index + 1 + GROUPS_AHEAD, len(self._groups))):
            self._start(ahead)  # the next groups, while this one is being collected
        try:
            outcome = (await self._start(index))[name]
            if isinstance(outcome, BaseException):
                raise outcome
            yield
        finally:
            group.members_left -= 1
            if group.members_left == 0:  # in the background: the last member's tenant is done, do not hold it up
                self._releases.append(asyncio.create_task(self._release(group)))

    def _start(self, index: int) -> asyncio.Task[dict[str, uuid.UUID | BaseException]]:
        group = self._groups[index]
        if group.acquired is None:
            group.acquired = asyncio.create_task(self._acquire_group(group))
        return group.acquired

    async def _acquire_group(self, group: _Group) -> dict[str, uuid.UUID | BaseException]:
        """Every name's lease id, or why it could not be held; one request unless some key is busy."""
        if len(group.names) > 1:
            try:
                return self._leased(group, group.names, (await self._increment(group.names)).json())
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 423:
                    return {name: _refused(exc) for name in group.names}
            log.info("a key of a group of %d is busy: acquiring them one by one", len(group.names))
        singles = await asyncio.gather(
            *(self._acquire_one(group, name) for name in group.names), return_exceptions=True
        )
        return dict(zip(group.names, singles, strict=True))

    async def _acquire_one(self, group: _Group, name: str) -> uuid.UUID:
        response = await _until_unlocked(f"{name!r}", lambda: self._increment([name]), self._timeout_seconds)
        outcome = self._leased(group, [name], response.json())[name]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _leased(self, group: _Group, names: list[str], body: dict[str, Any]) -> dict[str, uuid.UUID | BaseException]:
        missing = set(_missing(names, body))
        if len(missing) < len(names):
            lease_id = uuid.UUID(body["lease_id"])
            group.lease_ids.add(lease_id)
            self.acquisitions += 1
        return {
            name: (
                ConcurrencySlotAcquisitionError(f"concurrency limit {name!r} must be created before acquiring slots")
                if name in missing
                else lease_id
            )
            for name in names
        }

    async def _increment(self, names: list[str]) -> httpx.Response:
        return await self._calls.lease(names, self._lease_seconds, self._holder)

    async def _release(self, group: _Group) -> None:
        while group.lease_ids:
            lease_id = group.lease_ids.pop()
            try:
                await self._calls.release(lease_id)
            except (httpx.HTTPError, PrefectServerBusy) as exc:  # the lease expires on its own: log, do not raise
                log.warning("could not release key slots (lease %s): %s", lease_id, exc)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease_seconds / 2)
            for group in self._groups:
                for lease_id in list(group.lease_ids):
                    try:
                        await self._calls.renew(lease_id, self._lease_seconds)
                    except (httpx.HTTPError, PrefectServerBusy) as exc:
                        log.warning("could not renew key slots (lease %s): %s", lease_id, exc)
