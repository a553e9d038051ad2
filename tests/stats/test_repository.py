"""The stats repository on PostgreSQL and SQLite: idempotent inserts, latest snapshots, the collection plan."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from postpipe import models as m
from postpipe.db import owner_session, tenant_scope
from postpipe.repositories import deliveries, stats
from postpipe.repositories.stats import SnapshotRow
from tests.factories import T0, full_tenant


def test_insert_is_idempotent_and_latest_wins(any_db: str) -> None:
    with owner_session() as session:
        ids = full_tenant(session, "acme")  # has one snapshot at T0 + 1h (impressions 10)
        post_id, account_id = ids["post"], ids["account"]
    tid = ids["tenant"]
    rows = [
        SnapshotRow(post_id, account_id, "twitter", T0 + timedelta(hours=h), {"impressions": 10 * h}, {"impression_count": 10 * h})
        for h in (1, 2, 3)
    ]
    with tenant_scope(tid) as session:
        assert stats.insert_snapshots(session, tid, rows, collected_at=T0) == 2
    with tenant_scope(tid) as session:
        assert stats.insert_snapshots(session, tid, rows, collected_at=T0) == 0
        latest = stats.latest_snapshots(session, tid)
        assert [(s.recorded_at, s.metrics) for s in latest] == [(T0 + timedelta(hours=3), {"impressions": 30})]
        assert [p.metrics["impressions"] for p in stats.series(session, tid, [post_id])] == [10, 20, 30]
        assert stats.latest_snapshots(session, tid, since=T0 + timedelta(hours=4)) == []
    with owner_session() as session:
        raw = session.scalars(select(m.StatsSnapshot.raw_metrics).order_by(m.StatsSnapshot.recorded_at)).all()
        assert raw[-1] == {"impression_count": 30}


def test_collection_plan_takes_published_posts_in_the_window(any_db: str) -> None:
    with owner_session() as session:
        ids = full_tenant(session, "acme")
        session.execute(
            m.Post.__table__.update().where(m.Post.id == ids["post"]).values(postproxy_post_id="post_x")
        )
    tid = ids["tenant"]
    window = T0 - timedelta(days=30)
    with tenant_scope(tid) as session:
        assert stats.collection_plan(session, tid, window_start=window, refetch_overlap=timedelta(hours=2)).posts == ()
        deliveries.advance(session, tid, ids["post"], ids["account"], "published", at=T0)
    with tenant_scope(tid) as session:
        plan = stats.collection_plan(session, tid, window_start=window, refetch_overlap=timedelta(hours=2))
        assert [(p.postproxy_post_id, p.fetch_from) for p in plan.posts] == [("post_x", T0 - timedelta(hours=1))]
        assert plan.accounts["prof_acme"].id == ids["account"]
        later = stats.collection_plan(session, tid, window_start=T0 + timedelta(minutes=1), refetch_overlap=timedelta(0))
        assert later.posts == ()  # published before the window
