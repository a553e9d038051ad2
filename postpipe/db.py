"""Engine and sessions. Every session is opened in an explicit scope.

- ``tenant_scope(tenant_id)``: what a tenant's work runs in. On PostgreSQL each transaction switches to
  the non-superuser application role and sets ``app.tenant_id``, so row-level security hides every other
  tenant's rows even from a query that forgets its filter.
- ``system_scope(reason)``: platform-wide work (onboarding, billing runs, the webhook receiver). Same
  application role, with ``app.scope = 'system'``: the policies let it through on purpose, and the reason
  is visible in ``pg_stat_activity`` as ``application_name``.

Repositories take a session and never commit; the scope commits on success and rolls back on error.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from postpipe.settings import get_settings

_ENGINES: dict[str, Engine] = {}
_FACTORIES: dict[str, sessionmaker[Session]] = {}


def _create_engine(url: str) -> Engine:
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def get_engine(url: str | None = None) -> Engine:
    url = url or get_settings().database_url
    if url not in _ENGINES:
        _ENGINES[url] = _create_engine(url)
    return _ENGINES[url]


def dispose_engines() -> None:
    """Close every pooled connection and forget the engines (tests drop databases; the demo restarts)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()
    _FACTORIES.clear()


def is_postgres(session_or_engine: Session | Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


_SCOPE_KEY = "postpipe.scope"


def _apply_scope(session: Session, _transaction: Any, connection: Any) -> None:
    """Re-applied at the start of every transaction of a scoped session (SET LOCAL ends with it)."""
    scope = session.info.get(_SCOPE_KEY)
    if scope is None or connection.dialect.name != "postgresql":
        return
    kind, value = scope
    # one round trip: set_config('role', ..., true) is SET LOCAL ROLE
    connection.execute(
        text(
            "SELECT set_config('role', :role, true), set_config('app.tenant_id', :tenant, true), "
            "set_config('app.scope', :kind, true), set_config('application_name', :name, true)"
        ),
        {
            "role": get_settings().app_role,
            "tenant": value if kind == "tenant" else "",
            "kind": kind,
            "name": f"postpipe:{value if kind == 'system' else 'tenant'}"[:63],
        },
    )


def _session_factory(url: str) -> sessionmaker[Session]:
    if url not in _FACTORIES:
        factory = sessionmaker(bind=get_engine(url), expire_on_commit=False)
        event.listen(factory, "after_begin", _apply_scope)
        _FACTORIES[url] = factory
    return _FACTORIES[url]


@contextmanager
def _scoped(scope: tuple[str, str] | None, url: str | None = None) -> Iterator[Session]:
    factory = _session_factory(url or get_settings().database_url)
    session = factory()
    session.info[_SCOPE_KEY] = scope
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def tenant_scope(tenant_id: uuid.UUID | str, *, url: str | None = None) -> Any:
    """A session that can see one tenant's rows only (enforced by RLS on PostgreSQL)."""
    return _scoped(("tenant", str(uuid.UUID(str(tenant_id)))), url)


def system_scope(reason: str, *, url: str | None = None) -> Any:
    """A session for platform-wide work; ``reason`` names the work (it shows in pg_stat_activity)."""
    if not reason:
        raise ValueError("system_scope needs a reason naming the platform-wide work")
    return _scoped(("system", reason), url)


def owner_session(url: str | None = None) -> Any:
    """A session as the connecting (owner) role, no scope: migrations and test set-up only."""
    return _scoped(None, url)
