"""An ASGI app served by uvicorn from a daemon thread, on a socket bound here (``port=0`` picks a free port).

Used by the sandbox and by postpipe's webhook receiver when they run inside a test, the demo or a benchmark.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn


class ServerStartError(RuntimeError):
    pass


class PromptServer(uvicorn.Server):
    """Notices ``should_exit`` within ~10 ms and skips the graceful drain (for test doubles)."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        await asyncio.sleep(0)
        for task in list(self.server_state.tasks):
            task.cancel()


class ThreadedServer:
    """Start and stop one uvicorn server in a thread; ``graceful`` stops let requests in flight finish."""

    def __init__(
        self,
        *,
        name: str,
        host: str = "127.0.0.1",
        lifespan: str = "off",
        backlog: int = 128,
        graceful: bool = True,
        start_timeout: float = 15.0,
    ) -> None:
        self.name, self.host, self.lifespan, self.backlog = name, host, lifespan, backlog
        self.graceful, self.start_timeout = graceful, start_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, app: Any, port: int) -> int:
        """Serve ``app`` on ``port`` (0: a free one) and return the port once it accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms delayed-ACK stalls on loopback
        sock.bind((self.host, port))
        sock.listen(self.backlog)
        self._socket = sock
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan=self.lifespan, timeout_graceful_shutdown=1,
            timeout_keep_alive=5, backlog=self.backlog,
        )
        server = uvicorn.Server(config) if self.graceful else PromptServer(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(f"{self.name} did not start")
            time.sleep(0.005)
        return int(sock.getsockname()[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if not self.graceful:
                self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=3.0)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout=2.0)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
