"""Stats collection at scale: the ``collect-stats`` flow against a plain asyncio script doing the same work.

    .venv/bin/python benchmarks/stats.py [--tenants 1000] [--posts 100] [--hours 3] [--parallel 16]

Set-up (not timed): a sandbox in its own process (``postpipe sandbox``), one profile group, scoped key and
twitter profile per tenant, ``--posts`` posts per tenant seeded as published ``--hours`` hours ago (so each has
``--hours`` hourly records); a scratch PostgreSQL database on ``POSTPIPE_TEST_PG`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432``), migrated, with the matching tenants, accounts, posts and
published deliveries written set-based (COPY). The database is dropped at the end.

Timed, each in a fresh child process (so peak memory is per contestant), on an empty ``stats_snapshots``:

- ``flow``: ``collect_stats()`` with its defaults (10 tenants per task run) under ``prefect_test_harness`` (a temporary Prefect server with its own SQLite
  database, started before the clock starts). The Prefect limits exist beforehand (as after the first
  production run); the shared rate limit is set high enough not to bind, so what is measured is the cost of
  acquiring it, not the pacing. Then a second run over the same period (adds nothing).
- ``plain``: what one would write without Prefect: psycopg (async) and the SDK, the same tenant scoping
  (role + ``app.tenant_id``), the same queries, 50 ids a request, and one ``INSERT ... SELECT FROM
  jsonb_to_recordset ... ON CONFLICT DO NOTHING`` per tenant, with the same number of tenants in parallel.

Prints both durations, snapshots per second, the ratio flow/plain (target <= 1.5) and peak RSS of each child.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx
import psycopg
from cryptography.fernet import Fernet

PG_SERVER = os.environ.get("POSTPIPE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
RATE_LIMIT_SLOTS = 500
RATE_LIMIT_DECAY = 1000.0


def _admin_dsn(db: str = "postgres") -> str:
    return PG_SERVER.replace("postgresql+psycopg://", "postgresql://") + f"/{db}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------- set-up (not timed)


def start_sandbox(account_key: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "postpipe", "sandbox", "--port", str(port), "--account-key", account_key],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/sandbox/health", timeout=1).status_code == 200:
                return proc, base_url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the sandbox did not start")


async def provision(base_url: str, account_key: str, tenants: int, posts: int, hours: int) -> list[dict[str, Any]]:
    """Groups, scoped keys, one twitter profile each, and ``posts`` published posts per tenant."""
    from postproxy import PostProxy

    headers = {"Authorization": f"Bearer {account_key}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        now = datetime.fromisoformat((await http.get("/sandbox/clock", headers=headers)).json()["now"])
    published_at = now - timedelta(hours=hours, minutes=5)
    gate = asyncio.Semaphore(16)

    async def one(index: int, client: Any, http: httpx.AsyncClient) -> dict[str, Any]:
        async with gate:
            slug = f"t{index:05d}"
            group = await client.profile_groups.create(f"Customer: {slug}")
            key = await client.api_keys.create(f"postpipe:{slug}", group.id)
            profile = (await http.post("/sandbox/profiles", json={"profile_group_id": group.id, "platform": "twitter"}, headers=headers)).json()
            seeded = (await http.post("/sandbox/seed", json={"profile_id": profile["id"], "count": posts, "published_at": published_at.isoformat()}, headers=headers)).json()
            return {"slug": slug, "group": group.id, "key_id": key.id, "token": key.token, "profile": profile["id"],
                    "post_ids": seeded["post_ids"], "published_at": published_at}

    async with PostProxy(account_key, base_url=base_url) as client, httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        return list(await asyncio.gather(*(one(i, client, http) for i in range(tenants))))


def create_rows(dsn: str, provisioned: list[dict[str, Any]]) -> None:
    """Tenants (keys sealed as postpipe stores them), a member, an account, posts and published deliveries."""
    from postpipe import crypto

    now = datetime.now(UTC)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        tenants, members, accounts, posts, deliveries = [], [], [], [], []
        for t in provisioned:
            tid, mid, aid = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            tenants.append((tid, t["slug"], t["slug"], "UTC", "starter", "active", t["group"], t["key_id"], crypto.seal(t["token"]), now))
            members.append((mid, tid, f"owner@{t['slug']}.example", "admin", now))
            accounts.append((aid, tid, t["profile"], "twitter", f"@{t['slug']}", "active", True, now))
            for n, ref in enumerate(t["post_ids"]):
                pid = uuid.uuid4()
                posts.append((pid, tid, mid, f"{t['slug']} post {n}", "[]", "{}", "now", "published", "0" * 64, ref, False, now, now))
                deliveries.append((uuid.uuid4(), tid, pid, aid, "twitter", "published", 1, t["published_at"], t["published_at"], now))
        copies = [
            ("tenants (id, slug, name, time_zone, plan_id, status, profile_group_id, api_key_id, api_key_encrypted, created_at)", tenants),
            ("members (id, tenant_id, email, role, active_from)", members),
            ("social_accounts (id, tenant_id, profile_id, platform, name, status, connected, updated_at)", accounts),
            (
                (
                    "posts (id, tenant_id, author_id, body, media, platform_params, publish_mode, status,"
                    " content_hash, postproxy_post_id, needs_reconnect, created_at, updated_at)"
                ),
                posts,
            ),
            (
                (
                    "deliveries (id, tenant_id, post_id, account_id, platform, status, attempts, published_at,"
                    " last_event_at, created_at)"
                ),
                deliveries,
            ),
        ]
        for target, rows in copies:
            with cur.copy(f"COPY {target} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        cur.execute("ANALYZE")


# ---------------------------------------------------------------- contestant: the flow


def run_flow(parallel: int, prefect_db: str) -> dict[str, Any]:
    from contextlib import nullcontext

    from prefect.client.orchestration import get_client
    from prefect.testing.utilities import prefect_test_harness

    from flows.stats import collect_stats
    from postpipe.db import system_scope
    from postpipe.prefect_limits import GLOBAL_RATE_LIMIT, key_limit_name
    from postpipe.repositories import stats

    # sqlite: prefect_test_harness (temporary server, temporary SQLite database);
    # postgres: ephemeral mode, whose temporary server uses PREFECT_SERVER_DATABASE_CONNECTION_URL (PostgreSQL)
    harness = prefect_test_harness(server_startup_timeout=120) if prefect_db == "sqlite" else nullcontext()
    with harness:
        with system_scope("benchmark") as session:
            targets = stats.tenants_to_collect(session)
        with get_client(sync_client=True) as client:  # as after the first production run (not timed)
            client.upsert_global_concurrency_limit_by_name(GLOBAL_RATE_LIMIT, RATE_LIMIT_SLOTS, RATE_LIMIT_DECAY)
            for t in targets:
                client.upsert_global_concurrency_limit_by_name(key_limit_name(t.api_key_id), 2)
        started = time.perf_counter()
        first_state = asyncio.run(collect_stats(max_parallel_tenants=parallel, return_state=True))
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        again_state = asyncio.run(collect_stats(max_parallel_tenants=parallel, return_state=True))
        rerun_seconds = time.perf_counter() - started
    if not (first_state.is_completed() and again_state.is_completed()):
        raise RuntimeError(f"the flow run failed: {first_state.message} / {again_state.message}")
    first, again = first_state.result(), again_state.result()
    return {"seconds": seconds, "snapshots": first["snapshots_added"], "rerun_seconds": rerun_seconds,
            "rerun_snapshots": again["snapshots_added"], "peak_rss_mb": _peak_rss_mb(),
            "rate_limit_acquisitions": first["rate_limit_acquisitions"],
            "key_slot_acquisitions": first["key_slot_acquisitions"]}


# ---------------------------------------------------------------- contestant: the plain script


PLAN_SQL = """
SELECT p.id, p.postproxy_post_id FROM posts p
WHERE p.tenant_id = %(t)s AND p.postproxy_post_id IS NOT NULL AND EXISTS (
  SELECT 1 FROM deliveries d WHERE d.tenant_id = p.tenant_id AND d.post_id = p.id
  AND d.status = 'published' AND d.published_at >= %(since)s)
"""
INSERT_SQL = """
WITH inserted AS (
  INSERT INTO stats_snapshots (tenant_id, post_id, account_id, platform, recorded_at, metrics, raw_metrics, collected_at)
  SELECT %(t)s, r.post_id, r.account_id, r.platform, r.recorded_at, r.metrics, r.raw_metrics, now()
  FROM jsonb_to_recordset(%(rows)s) AS r(post_id uuid, account_id uuid, platform text, recorded_at timestamptz,
                                         metrics jsonb, raw_metrics jsonb)
  ON CONFLICT (post_id, account_id, recorded_at) DO NOTHING RETURNING 1)
SELECT count(*) FROM inserted
"""


async def plain_script(dsn: str, base_url: str, parallel: int, lookback_days: int = 30) -> int:
    from postproxy import PostProxy
    from psycopg.types.json import Jsonb

    from postpipe import crypto

    since = datetime.now(UTC) - timedelta(days=lookback_days)
    connections: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    for _ in range(parallel):
        await connections.put(await psycopg.AsyncConnection.connect(dsn))

    async def scoped(conn: psycopg.AsyncConnection[Any], tenant_id: uuid.UUID) -> None:
        await conn.execute('SET LOCAL ROLE "postpipe_app"')
        await conn.execute("SELECT set_config('app.tenant_id', %s, true), set_config('app.scope', 'tenant', true)", (str(tenant_id),))

    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        tenants = await (await conn.execute(
            "SELECT id, api_key_encrypted FROM tenants WHERE status = 'active' AND api_key_encrypted IS NOT NULL ORDER BY slug"
        )).fetchall()

    async def one(tenant_id: uuid.UUID, sealed: str) -> int:
        conn = await connections.get()
        try:
            async with conn.transaction():
                await scoped(conn, tenant_id)
                posts = await (await conn.execute(PLAN_SQL, {"t": tenant_id, "since": since})).fetchall()
                accounts = {r[0]: (r[1], r[2]) for r in await (await conn.execute(
                    "SELECT profile_id, id, platform FROM social_accounts WHERE tenant_id = %s", (tenant_id,))).fetchall()}
            by_ref = {ref: pid for pid, ref in posts}
            refs = sorted(by_ref)
            rows: list[dict[str, Any]] = []
            key = crypto.unseal(sealed, what="tenant key").get_secret_value()
            async with PostProxy(key, base_url=base_url) as client:
                for start in range(0, len(refs), 50):
                    answer = await client.posts.stats(refs[start : start + 50], from_date=since)
                    for ref, post in answer.data.items():
                        for platform in post.platforms:
                            account = accounts.get(platform.profile_id)
                            if account is None or ref not in by_ref:
                                continue
                            rows += [{"post_id": str(by_ref[ref]), "account_id": str(account[0]), "platform": account[1],
                                      "recorded_at": r.recorded_at.isoformat(), "metrics": r.stats, "raw_metrics": r.raw_stats}
                                     for r in platform.records]
            if not rows:
                return 0
            async with conn.transaction():
                await scoped(conn, tenant_id)
                return int((await (await conn.execute(INSERT_SQL, {"t": tenant_id, "rows": Jsonb(rows)})).fetchone())[0])  # type: ignore[index]
        finally:
            await connections.put(conn)

    gate = asyncio.Semaphore(parallel)

    async def gated(tenant_id: uuid.UUID, sealed: str) -> int:
        async with gate:
            return await one(tenant_id, sealed)

    added = await asyncio.gather(*(gated(t, s) for t, s in tenants))
    while not connections.empty():
        await (await connections.get()).close()
    return sum(added)


def run_plain(dsn: str, base_url: str, parallel: int) -> dict[str, Any]:
    started = time.perf_counter()
    snapshots = asyncio.run(plain_script(dsn, base_url, parallel))
    return {"seconds": time.perf_counter() - started, "snapshots": snapshots, "peak_rss_mb": _peak_rss_mb()}


# ---------------------------------------------------------------- driver


def child(role: str, env: dict[str, str], args: argparse.Namespace, log: Path, prefect_db: str = "sqlite") -> dict[str, Any]:
    result_file = Path(tempfile.mkstemp(suffix=".json")[1])
    cmd = [sys.executable, __file__, "--role", role, "--result", str(result_file), "--parallel", str(args.parallel),
           "--prefect-db", prefect_db]
    with log.open("ab") as out:
        subprocess.run(cmd, env=env, cwd=ROOT, stdout=out, stderr=out, check=True)
    result = json.loads(result_file.read_text())
    result_file.unlink()
    return result


def coordinate(args: argparse.Namespace) -> None:
    account_key = f"sbx_acct_bench_{uuid.uuid4().hex[:12]}"
    secret = Fernet.generate_key().decode()
    os.environ.update({"POSTPIPE_SECRET_KEY": secret, "POSTPIPE_POSTPROXY_API_KEY": account_key})
    db = f"postpipe_stats_bench_{os.getpid()}"
    prefect_database = f"prefect_stats_bench_{os.getpid()}"
    sandbox, base_url = start_sandbox(account_key)
    with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    url = PG_SERVER + f"/{db}"
    dsn = _admin_dsn(db)
    log = Path(tempfile.gettempdir()) / f"postpipe-stats-bench-{os.getpid()}.log"
    try:
        t0 = time.perf_counter()
        from postpipe.commands.db import upgrade_database

        upgrade_database(url)
        provisioned = asyncio.run(provision(base_url, account_key, args.tenants, args.posts, args.hours))
        create_rows(dsn, provisioned)
        print(f"set-up: {args.tenants} tenants x {args.posts} published posts, {args.hours} hourly records each "
              f"({time.perf_counter() - t0:.1f} s, not timed)", flush=True)
        env = {**os.environ, "POSTPIPE_DATABASE_URL": url, "POSTPIPE_POSTPROXY_BASE_URL": base_url,
               "POSTPIPE_SECRET_KEY": secret, "POSTPIPE_POSTPROXY_API_KEY": account_key,
               "PREFECT_HOME": tempfile.mkdtemp(prefix="prefect-bench-"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
               "PYTHONPATH": str(ROOT)}
        plain = child("plain", env, args, log)
        flows: dict[str, dict[str, Any]] = {}
        for prefect_db in (["sqlite", "postgres"] if args.prefect_db == "both" else [args.prefect_db]):
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("TRUNCATE stats_snapshots")
            flow_env = {**env, "PREFECT_HOME": tempfile.mkdtemp(prefix="prefect-bench-")}
            if prefect_db == "postgres":
                with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{prefect_database}"')
                flow_env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = (
                    PG_SERVER.replace("+psycopg", "+asyncpg") + f"/{prefect_database}"
                )
            flows[prefect_db] = child("flow", flow_env, args, log, prefect_db)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        from postpipe.db import dispose_engines

        dispose_engines()
        with psycopg.connect(_admin_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            conn.execute(f'DROP DATABASE IF EXISTS "{prefect_database}" WITH (FORCE)')
    expected = args.tenants * args.posts * args.hours
    print(f"plain asyncio + SDK + psycopg: {plain['seconds']:.1f} s, {plain['snapshots']} snapshots "
          f"({plain['snapshots'] / plain['seconds']:.0f}/s), peak RSS {plain['peak_rss_mb']:.0f} MB")
    labels = {"sqlite": "prefect_test_harness, SQLite", "postgres": "temporary server on PostgreSQL"}
    for prefect_db, flow in flows.items():
        print(f"collect-stats flow ({labels[prefect_db]}): {flow['seconds']:.1f} s, {flow['snapshots']} snapshots "
              f"({flow['snapshots'] / flow['seconds']:.0f}/s), peak RSS {flow['peak_rss_mb']:.0f} MB, "
              f"{flow['rate_limit_acquisitions']} rate-limit and {flow['key_slot_acquisitions']} key-slot acquisitions; "
              f"ratio flow/plain "
              f"{flow['seconds'] / plain['seconds']:.2f} (target <= 1.5)")
        print(f"  re-run over the same period: {flow['rerun_seconds']:.1f} s, {flow['rerun_snapshots']} snapshots added")
    print(f"expected snapshots: {expected}")
    print(f"child logs: {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--hours", type=int, default=3, help="hours since publication (= hourly records per post)")
    parser.add_argument("--parallel", type=int, default=16, help="tenants collected at once (both contestants)")
    parser.add_argument("--prefect-db", choices=("sqlite", "postgres", "both"), default="both",
                        help="Prefect's own database for the flow run(s) (default: both, one after the other)")
    parser.add_argument("--role", choices=("coordinate", "plain", "flow"), default="coordinate", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "coordinate":
        coordinate(args)
        return
    if args.role == "plain":
        result = run_plain(_admin_dsn(os.environ["POSTPIPE_DATABASE_URL"].rsplit("/", 1)[1]), os.environ["POSTPIPE_POSTPROXY_BASE_URL"], args.parallel)
    else:
        result = run_flow(args.parallel, args.prefect_db)
    assert args.result is not None
    args.result.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
