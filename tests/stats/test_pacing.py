"""Pacing with Prefect global limits, against Prefect's real (test harness) server.

Strict (a missing limit is an error), key slots held per group and released when the group is done, a busy
key delaying only its own tenant, rate-limit blocks, and 503 answers of a busy server retried at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import PrefectClient, get_client
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
from prefect.settings import PREFECT_API_URL, temporary_settings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from postpipe.loopback_server import ThreadedServer
from postpipe.pacing import KeySlots, LimitCalls, PrefectServerBusy, RateBlocks
from tests.sandbox.helpers import wait_until


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _active(client: PrefectClient, name: str) -> int:
    return (await client.read_global_concurrency_limit_by_name(name)).active_slots


def test_key_slots_are_taken_per_group_strictly_and_released_when_the_group_is_done(prefect_harness: None) -> None:
    k1, k2, k3, never_created = (_name(p) for p in ("key-a", "key-b", "key-c", "key-missing"))

    async def scenario() -> None:
        async with get_client() as client, LimitCalls.open() as calls:
            for name in (k1, k2, k3):
                await client.upsert_global_concurrency_limit_by_name(name, 1)
            keys = KeySlots(calls, [k1, k2, k3, never_created], group_size=2, lease_seconds=60, timeout_seconds=30)
            async with keys:
                async with keys.hold(k1):
                    assert (await _active(client, k1), await _active(client, k2)) == (1, 1)  # one lease, both keys
                assert await _active(client, k2) == 1  # k2's tenant has not been collected yet: the group stays
                async with keys.hold(k2):
                    pass
                await wait_until(lambda: _is_free(client, k1, k2), timeout=30)
                with pytest.raises(ConcurrencySlotAcquisitionError, match=f"{never_created}.*must be created"):
                    async with keys.hold(never_created):
                        pass
                async with keys.hold(k3):  # the missing limit of its group does not stop it
                    assert await _active(client, k3) == 1
                with pytest.raises(KeyError, match="not one of the keys"):
                    async with keys.hold(_name("unannounced")):
                        pass
            assert keys.acquisitions == 2  # one request per group
            assert await _active(client, k3) == 0

    asyncio.run(scenario())


async def _is_free(client: PrefectClient, *names: str) -> bool:
    return all([await _active(client, name) == 0 for name in names])


def test_a_busy_key_delays_only_its_own_tenant(prefect_harness: None) -> None:
    free, busy = _name("key-free"), _name("key-busy")

    async def scenario() -> None:
        async with get_client() as client, LimitCalls.open() as calls:
            for name in (free, busy):
                await client.upsert_global_concurrency_limit_by_name(name, 1)
            other_run = uuid.UUID(
                (await calls.lease([busy], lease_seconds=60, holder=None)).json()["lease_id"]
            )  # another run holds the busy key
            keys = KeySlots(calls, [free, busy], group_size=2, lease_seconds=60, timeout_seconds=0.5)
            async with keys:
                async with keys.hold(free):
                    assert await _active(client, free) == 1
                with pytest.raises(TimeoutError, match=f"no free slot of '{busy}'"):
                    async with keys.hold(busy):
                        pass
            assert await _is_free(client, free)
            assert await _active(client, busy) == 1  # still the other run's
            await calls.release(other_run)
            assert await _is_free(client, busy)

    asyncio.run(scenario())


def test_rate_limit_is_strict_and_taken_in_blocks(prefect_harness: None) -> None:
    name = _name("rate")

    async def scenario() -> None:
        async with get_client() as client, LimitCalls.open() as calls:
            missing = RateBlocks(calls, name, block=2, timeout_seconds=30)
            with pytest.raises(ConcurrencySlotAcquisitionError, match="must be created"):
                await missing.permit()  # strict, not silently unlimited
            await missing.close()
            await client.upsert_global_concurrency_limit_by_name(name, 10, slot_decay_per_second=5.0)
            rate = RateBlocks(calls, name, block=2, timeout_seconds=60)
            for _ in range(5):
                await rate.permit()
            await rate.close()
            # 5 requests use 3 blocks of 2; a fourth may have been fetched ahead as the reserve
            assert rate.acquisitions in (3, 4)

    asyncio.run(scenario())


class BusyPrefect:
    """A loopback proxy in front of the harness's API that answers ``busy`` limit calls with 503 first,
    as a SQLite-backed Prefect server does when two writes meet ("database is locked")."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.busy = 0
        self.limit_calls = 0
        self._server = ThreadedServer(name="busy-prefect", graceful=False)
        self.url = ""

    async def _forward(self, request: Request) -> Response:
        path = request.url.path.removeprefix("/api")
        if "/concurrency_limits/" in path:
            self.limit_calls += 1
            if self.busy:
                self.busy -= 1
                return JSONResponse({"exception_message": "Service Unavailable"}, status_code=503)
        async with httpx.AsyncClient() as upstream:
            answer = await upstream.request(
                request.method, self.upstream + path, params=request.query_params, content=await request.body(),
                headers={"content-type": request.headers.get("content-type", "application/json")},
            )
        return Response(answer.content, status_code=answer.status_code, media_type=answer.headers.get("content-type"))

    def __enter__(self) -> BusyPrefect:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        app = Starlette(routes=[Route("/{path:path}", self._forward, methods=methods)])
        self.url = f"http://127.0.0.1:{self._server.start(app, 0)}/api"
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._server.stop()


@pytest.fixture
def busy_prefect(prefect_harness: None) -> Iterator[BusyPrefect]:
    with BusyPrefect(PREFECT_API_URL.value()) as proxy, temporary_settings(updates={PREFECT_API_URL: proxy.url}):
        yield proxy


def test_busy_answers_are_tried_again_at_once_not_after_the_clients_back_off(busy_prefect: BusyPrefect) -> None:
    name = _name("rate")

    async def scenario() -> None:
        async with get_client() as client:
            await client.upsert_global_concurrency_limit_by_name(name, 100, slot_decay_per_second=50.0)
        async with LimitCalls.open() as calls:
            # six 503s in a row: Prefect's own client gives up after five retries (and 2+4+8+16+32 s of back-off)
            busy_prefect.busy, busy_prefect.limit_calls = 6, 0
            answer = await calls.take(name, 1)
            assert answer.json()[0]["name"] == name
            assert busy_prefect.limit_calls == 7
        async with LimitCalls.open(busy_retries=3) as impatient:
            busy_prefect.busy, busy_prefect.limit_calls = 5, 0
            with pytest.raises(PrefectServerBusy, match="increment: 503"):
                await impatient.take(name, 1)
            assert busy_prefect.limit_calls == 3

    asyncio.run(scenario())
