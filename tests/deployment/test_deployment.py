"""Production deployment end to end: `postpipe setup`, `prefect deploy --all` from prefect.yaml, and a
deployment run by a real process worker, all against a real Prefect server, PostgreSQL and the sandbox."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
from postproxy import PostProxy

from deployments.serve import read_specs
from postpipe.db import system_scope
from postpipe.repositories import accounts
from postpipe.sandbox import SandboxServer
from tests.deployment.processes import REPO_ROOT, Background, PrefectServer, prefect_env, run_cli
from tests.tenants import connected_tenant

FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _setup_lines(output: str) -> dict[str, str]:
    """`postpipe setup` output as {what: outcome}."""
    lines = {}
    for line in output.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and parts[0] in ("created", "updated", "unchanged", "skipped"):
            lines[parts[1].split(":")[0]] = parts[0]
    return lines


def test_setup_twice_changes_nothing_the_second_time(
    pg_db: str, sandbox: SandboxServer, prefect_server: PrefectServer, client_home: Path
) -> None:
    tenant = connected_tenant(sandbox, "setup-co", ["instagram"])
    with system_scope("test") as session:
        from postpipe.repositories import tenants

        key_id = tenants.api_key_id(session, tenant.id)
    env = prefect_env(prefect_server.api_url, client_home)

    first = _setup_lines(run_cli(["postpipe", "setup"], env))
    assert first["work pool postpipe-process"] == "created"
    assert first["rate limit postproxy-api-rate"] == "created"
    assert first[f"concurrency limit postproxy-key-{key_id}"] == "created"
    assert first["block postproxy-credentials/postproxy-account"] == "created"
    assert [v for k, v in first.items() if k.startswith("Postproxy webhook")] == ["created"]

    second_output = run_cli(["postpipe", "setup"], env)
    second = _setup_lines(second_output)
    assert second.keys() == first.keys()
    assert set(second.values()) == {"unchanged"}, second
    assert "nothing to change" in second_output

    pool = prefect_server.api("GET", "/work_pools/postpipe-process")
    assert pool["type"] == "process"
    limit = prefect_server.api("GET", "/v2/concurrency_limits/postproxy-api-rate")
    assert limit["limit"] == 60 and limit["slot_decay_per_second"] == 20.0
    hooks = asyncio.run(_webhook_urls(sandbox))
    assert hooks.count("http://127.0.0.1:9/webhooks/postproxy") == 1


async def _webhook_urls(sandbox: SandboxServer) -> list[str]:
    async with PostProxy(sandbox.account_key, base_url=sandbox.base_url) as client:
        return [h.url for h in (await client.webhooks.list()).data]


async def _connect_new_profile(sandbox: SandboxServer, group_id: str, platform: str) -> None:
    async with PostProxy(sandbox.account_key, base_url=sandbox.base_url) as client:
        link = await client.profile_groups.initialize_connection(group_id, platform, "https://app.example/ok")
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(link.url)).status_code == 302


def _deployments_by_name(server: PrefectServer) -> dict[str, dict[str, Any]]:
    found = server.api("POST", "/deployments/filter", {"limit": 200})
    assert isinstance(found, list)
    return {d["name"]: d for d in found}


def _wait_for_final_state(server: PrefectServer, run_id: str, worker: Background, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = server.api("GET", f"/flow_runs/{run_id}")
        assert isinstance(run, dict)
        if run["state_type"] in FINAL_STATES:
            return run
        assert worker.process.poll() is None, f"worker exited early:\n{worker.log()[-4000:]}"
        time.sleep(0.5)
    raise AssertionError(f"flow run {run_id} not finished after {timeout}s:\n{worker.log()[-4000:]}")


def test_prefect_yaml_deploys_and_a_worker_runs_sync_accounts(
    pg_db: str, sandbox: SandboxServer, prefect_server: PrefectServer, client_home: Path
) -> None:
    tenant = connected_tenant(sandbox, "deploy-co", ["instagram"])
    env = prefect_env(prefect_server.api_url, client_home, POSTPIPE_CODE_DIR=str(REPO_ROOT))
    run_cli(["postpipe", "setup"], env)
    run_cli(["prefect", "--no-prompt", "deploy", "--all"], env, timeout=240)

    specs = read_specs()
    deployed = _deployments_by_name(prefect_server)
    assert {s.name for s in specs} <= deployed.keys()
    for spec in specs:
        d = deployed[spec.name]
        assert d["work_pool_name"] == "postpipe-process", spec.name
        assert d["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO_ROOT)}}
        ], spec.name
        kinds = sorted(next(k for k in ("cron", "interval", "rrule") if k in s["schedule"]) for s in d["schedules"])
        assert kinds == sorted(next(k for k in ("cron", "interval", "rrule") if k in c) for c in spec.schedules)
        for schedule, config in zip(d["schedules"], spec.schedules, strict=True):
            if "cron" in config:
                assert schedule["schedule"]["cron"] == config["cron"]
            if "interval" in config:
                assert schedule["schedule"]["interval"] == config["interval"]
        assert d["parameter_openapi_schema"]["type"] == "object"
    automations = prefect_server.api("POST", "/automations/filter", {})
    assert isinstance(automations, list)
    by_name = {a["name"]: a for a in automations}
    for spec in specs:
        for n, trigger in enumerate(spec.triggers, start=1):
            automation = by_name[f"{spec.name}__automation_{n}"]
            assert automation["enabled"] is True
            assert automation["trigger"]["expect"] == trigger["expect"]
            assert automation["actions"][0]["deployment_id"] == deployed[spec.name]["id"]
    assert {s.name for s in specs if s.schedules} >= {"sync-accounts", "invoice-month", "reconcile-deliveries"}
    assert {s.name for s in specs if s.triggers} >= {"handle-profile-disconnected", "notify-delivery-failure"}

    # A profile connected at Postproxy that postpipe does not know yet: the deployed sync must record it.
    asyncio.run(_connect_new_profile(sandbox, tenant.group_id, "linkedin"))
    run = prefect_server.api(
        "POST", f"/deployments/{deployed['sync-accounts']['id']}/create_flow_run",
        {"parameters": {"tenant_slug": tenant.slug}},
    )
    assert isinstance(run, dict)
    worker = Background(
        ["prefect", "worker", "start", "--pool", "postpipe-process", "--type", "process"],
        {**env, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "5"},
        client_home / "worker.log",
    )
    try:
        finished = _wait_for_final_state(prefect_server, run["id"], worker, timeout=90)
    finally:
        worker.stop()
    assert finished["state_type"] == "COMPLETED", worker.log()[-4000:]
    with system_scope("test") as session:
        platforms = {a.platform for a in accounts.list_accounts(session, tenant.id, connected_only=True)}
    assert platforms == {"instagram", "linkedin"}
