from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from postpipe.sandbox import SandboxServer
from postpipe.settings import reset_settings_cache


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Retry Postproxy calls quickly (the policy is the same, only the waits are shorter)."""
    monkeypatch.setenv("POSTPIPE_POSTPROXY_RETRY_BASE_DELAY", "0.01")
    monkeypatch.setenv("POSTPIPE_POSTPROXY_RETRY_ATTEMPTS", "3")
    reset_settings_cache()
    yield
    reset_settings_cache()


def add_fault(sandbox: SandboxServer, **fault: object) -> None:
    response = httpx.post(
        f"{sandbox.base_url}/sandbox/faults",
        json=fault,
        headers={"Authorization": f"Bearer {sandbox.account_key}"},
    )
    response.raise_for_status()


def clear_faults(sandbox: SandboxServer) -> None:
    httpx.delete(
        f"{sandbox.base_url}/sandbox/faults", headers={"Authorization": f"Bearer {sandbox.account_key}"}
    ).raise_for_status()


def follow_consent_link(url: str, redirect_url: str) -> str:
    """Open an OAuth link as a browser would; returns the Location the consent page redirects to."""
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(redirect_url)
    return location
