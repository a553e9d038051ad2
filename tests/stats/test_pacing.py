"""Pacing with Prefect global limits: strict (a missing limit is an error), key slots held and released."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prefect.client.orchestration import get_client
from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError

from tasks.stats import PostproxyPacing, key_limit_name


def test_key_slots_are_strict_held_and_released(prefect_harness: None) -> None:
    key_id = f"key_{uuid.uuid4().hex[:8]}"
    rate_name = f"rate-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        async with get_client() as client:
            await client.upsert_global_concurrency_limit_by_name(key_limit_name(key_id), 1)
            pacing = PostproxyPacing(client, rate_limit_name=rate_name, block=2, timeout_seconds=0.5)
            async with pacing.key_slot(key_id):
                held = await client.read_global_concurrency_limit_by_name(key_limit_name(key_id))
                assert held.active_slots == 1
                with pytest.raises(TimeoutError, match="no free slot"):
                    async with pacing.key_slot(key_id):
                        pass
            released = await client.read_global_concurrency_limit_by_name(key_limit_name(key_id))
            assert released.active_slots == 0
            with pytest.raises(ConcurrencySlotAcquisitionError, match="must be created"):
                async with pacing.key_slot("never-created"):
                    pass
            assert pacing.key_acquisitions == 1
            # generous timeouts from here on: answers (and slot decay) take longer on a loaded machine
            patient = PostproxyPacing(client, rate_limit_name=rate_name, block=2, timeout_seconds=60)
            with pytest.raises(ConcurrencySlotAcquisitionError):
                await patient.permit()  # the rate limit does not exist: strict, not silently unlimited
            await client.upsert_global_concurrency_limit_by_name(rate_name, 10, slot_decay_per_second=5.0)
            for _ in range(5):
                await patient.permit()
            assert patient.rate_acquisitions == 3  # blocks of 2 slots

    asyncio.run(scenario())
