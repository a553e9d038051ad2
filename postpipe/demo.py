"""The whole product once, on embedded defaults: SQLite, the local Postproxy sandbox, Prefect's temporary server.

Three tenants with different plans and time zones are onboarded and connect their accounts through the
sandbox's consent pages; their teams draft posts that publish now, at a scheduled time and through a queue;
reviewers approve them (one is rejected with feedback, one goes through a two-step policy); one platform fails
for good and one fails once then succeeds; the receiver's webhooks confirm every delivery; a simulated month of
stats is collected; the month is invoiced. Everything the summary shows is read back from the database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from postpipe import migrate
from postpipe.background import BackgroundFlow, wait_until_paused
from postpipe.db import dispose_engines, owner_session, system_scope
from postpipe.repositories import accounts, approvals, deliveries, invoices, members, plans, posts, stats, tenants
from postpipe.sandbox import SandboxServer
from postpipe.settings import reset_settings_cache
from postpipe.webhooks.server import ReceiverServer

REDIRECT_URL = "https://app.postpipe.example/connected"


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    name: str
    plan: str
    time_zone: str
    platforms: tuple[str, ...]
    team: dict[str, str]
    steps: tuple[tuple[str, int, int], ...] = ()


TENANTS = (
    DemoTenant("acme", "Acme Outdoor", "starter", "America/New_York", ("twitter", "linkedin", "threads"),
               {"maya@acme.example": "creator", "omar@acme.example": "approver"}),
    DemoTenant("bistro", "Bistro Lumière", "growth", "Europe/Paris", ("instagram", "facebook", "threads"),
               {"chloe@bistro.example": "creator", "luc@bistro.example": "approver", "ines@bistro.example": "admin"},
               steps=(("approver", 1, 3600), ("admin", 1, 3600))),
    DemoTenant("cobalt", "Cobalt Labs", "agency", "Asia/Tokyo", ("twitter", "linkedin"),
               {"ken@cobalt.example": "creator", "aiko@cobalt.example": "approver"}),
)


@dataclass
class DemoResult:
    """What the run produced, read back from the database."""

    period: str
    posts_by_state: dict[str, int]
    deliveries_by_platform: dict[str, dict[str, int]]
    invoices: list[dict[str, Any]]
    invoice_files: list[Path]
    snapshots: int
    output_dir: Path
    post_ids: dict[str, str] = field(default_factory=dict)


def _configure(database_url: str, sandbox: SandboxServer, receiver_url: str, data_dir: Path) -> None:
    os.environ.update(
        POSTPIPE_DATABASE_URL=database_url,
        POSTPIPE_DATA_DIR=str(data_dir),
        POSTPIPE_POSTPROXY_BASE_URL=sandbox.base_url,
        POSTPIPE_POSTPROXY_API_KEY=sandbox.account_key,
        POSTPIPE_WEBHOOK_PUBLIC_URL=receiver_url,
        POSTPIPE_APPROVAL_POLL_SECONDS="0.5",
        POSTPIPE_DELIVERY_POLL_SECONDS="1",
        POSTPIPE_DELIVERY_CONFIRM_SECONDS="60",
        POSTPIPE_POSTPROXY_RETRY_BASE_DELAY="0.2",
    )
    reset_settings_cache()


def _fresh_database(database_url: str) -> None:
    """Start clean: the sandbox is new on every run, so yesterday's Postproxy ids would point nowhere."""
    dispose_engines()
    migrate.downgrade("base", url=database_url)
    migrate.upgrade("head", url=database_url)
    with owner_session(database_url) as session:
        plans.ensure_catalog(session)


class _Steps:
    """A progress bar of the story's steps (rich), so a person sees where the run is."""

    def __init__(self, console: Console, total: int) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), console=console, transient=False,
        )
        self.task = self.progress.add_task("postpipe demo", total=total)

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        self.progress.update(self.task, description=text)
        yield
        self.progress.console.log(f"[green]✓[/green] {text}")
        self.progress.advance(self.task)


def run_demo(
    *, database_url: str, output_dir: Path, console: Console | None = None, stats_days: int = 30
) -> DemoResult:
    """Run the story end to end; returns the outcome as read from the database."""
    console = console or Console()
    output_dir.mkdir(parents=True, exist_ok=True)
    with SandboxServer(port=0) as sandbox, ReceiverServer(database_url=database_url, emit_events=False) as receiver:
        _configure(database_url, sandbox, receiver.url, output_dir)
        steps = _Steps(console, total=10)
        with steps.progress:
            with steps.step("fresh database (schema + plan catalog)"):
                _fresh_database(database_url)
            return _story(sandbox, steps, output_dir, stats_days)


def _story(sandbox: SandboxServer, steps: _Steps, output_dir: Path, stats_days: int) -> DemoResult:
    from flows.accounts import sync_accounts
    from flows.invoicing import invoice_month
    from flows.onboarding import onboard_tenant
    from flows.stats import collect_stats

    period = sandbox.now().strftime("%Y-%m")
    with steps.step("onboard 3 tenants (profile group, scoped key, webhook, OAuth links)"):
        links = {t.slug: asyncio.run(onboard_tenant(
            slug=t.slug, name=t.name, plan=t.plan, time_zone=t.time_zone, admin_email=f"admin@{t.slug}.example",
            platforms=list(t.platforms), redirect_url=REDIRECT_URL))["links"] for t in TENANTS}
    with steps.step("customers open their OAuth links; sync-accounts records the accounts"):
        for tenant_links in links.values():
            for link in tenant_links:
                assert httpx.get(link["url"], follow_redirects=False).status_code == 302
        asyncio.run(sync_accounts())
        _teams_and_policies()
    with steps.step("faults: linkedin fails for good at Acme, threads fails once then succeeds"):
        _fault(sandbox, scope="platform", platform="linkedin", profile_id=_profile("acme", "linkedin"),
               mode="fail", count=None, error="LinkedIn: the organization token was revoked")
        _fault(sandbox, scope="platform", platform="threads", mode="fail_then_succeed", count=1,
               error="Threads is temporarily unavailable")
    with steps.step("draft, review and publish 5 posts (now, scheduled, queued, two-step, rejected)"):
        post_ids = _publish_posts(sandbox)
    with steps.step("advance the sandbox clock: scheduled and queued posts go out, webhooks confirm"):
        sandbox.advance(2 * 86400)
        _settle()
    with steps.step(f"collect stats over a simulated month ({stats_days} days, every 5 days)"):
        for _ in range(0, stats_days, 5):
            sandbox.advance(5 * 86400)
            asyncio.run(collect_stats())
    with steps.step(f"invoice {period} for every tenant"):
        asyncio.run(invoice_month(period=period))
    with steps.step("write the invoices' HTML files"):
        files = _write_invoices(period, output_dir / "invoices")
    with steps.step("read the outcome back from the database"):
        result = _outcome(period, files, output_dir)
    result.post_ids = post_ids
    return result


def _teams_and_policies() -> None:
    with system_scope("demo: teams") as session:
        for t in TENANTS:
            tenant = tenants.get_by_slug(session, t.slug)
            for email, role in t.team.items():
                members.upsert_member(session, tenant.id, email=email, role=role)
            if t.steps:
                approvals.set_policy(session, tenant.id, list(t.steps))


def _profile(slug: str, platform: str) -> str:
    with system_scope("demo: find profile") as session:
        tenant = tenants.get_by_slug(session, slug)
        return next(a.profile_id for a in accounts.list_accounts(session, tenant.id) if a.platform == platform)


def _fault(sandbox: SandboxServer, **body: Any) -> None:
    httpx.post(f"{sandbox.base_url}/sandbox/faults", json=body,
               headers={"Authorization": f"Bearer {sandbox.account_key}"}).raise_for_status()


def _queue(sandbox: SandboxServer, slug: str, time_zone: str) -> str:
    from postpipe.postproxy import tenant_client

    async def create() -> str:
        with system_scope("demo: tenant") as session:
            tenant = tenants.get_by_slug(session, slug)
        local = sandbox.now().astimezone(ZoneInfo(time_zone))
        tomorrow = (local + timedelta(days=1)).isoweekday() % 7  # Postproxy days: 0 = Sunday
        async with tenant_client(tenant.id) as client:
            queue = await client.queues.create(
                "Lunch specials", tenant.profile_group_id, timezone=time_zone,
                timeslots=[{"day": tomorrow, "time": "11:30"}],
            )
            return queue.id

    return asyncio.run(create())


def _publish_posts(sandbox: SandboxServer) -> dict[str, str]:
    """Five posts through the real pipeline; reviewers decide with the same command operators use."""
    from flows.publishing import approve_and_publish
    from postpipe.commands.review import submit
    from postpipe.drafting import NewPost, create_post

    later = sandbox.now() + timedelta(hours=6)
    queue_id = _queue(sandbox, "bistro", "Europe/Paris")
    plan: list[tuple[str, NewPost, list[tuple[str, str, str]]]] = [
        ("acme-now", NewPost(tenant="acme", author="maya@acme.example", body="Our winter trail boots are in.",
                             targets=[_profile("acme", p) for p in ("twitter", "threads")]),
         [("approve", "omar@acme.example", "Looks great")]),
        ("acme-partial", NewPost(tenant="acme", author="maya@acme.example",
                                 body="We are hiring a trail guide. Apply by Friday.",
                                 targets=[_profile("acme", p) for p in ("twitter", "linkedin")]),
         [("approve", "omar@acme.example", "")]),
        ("acme-scheduled", NewPost(tenant="acme", author="maya@acme.example", body="Weekend sale starts now!",
                                   targets=[_profile("acme", "twitter")], mode="scheduled", scheduled_at=later),
         [("approve", "omar@acme.example", "")]),
        ("bistro-queued", NewPost(tenant="bistro", author="chloe@bistro.example",
                                  body="Today's special: bouillabaisse.", media=["https://cdn.example/bouillabaisse.jpg"],
                                  targets=[_profile("bistro", p) for p in ("instagram", "facebook")],
                                  platform_params={"instagram": {"first_comment": "#marseille #lunch"}},
                                  mode="queue", queue_id=queue_id, queue_priority="high"),
         [("approve", "luc@bistro.example", ""), ("approve", "ines@bistro.example", "Two-step policy done")]),
        ("cobalt-rejected", NewPost(tenant="cobalt", author="ken@cobalt.example",
                                    body="Cobalt 2.0 launches tomorrow!!!", targets=[_profile("cobalt", "twitter")]),
         [("reject", "aiko@cobalt.example", "Launch date is not public yet; say 'soon' instead.")]),
    ]
    ids: dict[str, str] = {}
    runs: list[BackgroundFlow] = []
    for name, request, decisions in plan:
        with system_scope("demo: create post") as session:
            post_id = create_post(session, request).id
        ids[name] = str(post_id)
        run = BackgroundFlow(approve_and_publish, post_id)
        runs.append(run)
        for decision, reviewer, comment in decisions:
            wait_until_paused(post_id, run)
            submit(post_id, decision, reviewer, comment, wait_seconds=60)
    for run in runs:
        run.join(180)
    return ids


def _settle() -> None:
    """Scheduled and queued posts were confirmed by webhooks; reconcile settles their final state."""
    from flows.reconcile import reconcile_deliveries

    asyncio.run(reconcile_deliveries(deadline_minutes=0))


def _write_invoices(period: str, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    with system_scope("demo: invoices") as session:
        for summary in invoices.list_for_period(session, period):
            record = invoices.get(session, summary.tenant_id, period)
            path = directory / f"{summary.tenant_slug}-{period}.html"
            path.write_text(record.html or "" if record else "", encoding="utf-8")
            files.append(path)
    return files


def _outcome(period: str, files: list[Path], output_dir: Path) -> DemoResult:
    with system_scope("demo: outcome") as session:
        by_state = posts.count_by_status(session)
        by_platform = deliveries.counts_by_platform(session)
        bills = [
            {"tenant": r.tenant_slug, "number": r.number, "total": r.total, "currency": r.currency, "status": r.status}
            for r in invoices.list_for_period(session, period)
        ]
        snapshots = stats.count(session)
    return DemoResult(period, by_state, by_platform, bills, files, snapshots, output_dir)


def print_summary(result: DemoResult, console: Console) -> None:
    tenants_table = Table(title="Invoices " + result.period)
    for column in ("tenant", "number", "total", "status"):
        tenants_table.add_column(column)
    from postpipe.templates import money

    for bill in result.invoices:
        tenants_table.add_row(bill["tenant"], str(bill["number"]), money(bill["total"], bill["currency"]),
                              bill["status"])
    posts_table = Table(title="Posts by state")
    posts_table.add_column("state")
    posts_table.add_column("posts", justify="right")
    for state, n in sorted(result.posts_by_state.items()):
        posts_table.add_row(state, str(n))
    deliveries_table = Table(title="Deliveries by platform")
    deliveries_table.add_column("platform")
    deliveries_table.add_column("published", justify="right")
    deliveries_table.add_column("failed", justify="right")
    deliveries_table.add_column("other", justify="right")
    for platform, counts in sorted(result.deliveries_by_platform.items()):
        other = sum(n for s, n in counts.items() if s not in ("published", "failed"))
        deliveries_table.add_row(platform, str(counts.get("published", 0)), str(counts.get("failed", 0)), str(other))
    console.print(posts_table, deliveries_table, tenants_table)
    console.print(f"{result.snapshots} stats snapshots stored.")
    console.print(f"Invoice HTML files: {', '.join(str(p) for p in result.invoice_files)}")


def reset_output(output_dir: Path) -> None:
    if output_dir.exists():
        shutil.rmtree(output_dir)
