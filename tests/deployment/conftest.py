from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deployment.processes import PrefectServer


def pytest_configure(config: pytest.Config) -> None:
    # Also registered by tests/webhooks/conftest.py; repeated here so this folder runs on its own (--strict-markers).
    config.addinivalue_line("markers", "e2e: end-to-end test with a real Prefect server (slow, ~30 s)")


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real Prefect server for the module (about 5 s to start), stopped at the end."""
    server = PrefectServer(tmp_path_factory.mktemp("prefect-server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client_home(tmp_path: Path) -> Path:
    """PREFECT_HOME for CLI processes of one test (profiles, worker state), apart from the server's."""
    home = tmp_path / "prefect-client"
    home.mkdir()
    return home
