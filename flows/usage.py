"""Month-to-date usage per tenant, cross-checked against Postproxy."""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from postpipe.billing.usage_report import cross_check
from tasks.billing import month_to_date_usage, postproxy_active_profiles

MAX_PARALLEL_TENANTS = 8


@flow(name="usage-report")
async def usage_report() -> dict[str, Any]:
    """Posts published, accounts connected and seats, month to date, for every open tenant.

    Connected accounts are compared with the active profiles Postproxy lists through the tenant's own scoped
    key; a difference is reported (artifact and return value) with the profile ids on each side.
    """
    logger = get_run_logger()
    reports = month_to_date_usage()
    gate = asyncio.Semaphore(MAX_PARALLEL_TENANTS)

    async def postproxy_view(report: Any) -> set[str] | BaseException | None:
        if not report.has_api_key:
            return None
        async with gate:
            try:
                return await postproxy_active_profiles(report.tenant_id)
            except Exception as exc:  # one tenant's failure must not hide the others' figures
                return exc

    views = await asyncio.gather(*(postproxy_view(r) for r in reports))
    rows: list[dict[str, Any]] = []
    mismatches: dict[str, dict[str, Any]] = {}
    for report, view in zip(reports, views, strict=True):
        row: dict[str, Any] = {
            "tenant": report.slug,
            "period": report.period,
            "posts_published": report.published_posts,
            "accounts_connected": report.accounts_connected,
            "seats": report.seats,
        }
        if view is None:
            row["postproxy"] = "not checked: tenant has no scoped key"
        elif isinstance(view, BaseException):
            row["postproxy"] = f"check failed: {type(view).__name__}: {view}"
            logger.error("%s: Postproxy cross-check failed: %s", report.slug, row["postproxy"])
        else:
            check = cross_check(report, view)
            row["postproxy_active_profiles"] = check.postproxy_count
            if check.matches:
                row["postproxy"] = "matches"
            else:
                row["postproxy"] = "MISMATCH"
                row["only_in_postgres"] = ", ".join(check.only_in_postgres)
                row["only_at_postproxy"] = ", ".join(check.only_at_postproxy)
                mismatches[report.slug] = {
                    "postgres": check.postgres_count,
                    "postproxy": check.postproxy_count,
                    "only_in_postgres": list(check.only_in_postgres),
                    "only_at_postproxy": list(check.only_at_postproxy),
                }
                logger.warning("%s: connected accounts differ from Postproxy: %s", report.slug, mismatches[report.slug])
        rows.append(row)
    await acreate_table_artifact(
        key="usage-report", table=rows, description="Month-to-date usage per tenant, cross-checked with Postproxy"
    )
    return {"tenants": rows, "mismatches": mismatches}
