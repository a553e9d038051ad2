"""The delivery state machine and the event store, on PostgreSQL and SQLite (the embedded demo)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from postpipe.db import system_scope
from postpipe.models import utcnow
from postpipe.repositories import deliveries, notifications, webhook_events
from postpipe.repositories.webhook_events import Match
from tests.webhooks.conftest import T0, seed_tenant


def test_forward_only_transitions_and_bookkeeping(any_db: str) -> None:
    seed = seed_tenant(url=any_db)
    post_id, account_id = seed.posts["p_acme_0"], seed.accounts["prof_x"]
    with system_scope("test", url=any_db) as s:
        assert deliveries.record_targets(s, seed.tenant_id, post_id, seed.accounts.values()) == 0  # already there
        step = lambda status, minutes, **kw: deliveries.advance(  # noqa: E731
            s, seed.tenant_id, post_id, account_id, status, at=T0 + timedelta(minutes=minutes), **kw
        )
        assert step("processing", 1)
        assert not step("pending", 2)  # backwards: ignored
        assert step("failed_waiting_for_retry", 3, error="429", attempt=True)
        assert step("published", 5, platform_post_id="99", permalink="https://x.example/99", attempt=True)
        assert not step("failed", 4, error="late", attempt=True)  # terminal is never left
        assert not step("processing", 9)
        d = deliveries.get(s, seed.tenant_id, post_id, account_id)
        assert d is not None
        assert (d.status, d.attempts, d.error, d.platform_post_id, d.permalink) == ("published", 3, None, "99", "https://x.example/99")
        assert (d.published_at, d.last_event_at) == (T0 + timedelta(minutes=5), T0 + timedelta(minutes=9))
        # polling learns a failure with no webhook ever counted: still at least one attempt
        other = seed.accounts["prof_ig"]
        assert deliveries.advance(s, seed.tenant_id, post_id, other, "failed", at=T0, error="gone")
        assert deliveries.get(s, seed.tenant_id, post_id, other).attempts == 1  # type: ignore[union-attr]
        with pytest.raises(deliveries.UnknownDeliveryStatusError, match="deleted"):
            step("deleted", 10)
        with pytest.raises(deliveries.DeliveryNotFoundError):
            deliveries.advance(s, seed.tenant_id, seed.tenant_id, account_id, "published", at=T0)


def test_unfinished_find_for_event_and_fast_path(any_db: str) -> None:
    seed = seed_tenant(url=any_db, posts=2)
    with system_scope("test", url=any_db) as s:
        target = deliveries.find_for_event(s, "p_acme_1", "prof_ig")
        assert target is not None and target.post_id == seed.posts["p_acme_1"] and target.status == "pending"
        assert deliveries.find_for_event(s, "p_acme_1", "prof_nobody") is None
        moved = deliveries.advance_by_refs(s, "p_acme_1", "prof_ig", "published", at=T0, attempt=True)
        assert moved is not None and moved.account_id == seed.accounts["prof_ig"]
        assert deliveries.advance_by_refs(s, "p_acme_1", "prof_ig", "failed", at=T0, attempt=True) is None
        stale = deliveries.unfinished(s, utcnow() + timedelta(minutes=1))
        assert len(stale) == 3 and {u.postproxy_post_id for u in stale} == {"p_acme_0", "p_acme_1"}
        assert deliveries.unfinished(s, utcnow() - timedelta(hours=1)) == []


def test_event_store_and_notifications_are_idempotent(any_db: str) -> None:
    seed = seed_tenant(url=any_db)
    with system_scope("test", url=any_db) as s:
        first = webhook_events.insert_once(s, event_id="e1", type="post.processed", payload={"data": {}}, occurred_at=T0,
                                           match=Match(True, seed.tenant_id, seed.posts["p_acme_0"]))
        again = webhook_events.insert_once(s, event_id="e1", type="post.processed", payload={"data": {}}, occurred_at=T0,
                                           match=Match(True, seed.tenant_id))
        assert first is not None and again is None
        assert [e.event_id for e in webhook_events.unemitted(s)] == ["e1"]
        assert webhook_events.mark_emitted(s, [first]) == 1 and webhook_events.unemitted(s) == []
        kwargs = dict(kind="test", recipients=[seed.admin_email], subject="s", body="b", dedupe_key="k")
        assert len(notifications.record(s, seed.tenant_id, **kwargs)) == 1  # type: ignore[arg-type]
        assert notifications.record(s, seed.tenant_id, **kwargs) == []  # type: ignore[arg-type]
