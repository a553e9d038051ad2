"""The README's main job, end to end, on PostgreSQL; its outcome is read from the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console

from postpipe.demo import run_demo
from postpipe.settings import reset_settings_cache
from tests.conftest import create_database, drop_database, pg_url

DEMO_ENV = (
    "POSTPIPE_DATABASE_URL", "POSTPIPE_DATA_DIR", "POSTPIPE_POSTPROXY_BASE_URL", "POSTPIPE_POSTPROXY_API_KEY",
    "POSTPIPE_WEBHOOK_PUBLIC_URL", "POSTPIPE_APPROVAL_POLL_SECONDS", "POSTPIPE_DELIVERY_POLL_SECONDS",
    "POSTPIPE_DELIVERY_CONFIRM_SECONDS", "POSTPIPE_POSTPROXY_RETRY_BASE_DELAY",
)


@pytest.fixture
def demo_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in DEMO_ENV:  # the demo configures these; monkeypatch puts the originals back afterwards
        monkeypatch.setenv(name, "unset-by-test")
    name = create_database("postpipe_demo")
    yield pg_url(name)
    reset_settings_cache()
    drop_database(name)


def test_demo_runs_the_whole_story(prefect_harness: None, demo_database: str, tmp_path: Path) -> None:
    result = run_demo(database_url=demo_database, output_dir=tmp_path, console=Console(quiet=True), stats_days=5)
    engine = sa.create_engine(demo_database)
    with engine.connect() as db:
        posts = dict(db.execute(sa.text("select status, count(*) from posts group by status")).all())
        deliveries = {
            (platform, status): n
            for platform, status, n in db.execute(
                sa.text("select platform, status, count(*) from deliveries group by platform, status")
            )
        }
        invoices = db.execute(
            sa.text("select t.slug, i.status, i.number from invoices i join tenants t on t.id = i.tenant_id")
        ).all()
        snapshots = db.scalar(sa.text("select count(*) from stats_snapshots"))
        rejected_reason = db.scalar(sa.text("select status_reason from posts where status = 'rejected'"))
    engine.dispose()
    assert posts == {"published": 3, "partially_published": 1, "rejected": 1}
    assert deliveries == {
        ("twitter", "published"): 3, ("threads", "published"): 1, ("linkedin", "failed"): 1,
        ("instagram", "published"): 1, ("facebook", "published"): 1,
    }
    assert sorted((slug, status) for slug, status, _ in invoices) == [
        ("acme", "finalized"), ("bistro", "finalized"), ("cobalt", "finalized"),
    ]
    assert len({number for _, _, number in invoices}) == 3
    assert snapshots > 0
    assert "Launch date is not public yet" in rejected_reason
    assert result.posts_by_state == posts and result.snapshots == snapshots  # the summary the demo prints
    assert len(result.invoice_files) == 3
    assert all(path.exists() and path.stat().st_size > 0 for path in result.invoice_files)
