"""Running an approval pipeline in the background while someone reviews it (the demo, the tests)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from postpipe.db import system_scope


class BackgroundFlow:
    """An async flow run in its own thread and event loop (as a worker would run it), so that reviewers can
    act on it meanwhile; ``join`` hands back its result or raises its error."""

    def __init__(self, flow: Callable[..., Any], *args: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(flow, args), daemon=True)
        self._thread.start()

    def _run(self, flow: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.result = asyncio.run(flow(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to join()
            self.error = exc

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float = 120) -> Any:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the flow run did not finish within {timeout}s")
        if self.error is not None:
            raise self.error
        return self.result


def wait_until_paused(post_id: Any, run: BackgroundFlow | None = None, timeout: float = 120) -> Any:
    """Wait until the post's pipeline run waits for a decision; returns the flow run id."""
    from prefect.client.orchestration import get_client

    from postpipe.repositories import posts

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run is not None and run.finished:
            run.join(0)  # raises the run's error, if any
            raise RuntimeError(f"post {post_id}: the run ended before its review ({run.result})")
        with system_scope("wait for review") as session:
            run_id = posts.get(session, post_id).flow_run_id
        if run_id is not None:
            with get_client(sync_client=True) as client:
                state = client.read_flow_run(run_id).state
            if state is not None and state.is_paused():
                return run_id
        time.sleep(0.3)
    raise TimeoutError(f"post {post_id}: no review waiting after {timeout}s")
