"""Prepare a Prefect server and Postproxy for postpipe's deployments (``postpipe setup``).

Each step first reads what exists and changes only what is missing or different, so running the whole
bootstrap again reports every step as ``unchanged``. Operator-tuned values (limit sizes, a work pool's job
template) are never overwritten.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.workers.process import ProcessWorker

from blocks.postproxy import PostproxyCredentials
from postpipe import prefect_limits
from postpipe.db import system_scope
from postpipe.repositories import stats, webhook_subscriptions
from postpipe.settings import Settings
from tasks.tenants import ensure_webhook_subscription

WORK_POOL_NAME = "postpipe-process"
"""The process work pool every deployment in prefect.yaml uses."""
WORK_POOL_TYPE = "process"

Outcome = Literal["created", "updated", "unchanged", "skipped"]


class BootstrapError(RuntimeError):
    """Something exists in a shape postpipe cannot use (for example a work pool of another type)."""


@dataclass(frozen=True)
class StepResult:
    what: str
    outcome: Outcome
    detail: str = ""

    def line(self) -> str:
        return f"{self.outcome:<9} {self.what}" + (f": {self.detail}" if self.detail else "")


async def register_block_types(client: PrefectClient) -> StepResult:
    """Register the PostproxyCredentials block type and its current schema."""
    what = f"block type {PostproxyCredentials.get_block_type_slug()}"
    try:
        await client.read_block_type_by_slug(PostproxyCredentials.get_block_type_slug())
        await client.read_block_schema_by_checksum(
            PostproxyCredentials._calculate_schema_checksum(), version=PostproxyCredentials.get_block_schema_version()
        )
    except ObjectNotFound:
        await PostproxyCredentials.aregister_type_and_schema(client=client)
        return StepResult(what, "created", "type and schema registered")
    return StepResult(what, "unchanged", "type and schema already registered")


async def save_account_credentials(settings: Settings) -> StepResult:
    """Store the account-wide key from the environment in the PostproxyCredentials block settings name."""
    name = settings.postproxy_credentials_block
    what = f"block postproxy-credentials/{name}"
    if settings.postproxy_api_key is None:
        return StepResult(what, "skipped", "POSTPIPE_POSTPROXY_API_KEY not given")
    wanted = PostproxyCredentials(api_key=settings.postproxy_api_key, base_url=settings.postproxy_base_url)
    try:
        current = await PostproxyCredentials.aload(name)
    except ValueError:  # Prefect's "unable to find block document" for a missing name
        await wanted.asave(name)
        return StepResult(what, "created", f"account-wide key for {wanted.base_url}")
    same_key = current.api_key.get_secret_value() == wanted.api_key.get_secret_value()
    if same_key and current.base_url == wanted.base_url and current.profile_group_id is None:
        return StepResult(what, "unchanged", f"same key and base URL {wanted.base_url}")
    await wanted.asave(name, overwrite=True)
    changed = ", ".join(
        field for field, differs in (("api_key", not same_key), ("base_url", current.base_url != wanted.base_url))
        if differs
    )
    return StepResult(what, "updated", changed or "profile_group_id cleared")


async def ensure_work_pool(client: PrefectClient, name: str = WORK_POOL_NAME) -> StepResult:
    """Create the process work pool if it is missing; refuse a pool of the same name but another type."""
    what = f"work pool {name}"
    try:
        pool = await client.read_work_pool(name)
    except ObjectNotFound:
        pool = None
    if pool is not None:
        if pool.type != WORK_POOL_TYPE:
            raise BootstrapError(f"work pool {name!r} exists with type {pool.type!r}; postpipe needs type 'process'")
        return StepResult(what, "unchanged", "exists (type process)")
    try:
        await client.create_work_pool(
            WorkPoolCreate(
                name=name,
                type=WORK_POOL_TYPE,
                description="Runs postpipe's flows as subprocesses of `prefect worker start --pool postpipe-process`.",
                base_job_template=ProcessWorker.get_default_base_job_template(),
            )
        )
    except ObjectAlreadyExists:  # created meanwhile by another setup run
        return StepResult(what, "unchanged", "created meanwhile by another run")
    return StepResult(what, "created", "type process")


async def ensure_limits(client: PrefectClient, api_key_ids: list[str]) -> list[StepResult]:
    """Create missing limits; an existing limit keeps the values an operator may have tuned."""
    return [_limit_step(state) for state in await prefect_limits.ensure_limits(client, api_key_ids)]


def _limit_step(state: prefect_limits.LimitState) -> StepResult:
    what = f"{state.kind} {state.name}"
    if state.outcome == "created":
        return StepResult(what, "created", state.describe())
    if state.outcome == "exists":
        return StepResult(what, "unchanged", f"exists: {state.describe()}")
    return StepResult(what, "unchanged", "created meanwhile by another run")


def tenant_api_key_ids() -> list[str]:
    """The scoped Postproxy key id of every tenant whose stats are collected (one concurrency limit each)."""
    with system_scope("setup: list tenant keys") as session:
        return [target.api_key_id for target in stats.tenants_to_collect(session)]


async def ensure_webhook(settings: Settings) -> StepResult:
    """The installation's Postproxy webhook, through the same task function onboarding uses."""
    url = settings.webhook_public_url
    if not url:
        return StepResult("Postproxy webhook", "skipped", "POSTPIPE_WEBHOOK_PUBLIC_URL not set")
    what = f"Postproxy webhook {url}"

    def read() -> webhook_subscriptions.SubscriptionInfo | None:
        with system_scope("setup: read webhook subscription") as session:
            return webhook_subscriptions.find(session, url)

    before = await asyncio.to_thread(read)
    hook_id = await ensure_webhook_subscription.fn()
    after = await asyncio.to_thread(read)
    if before == after:
        return StepResult(what, "unchanged", f"subscription {hook_id}")
    return StepResult(what, "created" if before is None else "updated", f"subscription {hook_id}, signing secret stored")


async def bootstrap(settings: Settings) -> list[StepResult]:
    """Run every set-up step in order and return what each one did."""
    results: list[StepResult] = []
    async with get_client() as client:
        results.append(await register_block_types(client))
        results.append(await save_account_credentials(settings))
        results.append(await ensure_work_pool(client))
        key_ids = await asyncio.to_thread(tenant_api_key_ids)
        results.extend(await ensure_limits(client, key_ids))
    results.append(await ensure_webhook(settings))
    return results
