"""Benchmark: meter and invoice 10,000 tenants for one month on PostgreSQL.

Creates a database of its own (on POSTPIPE_TEST_PG, default postgresql+psycopg://postgres@127.0.0.1:5432),
bulk-loads realistic usage with set-based INSERT ... SELECT generate_series, then measures:
  1. the core functions (postpipe.billing.invoicing.prepare + issue_batch in batches) for 2026-09;
  2. the invoice-month flow once, for 2026-10 (which also re-meters September for late-usage adjustments),
     on an ephemeral Prefect server (its start-up is included and reported separately).
Prints seconds, tenants per second and peak memory; drops the database at the end.

    .venv/bin/python benchmarks/invoices.py [--tenants 10000] [--skip-flow] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SERVER = os.environ.get("POSTPIPE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
ZONES = ["UTC", "Europe/Paris", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Tokyo",
         "Australia/Sydney", "America/Sao_Paulo", "Asia/Kolkata", "Pacific/Auckland"]

LOAD = [
    # tenants: half starter, a third growth, the rest agency (flat); ten time zones
    """INSERT INTO tenants (id, slug, name, time_zone, plan_id, status, created_at)
       SELECT gen_random_uuid(), 'bench-' || g, 'Bench tenant ' || g, (%(zones)s::text[])[1 + g %% %(nzones)s],
              (ARRAY['starter','starter','starter','growth','growth','agency'])[1 + g %% 6], 'active',
              timestamptz '2025-01-01'
       FROM generate_series(1, %(tenants)s) g""",
    # members: 2..8 per tenant; some join mid-month, some leave
    """INSERT INTO members (id, tenant_id, email, role, active_from, active_until)
       SELECT gen_random_uuid(), t.id, 'm' || k || '@' || t.slug || '.example', 'creator',
              CASE WHEN k %% 5 = 0 THEN timestamptz '2026-09-11' ELSE timestamptz '2025-01-01' END,
              CASE WHEN k %% 7 = 0 THEN timestamptz '2026-09-21' END
       FROM tenants t CROSS JOIN LATERAL generate_series(1, 2 + abs(hashtext(t.slug)) %% 7) k""",
    # social accounts: 1..12 per tenant
    """INSERT INTO social_accounts (id, tenant_id, profile_id, platform, name, status, connected, updated_at)
       SELECT gen_random_uuid(), t.id, t.slug || '-' || k,
              (ARRAY['twitter','instagram','linkedin','facebook','threads','tiktok'])[1 + k %% 6], k::text,
              'active', true, now()
       FROM tenants t CROSS JOIN LATERAL generate_series(1, 1 + abs(hashtext(t.slug || 'a')) %% 12) k""",
    # connection intervals: most all month, some from mid-month, some disconnected on the 20th ...
    """INSERT INTO connection_intervals (id, tenant_id, account_id, connected_at, disconnected_at)
       SELECT gen_random_uuid(), a.tenant_id, a.id,
              CASE WHEN a.name::int %% 6 = 0 THEN timestamptz '2026-09-12 09:30Z' ELSE timestamptz '2025-06-01' END,
              CASE WHEN a.name::int %% 10 = 0 THEN timestamptz '2026-09-20 17:00Z' END
       FROM social_accounts a""",
    # ... and reconnected on the 25th
    """INSERT INTO connection_intervals (id, tenant_id, account_id, connected_at, disconnected_at)
       SELECT gen_random_uuid(), a.tenant_id, a.id, timestamptz '2026-09-25 08:00Z', NULL
       FROM social_accounts a WHERE a.name::int %% 10 = 0""",
    # posts: 5..80 per tenant
    """INSERT INTO posts (id, tenant_id, author_id, body, media, platform_params, publish_mode, status,
                          content_hash, needs_reconnect, created_at, updated_at)
       SELECT gen_random_uuid(), t.id, m.id, 'post ' || j, '[]', '{}', 'now', 'published', 'x', false, now(), now()
       FROM tenants t
       CROSS JOIN LATERAL (SELECT id FROM members WHERE tenant_id = t.id LIMIT 1) m
       CROSS JOIN LATERAL generate_series(1, 5 + abs(hashtext(t.slug || 'p')) %% 76) j""",
    # deliveries: each post to 1..4 of its tenant's accounts, over 31 days from Sep 1 (some land in October),
    # one in twenty failed
    """INSERT INTO deliveries (id, tenant_id, post_id, account_id, platform, status, attempts, published_at, created_at)
       SELECT gen_random_uuid(), p.tenant_id, p.id, a.id, a.platform,
              CASE WHEN (s.j + a.name::int) %% 20 = 0 THEN 'failed' ELSE 'published' END, 1,
              CASE WHEN (s.j + a.name::int) %% 20 = 0 THEN NULL
                   ELSE timestamptz '2026-09-01' + ((s.j * 7919 + a.name::int * 104729) %% 44640) * interval '1 minute'
              END,
              now()
       FROM posts p
       CROSS JOIN LATERAL (SELECT split_part(p.body, ' ', 2)::int AS j) s
       JOIN social_accounts a ON a.tenant_id = p.tenant_id AND a.name::int <= 1 + s.j %% 4""",
    "ANALYZE",
]


LATE = [
    # after September is invoiced: one tenant in ten gets 3 posts confirmed late, published on Sep 29
    """INSERT INTO posts (id, tenant_id, author_id, body, media, platform_params, publish_mode, status,
                          content_hash, needs_reconnect, created_at, updated_at)
       SELECT gen_random_uuid(), t.id, m.id, 'late ' || j, '[]', '{}', 'now', 'published', 'x', false, now(), now()
       FROM tenants t
       CROSS JOIN LATERAL (SELECT id FROM members WHERE tenant_id = t.id LIMIT 1) m
       CROSS JOIN generate_series(1, 3) j
       WHERE split_part(t.slug, '-', 2)::int %% 10 = 0""",
    """INSERT INTO deliveries (id, tenant_id, post_id, account_id, platform, status, attempts, published_at, created_at)
       SELECT gen_random_uuid(), p.tenant_id, p.id, a.id, a.platform, 'published', 1, timestamptz '2026-09-29 12:00Z',
              now()
       FROM posts p JOIN social_accounts a ON a.tenant_id = p.tenant_id AND a.name = '1'
       WHERE p.body LIKE 'late %%'""",
]


def _admin(dbname: str = "postgres") -> str:
    return SERVER.replace("postgresql+psycopg://", "postgresql://") + f"/{dbname}"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(url_db: str, tenants: int, statements: list[str] = LOAD) -> dict[str, int]:
    with psycopg.connect(_admin(url_db), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement, {"zones": ZONES, "nzones": len(ZONES), "tenants": tenants})
        counts = {}
        for table in ("tenants", "members", "social_accounts", "connection_intervals", "posts", "deliveries"):
            counts[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
    return counts


def run_core(period: str, batch_size: int) -> tuple[int, float, float, int]:
    from postpipe.billing.invoicing import issue_batch, prepare
    from postpipe.billing.periods import parse_period
    from postpipe.db import system_scope

    started = time.perf_counter()
    with system_scope("benchmark: prepare") as session:
        run = prepare(session, parse_period(period))
    prepared = time.perf_counter()
    issued = 0
    for start in range(0, len(run.invoices), batch_size):
        with system_scope("benchmark: issue") as session:
            issued += sum(o.outcome == "issued" for o in issue_batch(session, run.invoices[start : start + batch_size]))
    done = time.perf_counter()
    return issued, prepared - started, done - prepared, len(run.skipped)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--skip-flow", action="store_true", help="measure the core functions only")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    args = parser.parse_args()

    name = f"postpipe_bench_invoices_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(_admin(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{SERVER}/{name}"
    os.environ["POSTPIPE_DATABASE_URL"] = url
    os.environ.setdefault("POSTPIPE_SECRET_KEY", "benchmark-key-not-used-for-secrets-here-0000=")
    try:
        from postpipe.commands.db import upgrade_database
        from postpipe.db import dispose_engines, system_scope
        from postpipe.repositories import invoices
        from postpipe.settings import reset_settings_cache

        reset_settings_cache()
        upgrade_database(url)
        t0 = time.perf_counter()
        counts = load(name, args.tenants)
        print(f"loaded in {time.perf_counter() - t0:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))

        if args.tracemalloc:
            tracemalloc.start()
        issued, prepare_s, issue_s, skipped = run_core("2026-09", args.batch_size)
        total = prepare_s + issue_s
        print("core functions (prepare + issue_batch), period 2026-09:")
        print(f"  meter + price {prepare_s:.2f} s, render + number + store + finalize {issue_s:.2f} s")
        print(f"  {issued:,} invoices in {total:.2f} s = {issued / total:,.0f} tenants/s ({skipped} skipped)"
              f"  [target < 60 s: {'met' if total < 60 else 'MISSED'}]")
        if args.tracemalloc:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"  peak traced Python allocations {peak / 2**20:.0f} MiB")
        print(f"  peak RSS so far {peak_rss_mib():.0f} MiB")
        again = time.perf_counter()
        reissued, *_ = run_core("2026-09", args.batch_size)
        print(f"  re-run of 2026-09: {reissued} new invoices in {time.perf_counter() - again:.2f} s (exactly once)")

        if not args.skip_flow:
            load(name, args.tenants, LATE)
            with tempfile.TemporaryDirectory() as home:
                os.environ.update(PREFECT_HOME=home, PREFECT_SERVER_ANALYTICS_ENABLED="false",
                                  PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
                                  PREFECT_LOGGING_LEVEL="WARNING")
                from flows.invoicing import invoice_month

                started = time.perf_counter()
                result = asyncio.run(invoice_month(period="2026-10"))
                elapsed = time.perf_counter() - started
            adjustments = 0
            with system_scope("benchmark: count adjustments") as session:
                adjustments = invoices.count_adjustment_lines(session, "2026-10")
            print("invoice-month flow once, period 2026-10 (ephemeral Prefect server, its start-up included):")
            print(f"  {result['issued']:,} invoices, {adjustments:,} adjustment lines for 2026-09, in {elapsed:.2f} s"
                  f" = {result['issued'] / elapsed:,.0f} tenants/s")
        print(f"peak RSS {peak_rss_mib():.0f} MiB (resource.getrusage ru_maxrss)")
        dispose_engines()
    finally:
        with psycopg.connect(_admin(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
