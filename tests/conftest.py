"""Shared fixtures: a real PostgreSQL database per test session, SQLite where a test runs on both,
and Prefect's test harness for the tests that run flows.

PostgreSQL: ``POSTPIPE_TEST_PG`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432``) is the server;
each session creates a database of its own and drops it at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

PG_SERVER = os.environ.get("POSTPIPE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")

# Settings for the whole session (before anything imports postpipe.settings).
os.environ.setdefault("POSTPIPE_SECRET_KEY", Fernet.generate_key().decode())
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def _admin_dsn(dbname: str = "postgres") -> str:
    return PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + f"/{dbname}"


def create_database(prefix: str) -> str:
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    from postpipe.db import dispose_engines

    dispose_engines()
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A migrated PostgreSQL database for the whole session, with the plan catalog loaded."""
    from postpipe.commands.db import upgrade_database

    name = create_database("postpipe_test")
    url = pg_url(name)
    upgrade_database(url)
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from postpipe.commands.db import upgrade_database

    path: Path = tmp_path_factory.mktemp("sqlite") / "postpipe.db"
    url = f"sqlite:///{path}"
    upgrade_database(url)
    return url


def _truncate(url: str) -> None:
    from postpipe.db import get_engine
    from postpipe.models import Base

    engine = get_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name not in ("plans", "plan_prices")]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


def _use_database(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from postpipe.settings import reset_settings_cache

    monkeypatch.setenv("POSTPIPE_DATABASE_URL", url)
    reset_settings_cache()
    _truncate(url)
    return url


@pytest.fixture
def pg_db(pg_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The session's PostgreSQL database, emptied (plans kept), and made the configured database."""
    from postpipe.settings import reset_settings_cache

    yield _use_database(pg_database_url, monkeypatch)
    reset_settings_cache()


@pytest.fixture(params=["postgresql", "sqlite"])
def any_db(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs a test once on PostgreSQL and once on SQLite (repository code must work on both)."""
    from postpipe.settings import reset_settings_cache

    url = request.getfixturevalue("pg_database_url" if request.param == "postgresql" else "sqlite_database_url")
    yield _use_database(url, monkeypatch)
    reset_settings_cache()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Prefect's test harness (a temporary API server and database), once for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh Postproxy sandbox on a free loopback port, configured as postpipe's Postproxy account."""
    from postpipe.sandbox import SandboxServer
    from postpipe.settings import reset_settings_cache

    with SandboxServer(host="127.0.0.1", port=0) as server:
        monkeypatch.setenv("POSTPIPE_POSTPROXY_BASE_URL", server.base_url)
        monkeypatch.setenv("POSTPIPE_POSTPROXY_API_KEY", server.account_key)
        monkeypatch.setenv("POSTPIPE_WEBHOOK_PUBLIC_URL", os.environ.get("POSTPIPE_WEBHOOK_PUBLIC_URL", DEAD_RECEIVER))
        reset_settings_cache()
        yield server
    reset_settings_cache()


DEAD_RECEIVER = "http://127.0.0.1:9/webhooks/postproxy"
"""A receiver URL nobody listens on, for tests that do not look at webhooks (deliveries just fail)."""
