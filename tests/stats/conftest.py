from __future__ import annotations

from typing import Any

import pytest

from postpipe.settings import reset_settings_cache


@pytest.fixture
def stats_world(pg_db: str, sandbox: Any, prefect_harness: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """PostgreSQL + the sandbox over HTTP + Prefect's harness, with quick Postproxy retries."""
    monkeypatch.setenv("POSTPIPE_POSTPROXY_RETRY_BASE_DELAY", "0.01")
    monkeypatch.setenv("POSTPIPE_POSTPROXY_RETRY_ATTEMPTS", "2")
    reset_settings_cache()
    return sandbox
