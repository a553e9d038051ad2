"""Regenerate docs/img/approval-form.png (and paused-run.png): a post waiting for review, seen in the Prefect UI.

Starts a throwaway Prefect server, a PostgreSQL database (on POSTPIPE_TEST_PG, like the tests) and the
Postproxy sandbox, creates a tenant whose policy needs one approver, starts approve-and-publish for a post so
that it pauses, opens the flow run page in headless Chromium (driven over the DevTools protocol), clicks
"Resume" and captures the form. Needs Debian's ``chromium``. Run from the repository root:

    .venv/bin/python docs/img/make_screenshot.py
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from tests.deployment.processes import PrefectServer, free_port  # noqa: E402  (no Prefect import yet)

WINDOW = (1400, 1000)
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", f"--window-size={WINDOW[0]},{WINDOW[1]}",
]


class DevTools:
    """The smallest Chrome DevTools Protocol client: send a command, wait for its answer."""

    def __init__(self, socket: object) -> None:
        self.socket = socket
        self.next_id = 0

    async def call(self, method: str, **params: object) -> dict[str, object]:
        self.next_id += 1
        await self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))  # type: ignore[attr-defined]
        while True:
            message = json.loads(await self.socket.recv())  # type: ignore[attr-defined]
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str) -> object:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")  # type: ignore[union-attr]

    async def wait_for(self, expression: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.evaluate(expression):
                return
            await asyncio.sleep(0.25)
        raise TimeoutError(f"page never satisfied: {expression}")

    async def screenshot(self, path: Path) -> None:
        data = await self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(str(data["data"])))
        print(f"wrote {path}")


BUTTON = "[...document.querySelectorAll('button')].find(b => b.innerText.trim() === {label!r})"


async def capture(page_url: str) -> None:
    import websockets

    port = free_port()
    browser = subprocess.Popen(
        ["chromium", *CHROMIUM_FLAGS, f"--remote-debugging-port={port}", f"--user-data-dir={tempfile.mkdtemp()}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                page = next(t for t in targets if t["type"] == "page")
                break
            except (httpx.HTTPError, StopIteration):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)
        async with websockets.connect(page["webSocketDebuggerUrl"], max_size=50_000_000) as socket:
            tools = DevTools(socket)
            await tools.call("Page.enable")
            await tools.call(
                "Emulation.setDeviceMetricsOverride", width=WINDOW[0], height=WINDOW[1], deviceScaleFactor=1, mobile=False
            )
            await tools.call("Page.navigate", url=page_url)
            try:
                await tools.wait_for(f"!!{BUTTON.format(label='Resume')}")
            except TimeoutError:
                await tools.screenshot(Path(tempfile.gettempdir()) / "postpipe-screenshot-debug.png")
                print("buttons:", await tools.evaluate("[...document.querySelectorAll('button')].map(b => b.innerText)"))
                raise
            await asyncio.sleep(2)  # let the timeline and logs render
            await tools.screenshot(OUT / "paused-run.png")
            await tools.evaluate(f"{BUTTON.format(label='Resume')}.click()")
            await tools.wait_for("!!document.querySelector('[role=dialog]')")
            await asyncio.sleep(2)
            await tools.screenshot(OUT / "approval-form.png")
    finally:
        browser.terminate()
        browser.wait(10)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="postpipe-screenshot-"))
    server = PrefectServer(work / "server")
    os.environ.update(
        PREFECT_API_URL=server.api_url, PREFECT_HOME=str(work / "client"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
        POSTPIPE_APPROVAL_POLL_SECONDS="1", POSTPIPE_WEBHOOK_PUBLIC_URL="http://127.0.0.1:9/webhooks/postproxy",
    )
    from cryptography.fernet import Fernet

    os.environ.setdefault("POSTPIPE_SECRET_KEY", Fernet.generate_key().decode())
    from postpipe.commands.db import upgrade_database
    from postpipe.db import system_scope
    from postpipe.drafting import NewPost, create_post
    from postpipe.repositories import posts
    from postpipe.sandbox import SandboxServer
    from postpipe.settings import reset_settings_cache
    from tests.conftest import create_database, drop_database, pg_url
    from tests.tenants import connected_tenant

    database = create_database("postpipe_screenshot")
    try:
        os.environ["POSTPIPE_DATABASE_URL"] = pg_url(database)
        upgrade_database(pg_url(database))
        with SandboxServer(host="127.0.0.1", port=0) as sandbox:
            os.environ.update(POSTPIPE_POSTPROXY_BASE_URL=sandbox.base_url, POSTPIPE_POSTPROXY_API_KEY=sandbox.account_key)
            reset_settings_cache()
            team = {"maria@acme.example": "creator", "ann@acme.example": "approver"}
            acme = connected_tenant(sandbox, "acme", ["twitter", "linkedin"], team=team, steps=[("approver", 1, 86400)])
            with system_scope("screenshot: new post") as session:
                post_id = create_post(session, NewPost(
                    tenant="acme", author="maria@acme.example",
                    body="Our spring collection is live! 20% off for the first 100 orders.",
                    targets=list(acme.profiles.values()),
                )).id
            from flows.publishing import approve_and_publish

            threading.Thread(target=lambda: asyncio.run(approve_and_publish(post_id)), daemon=True).start()
            run_id = None
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with system_scope("screenshot: wait") as session:
                    run_id = posts.get(session, post_id).flow_run_id
                if run_id and server.api("GET", f"/flow_runs/{run_id}")["state_type"] == "PAUSED":  # type: ignore[index]
                    break
                time.sleep(0.5)
            else:
                raise TimeoutError("the approve-and-publish run never paused")
            page_url = f"http://127.0.0.1:{server.port}/runs/flow-run/{run_id}"
            print(f"paused run: {page_url}")
            asyncio.run(capture(page_url))
    finally:
        server.stop()
        drop_database(database)


if __name__ == "__main__":
    main()
