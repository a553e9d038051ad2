"""Reaching Postproxy: SDK clients for the account and for each tenant, and the one retry policy.

Every call goes through the official SDK (``postproxy.PostProxy``). ``call_with_retries`` is the single place
where transient failures are retried: 429 waits for ``Retry-After``, 5xx and connection errors back off
exponentially, any other 4xx is final and surfaces with Postproxy's own message.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import TypeVar

import httpx
from postproxy import PostProxy
from postproxy._exceptions import PostProxyError, RateLimitError
from pydantic import SecretStr

from postpipe.db import system_scope
from postpipe.repositories import tenants
from postpipe.settings import get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_RETRY_AFTER_SECONDS = 60.0


class PostproxyNotConfiguredError(RuntimeError):
    pass


def account_api_key() -> tuple[SecretStr, str]:
    """The account-wide key and base URL: from settings if given, else from the PostproxyCredentials block."""
    settings = get_settings()
    if settings.postproxy_api_key is not None:
        return settings.postproxy_api_key, settings.postproxy_base_url
    from blocks.postproxy import PostproxyCredentials

    try:
        block = PostproxyCredentials.load(settings.postproxy_credentials_block)
    except ValueError as exc:
        raise PostproxyNotConfiguredError(
            f"no account-wide Postproxy key: set POSTPIPE_POSTPROXY_API_KEY or save a PostproxyCredentials block "
            f"named {settings.postproxy_credentials_block!r}"
        ) from exc
    return block.api_key, block.base_url


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: loading the CA bundle costs ~50 ms each time otherwise."""
    return ssl.create_default_context()


def _client(key: SecretStr, base_url: str) -> PostProxy:
    return PostProxy(
        key.get_secret_value(),
        base_url=base_url,
        httpx_client=httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0), verify=_tls()),
    )


@asynccontextmanager
async def account_client() -> AsyncIterator[PostProxy]:
    """A client with the account-wide key (onboarding and installation set-up only)."""
    key, base_url = account_api_key()
    client = _client(key, base_url)
    try:
        yield client
    finally:
        await client._client.aclose()


@asynccontextmanager
async def tenant_client(tenant_id: uuid.UUID) -> AsyncIterator[PostProxy]:
    """A client with the tenant's own group-scoped key: it can see nothing of other tenants."""
    with system_scope("load tenant api key") as session:
        key = tenants.api_key(session, tenant_id)
    _, base_url = account_api_key()
    client = _client(key, base_url)
    try:
        yield client
    finally:
        await client._client.aclose()


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, RateLimitError | httpx.TransportError):
        return True
    return isinstance(exc, PostProxyError) and (exc.status_code or 0) >= 500


async def call_with_retries(
    call: Callable[[], Awaitable[T]], *, what: str, attempts: int | None = None, base_delay: float | None = None
) -> T:
    """Run ``call`` and retry it on transient failures; ``what`` names the call in logs and errors."""
    settings = get_settings()
    attempts = attempts or settings.postproxy_retry_attempts
    base_delay = settings.postproxy_retry_base_delay if base_delay is None else base_delay
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as exc:
            if not is_transient(exc) or attempt == attempts:
                raise
            if isinstance(exc, RateLimitError) and exc.retry_after:
                delay = min(exc.retry_after, MAX_RETRY_AFTER_SECONDS)
            else:
                delay = base_delay * 2 ** (attempt - 1)
            log.warning("%s: %s (attempt %d/%d), retrying in %.1fs", what, _describe(exc), attempt, attempts, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}" if status else type(exc).__name__


def idempotency_key(*parts: object) -> str:
    """An Idempotency-Key derived from postpipe's own ids, e.g. ``post:<uuid>:create``."""
    return ":".join(str(p) for p in parts)[:255]
