"""Runs what the sandbox clock made due: publishing timers and webhook deliveries (ticker + advance)."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from .clock import SandboxClock, to_datetime
from .config import SandboxConfig
from .ids import new_secret_token
from .state import SandboxState
from .webhook_sender import WebhookSender

logger = logging.getLogger(__name__)


class SandboxEngine:
    """One sandbox's clock, state and workers. Thread-safe; all progress goes through ``run_until``."""

    def __init__(self, account_key: str | None = None, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.clock = SandboxClock()
        self.state = SandboxState(account_key or new_secret_token("sbx_acct_"), self.config, self.clock)
        self.sender = WebhookSender(self.state)
        self._progress_lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def now(self) -> datetime:
        return to_datetime(self.clock.now())

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and run everything that became due, webhook attempts included, before returning."""
        with self._progress_lock:
            target = self.clock.advance(seconds)
            self._run_until(target)
        return to_datetime(target)

    def tick(self) -> None:
        with self._progress_lock:
            self._run_until(self.clock.now())

    def _run_until(self, target: float) -> None:
        while True:
            progressed = self._run_timers(target)
            progressed = self.sender.deliver_due(target) or progressed
            if not progressed:
                return

    def _run_timers(self, target: float) -> bool:
        ran = False
        with self.state.lock:
            while True:
                due = self.state.timers.pop_due(target)
                if due is None:
                    return ran
                moment, action, args = due
                ran = True
                try:
                    action(self.state, moment, *args)
                except Exception:  # a broken timer must not stop the sandbox
                    logger.exception("sandbox timer %s failed", getattr(action, "__name__", action))

    def start_ticker(self) -> None:
        if self._ticker is not None:
            return
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick_forever, name="postproxy-sandbox-ticker", daemon=True)
        self._ticker.start()

    def _tick_forever(self) -> None:
        while not self._stop.wait(self.config.tick_interval_seconds):
            try:
                self.tick()
            except Exception:
                logger.exception("sandbox tick failed")

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=1.0)
            self._ticker = None
        self.sender.close()
