"""Batching post ids into Postproxy stats requests (pure logic)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from postpipe.repositories.stats import PostToCollect
from postpipe.stats_collection import MAX_POST_IDS_PER_REQUEST, plan_requests
from tests.factories import T0


def test_requests_carry_at_most_50_ids_and_group_similar_start_times() -> None:
    fresh = [PostToCollect(uuid.uuid4(), f"new_{i:03}", T0 - timedelta(days=30)) for i in range(60)]
    known = [PostToCollect(uuid.uuid4(), f"old_{i:03}", T0 - timedelta(hours=2)) for i in range(45)]
    requests = plan_requests(known + fresh)
    assert [len(r.post_ids) for r in requests] == [50, 50, 5]
    assert all(len(r.post_ids) <= MAX_POST_IDS_PER_REQUEST for r in requests)
    assert requests[0].from_date == T0 - timedelta(days=30)
    assert requests[-1].from_date == T0 - timedelta(hours=2) and set(requests[-1].post_ids) <= {p.postproxy_post_id for p in known}
    assert sorted(i for r in requests for i in r.post_ids) == sorted(p.postproxy_post_id for p in known + fresh)
    assert plan_requests([]) == []
    with pytest.raises(ValueError, match="batch_size must be between 1 and 50"):
        plan_requests(fresh, batch_size=51)
