"""Queues through the SDK: CRUD, next slot in the queue's time zone, priorities, jitter, pausing."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from postproxy import NotFoundError, ValidationError

from postpipe.sandbox import SandboxServer

from .conftest import Tenant

pytestmark = pytest.mark.anyio


def expected_slots(now: datetime, zone_name: str, slots: list[tuple[int, str]], count: int) -> list[datetime]:
    """Independent reference: the next ``count`` slot instants after ``now`` (0 = Sunday)."""
    zone = ZoneInfo(zone_name)
    local_today = now.astimezone(zone).date()
    found: list[datetime] = []
    for offset in range(0, 60):
        day = local_today + timedelta(days=offset)
        sunday_zero = (day.weekday() + 1) % 7
        for slot_day, text in sorted(slots, key=lambda s: s[1]):
            if slot_day != sunday_zero:
                continue
            hour, minute = (int(x) for x in text.split(":"))
            instant = datetime.combine(day, time(hour, minute), tzinfo=zone)
            if instant > now:
                found.append(instant)
    return sorted(found)[:count]


async def test_queue_crud(tenant: Tenant) -> None:
    client = tenant.client
    queue = await client.queues.create(
        "Mornings", tenant.group_id, description="weekday mornings", timezone="Europe/Berlin", jitter=5,
        timeslots=[{"day": 1, "time": "09:00"}, {"day": 3, "time": "9:30"}],
    )
    assert (queue.timezone, queue.jitter, queue.enabled, queue.posts_count) == ("Europe/Berlin", 5, True, 0)
    assert [(s.day, s.time) for s in queue.timeslots] == [(1, "09:00"), (3, "09:30")]
    assert all(isinstance(s.id, int) for s in queue.timeslots)
    assert [q.id for q in (await client.queues.list()).data] == [queue.id]
    assert (await client.queues.get(queue.id)).name == "Mornings"
    first_slot = queue.timeslots[0].id
    updated = await client.queues.update(
        queue.id, name="Mornings+", enabled=False, timezone="Asia/Tokyo",
        timeslots=[{"id": first_slot, "_destroy": True}, {"day": 5, "time": "18:00"}],
    )
    assert (updated.name, updated.enabled, updated.timezone) == ("Mornings+", False, "Asia/Tokyo")
    assert [(s.day, s.time) for s in updated.timeslots] == [(3, "09:30"), (5, "18:00")]
    assert (await client.queues.delete(queue.id)).deleted
    with pytest.raises(NotFoundError):
        await client.queues.get(queue.id)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeslots": [{"day": 7, "time": "09:00"}]},
        {"timeslots": [{"day": 1, "time": "25:00"}]},
        {"timezone": "Mars/Olympus"},
        {"jitter": 90},
    ],
)
async def test_queue_validation(tenant: Tenant, kwargs: dict) -> None:
    with pytest.raises(ValidationError):
        await tenant.client.queues.create("Bad", tenant.group_id, **kwargs)


async def test_next_slot_in_queue_time_zone(tenant: Tenant, sandbox: SandboxServer) -> None:
    slots = [(1, "09:00"), (4, "16:45")]
    queue = await tenant.client.queues.create(
        "NY", tenant.group_id, timezone="America/New_York", timeslots=[{"day": d, "time": t} for d, t in slots]
    )
    reference = expected_slots(sandbox.now(), "America/New_York", slots, 3)
    nxt = await tenant.client.queues.next_slot(queue.id)
    assert datetime.fromisoformat(nxt.next_slot.replace("Z", "+00:00")) == reference[0]
    local = reference[0].astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) in {(9, 0), (16, 45)} and local.isoweekday() in {1, 4}
    # a queued post takes that slot, so the next free one moves on
    await tenant.client.posts.create("queued", [tenant.twitter], queue_id=queue.id)
    moved = await tenant.client.queues.next_slot(queue.id)
    assert datetime.fromisoformat(moved.next_slot.replace("Z", "+00:00")) == reference[1]
    empty = await tenant.client.queues.create("Empty", tenant.group_id)
    with pytest.raises(ValidationError):
        await tenant.client.queues.next_slot(empty.id)


async def test_queued_posts_take_slots_by_priority_and_publish_on_time(tenant: Tenant, sandbox: SandboxServer) -> None:
    slots = [(day, "10:00") for day in range(7)]
    queue = await tenant.client.queues.create("Daily", tenant.group_id, timezone="Asia/Kolkata", timeslots=[{"day": d, "time": t} for d, t in slots])
    reference = expected_slots(sandbox.now(), "Asia/Kolkata", slots, 3)
    low = await tenant.client.posts.create("low", [tenant.twitter], queue_id=queue.id, queue_priority="low")
    medium = await tenant.client.posts.create("medium", [tenant.twitter], queue_id=queue.id)
    high = await tenant.client.posts.create("high", [tenant.twitter], queue_id=queue.id, queue_priority="high")
    assert low.status == "scheduled" and low.queue_id == queue.id and medium.queue_priority == "medium"
    assigned = {p: (await tenant.client.posts.get(i)).scheduled_at for p, i in (("low", low.id), ("medium", medium.id), ("high", high.id))}
    assert [assigned["high"], assigned["medium"], assigned["low"]] == reference
    assert (await tenant.client.queues.get(queue.id)).posts_count == 3

    sandbox.advance((reference[0] - sandbox.now()).total_seconds() + 2)
    statuses = {p.body: p.status for p in (await tenant.client.posts.list()).data}
    assert statuses == {"high": "processed", "medium": "scheduled", "low": "scheduled"}
    assert (await tenant.client.queues.get(queue.id)).posts_count == 2


async def test_jitter_stays_within_bounds_and_is_stable(tenant: Tenant, sandbox: SandboxServer) -> None:
    slots = [(day, "12:00") for day in range(7)]
    queue = await tenant.client.queues.create("Jittery", tenant.group_id, jitter=15, timeslots=[{"day": d, "time": t} for d, t in slots])
    reference = expected_slots(sandbox.now(), "UTC", slots, 4)
    posts = [await tenant.client.posts.create(f"j{i}", [tenant.twitter], queue_id=queue.id) for i in range(4)]
    times = [(await tenant.client.posts.get(p.id)).scheduled_at for p in posts]
    for actual, slot in zip(times, reference):
        assert actual is not None and abs((actual - slot).total_seconds()) <= 15 * 60
    assert any(actual != slot for actual, slot in zip(times, reference))
    await tenant.client.queues.update(queue.id, name="Jittery again")  # rearranging keeps the same jitter
    assert [(await tenant.client.posts.get(p.id)).scheduled_at for p in posts] == times


async def test_paused_queue_holds_posts_until_enabled(tenant: Tenant, sandbox: SandboxServer) -> None:
    slots = [(day, "08:00") for day in range(7)]
    queue = await tenant.client.queues.create("Pausable", tenant.group_id, timeslots=[{"day": d, "time": t} for d, t in slots])
    post = await tenant.client.posts.create("held", [tenant.twitter], queue_id=queue.id)
    await tenant.client.queues.update(queue.id, enabled=False)
    sandbox.advance(2 * 86400)
    held = await tenant.client.posts.get(post.id)
    assert held.status == "scheduled"
    await tenant.client.queues.update(queue.id, enabled=True)
    rescheduled = await tenant.client.posts.get(post.id)
    assert rescheduled.scheduled_at is not None and rescheduled.scheduled_at > sandbox.now()
    sandbox.advance(86400 + 5)
    assert (await tenant.client.posts.get(post.id)).status == "processed"


async def test_queue_and_scheduled_at_cannot_be_combined(tenant: Tenant, sandbox: SandboxServer) -> None:
    queue = await tenant.client.queues.create("Q", tenant.group_id, timeslots=[{"day": 2, "time": "10:00"}])
    with pytest.raises(ValidationError):
        await tenant.client.posts.create("both", [tenant.twitter], queue_id=queue.id, scheduled_at=sandbox.now() + timedelta(days=1))
