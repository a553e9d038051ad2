"""Webhook receiver throughput: verify + store + apply, against a bare endpoint that only inserts the raw row.

Both run on the same stack (Starlette + uvicorn, one worker process each, same PostgreSQL database and the same
``system_scope`` sessions), one after the other on this machine, driven by the same concurrent httpx client.

    .venv/bin/python benchmarks/webhooks.py [--events 2000] [--concurrency 32]

Prints events per second for each and the ratio receiver/bare (target >= 0.7). Uses a scratch database on
``POSTPIPE_TEST_PG`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432``) and drops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

PG_SERVER = os.environ.get("POSTPIPE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
SECRET = "whsec_benchmark_secret"
T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------- the two servers (run as subprocesses)


def bare_app() -> Any:
    """The baseline: parse the JSON and insert the raw row, nothing else."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from postpipe.db import system_scope
    from postpipe.repositories import webhook_events
    from postpipe.repositories.webhook_events import Match

    def store(raw: bytes) -> None:
        body = json.loads(raw)
        with system_scope("webhook receiver") as session:
            webhook_events.insert_once(
                session, event_id=body["id"], type=body["type"], payload=body, occurred_at=None,
                match=Match(False, note="bare benchmark endpoint"),
            )

    async def receive(request: Request) -> JSONResponse:
        await run_in_threadpool(store, await request.body())
        return JSONResponse({"ok": True})

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"database": "ok"})

    return Starlette(routes=[Route("/webhooks/postproxy", receive, methods=["POST"]), Route("/healthz", healthz)])


def serve(kind: str, port: int) -> None:
    import uvicorn

    from postpipe.webhooks.receiver import create_app

    app = bare_app() if kind == "bare" else create_app(emit_events=False)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, backlog=2048)


# ---------------------------------------------------------------- driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(url: str, posts: int) -> list[str]:
    from pydantic import SecretStr

    from postpipe import models as m
    from postpipe.commands.db import upgrade_database
    from postpipe.db import system_scope
    from postpipe.repositories import accounts, deliveries, members, tenants, webhook_subscriptions

    upgrade_database(url)
    refs = []
    with system_scope("benchmark set-up", url=url) as s:
        webhook_subscriptions.save(s, url="http://bench/webhooks", postproxy_webhook_id="wh", secret=SecretStr(SECRET))
        tenant = tenants.upsert_tenant(s, slug="bench", name="Bench", time_zone="UTC", plan_id="starter")
        tenants.set_profile_group(s, tenant.id, "grp_bench")
        admin = members.upsert_member(s, tenant.id, email="admin@bench.example", role="admin")
        account_ids = [
            accounts.apply_profile(s, tenant.id, profile_id=p, platform="twitter", name=p, status="active").account.id
            for p in ("prof_a", "prof_b")
        ]
        for n in range(posts):
            ref = f"p_bench_{n}"
            post = m.Post(tenant_id=tenant.id, author_id=admin.id, body=ref, content_hash="0" * 64,
                          status="publishing", postproxy_post_id=ref)
            s.add(post)
            s.flush()
            deliveries.record_targets(s, tenant.id, post.id, account_ids)
            refs.append(ref)
    return refs


def _events(refs: list[str]) -> list[tuple[bytes, dict[str, str]]]:
    from postpipe.webhooks.signing import SIGNATURE_HEADER, sign

    prepared = []
    for ref in refs:
        for profile in ("prof_a", "prof_b"):
            for event_type, status, offset in (("platform_post.failed_waiting_for_retry", "failed", 0),
                                               ("platform_post.published", "published", 5)):
                body = json.dumps({
                    "id": f"evt_{uuid.uuid4().hex}", "type": event_type,
                    "created_at": (T0 + timedelta(seconds=offset)).isoformat().replace("+00:00", "Z"),
                    "data": {"id": f"pp_{ref}_{profile}", "post_id": ref, "platform": "twitter", "profile_id": profile,
                             "status": status, "error": "busy" if status == "failed" else None, "platform_id": "1"},
                }, separators=(",", ":")).encode()
                prepared.append((body, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, body)}))
    return prepared


async def _blast(url: str, events: list[tuple[bytes, dict[str, str]]], concurrency: int) -> float:
    queue: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()
    for item in events:
        queue.put_nowait(item)
    failures = 0
    async with httpx.AsyncClient(timeout=30.0, limits=httpx.Limits(max_connections=concurrency)) as client:
        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                body, headers = queue.get_nowait()
                response = await client.post(url, content=body, headers=headers)
                failures += response.status_code != 200
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{failures} request(s) failed against {url}")
    return len(events) / elapsed


def _run_server(kind: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port)], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return process, base + "/webhooks/postproxy"
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the {kind} server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000, help="events per measured run (multiple of 4)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is kept")
    parser.add_argument("--serve", choices=["bare", "receiver"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return

    name = f"postpipe_bench_{os.getpid()}"
    admin = PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_SERVER}/{name}"
    env = {**os.environ, "POSTPIPE_DATABASE_URL": url, "PYTHONPATH": str(ROOT),
           "POSTPIPE_SECRET_KEY": os.environ.get("POSTPIPE_SECRET_KEY") or Fernet.generate_key().decode()}
    os.environ.update({k: env[k] for k in ("POSTPIPE_DATABASE_URL", "POSTPIPE_SECRET_KEY")})
    try:
        per_round = args.events // 4
        refs = _prepare(url, per_round * (args.rounds + 1))
        batches = [refs[i * per_round:(i + 1) * per_round] for i in range(args.rounds + 1)]
        best = {"bare": 0.0, "receiver": 0.0}
        for kind in ("bare", "receiver"):
            process, endpoint = _run_server(kind, env)
            try:
                asyncio.run(_blast(endpoint, _events(batches[-1][:25]), 8))  # warm-up
            finally:
                process.terminate()
                process.wait()
        for round_no in range(args.rounds):
            for kind in ("bare", "receiver"):
                process, endpoint = _run_server(kind, env)
                try:
                    rate = asyncio.run(_blast(endpoint, _events(batches[round_no]), args.concurrency))
                finally:
                    process.terminate()
                    process.wait()
                best[kind] = max(best[kind], rate)
                print(f"round {round_no + 1}: {kind:8s} {rate:8.1f} events/s")
        from sqlalchemy import text

        from postpipe.db import get_engine
        with get_engine(url).connect() as conn:
            published = conn.execute(text("select count(*) from deliveries where status = 'published'")).scalar_one()
        print(f"\nbare endpoint (parse + insert raw row):      {best['bare']:8.1f} events/s")
        print(f"receiver (verify + store + apply):           {best['receiver']:8.1f} events/s")
        print(f"ratio receiver/bare:                         {best['receiver'] / best['bare']:8.2f}  (target >= 0.7)")
        print(f"deliveries published by the receiver runs:   {published}")
        print(f"({args.events} events per run, {args.concurrency} concurrent clients, {os.cpu_count()} CPUs)")
    finally:
        from postpipe.db import dispose_engines

        dispose_engines()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
