"""Test helpers for the sandbox: a real webhook listener, control calls, polling."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Awaitable, Callable

import httpx
from postproxy import PostProxy

from postpipe.sandbox import SandboxServer

# Building an SSL context costs ~50 ms per httpx client; tests share one (loopback is plain HTTP anyway).
SHARED_SSL = ssl.create_default_context()


def sdk_client(api_key: str, base_url: str, profile_group_id: str | None = None) -> PostProxy:
    """The official SDK client; close it with ``await close_client(client)``."""
    return PostProxy(api_key, base_url=base_url, profile_group_id=profile_group_id, httpx_client=httpx.AsyncClient(verify=SHARED_SSL))


async def close_client(client: PostProxy) -> None:
    await client._client.aclose()  # the client was injected, so the SDK does not close it itself


@dataclass
class CapturedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class WebhookListener:
    """A real HTTP receiver on 127.0.0.1:0 that records every request; answers from ``statuses`` then 200."""

    statuses: list[int] = field(default_factory=list)
    received: list[CapturedRequest] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> WebhookListener:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with listener._lock:
                    listener.received.append(
                        CapturedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = listener.statuses.pop(0) if listener.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def events(self, event_type: str | None = None) -> list[CapturedRequest]:
        with self._lock:
            items = list(self.received)
        return [r for r in items if event_type is None or r.payload["type"] == event_type]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)


def control(sandbox: SandboxServer, method: str, path: str, json_body: Any = None, key: str | None = None) -> httpx.Response:
    """Call the sandbox control surface with the account key (or ``key``)."""
    headers = {"Authorization": f"Bearer {key or sandbox.account_key}"}
    return httpx.request(method, sandbox.base_url + path, json=json_body, headers=headers, timeout=10)


async def connect_profile(client: PostProxy, group_id: str, platform: str, redirect_url: str = "https://app.example/back") -> str:
    """Run the fake OAuth dance the way a browser would and return the new profile id."""
    connection = await client.profile_groups.initialize_connection(group_id, platform, redirect_url)
    async with httpx.AsyncClient(verify=SHARED_SSL) as browser:
        response = await browser.get(connection.url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = httpx.URL(response.headers["location"])
    assert location.params["status"] == "connected"
    return location.params["profile_id"]


async def wait_until(check: Callable[[], Awaitable[bool]] | Callable[[], bool], timeout: float = 5.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while True:
        outcome = check()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)
