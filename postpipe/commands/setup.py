"""``postpipe setup``: prepare a Prefect server and Postproxy for postpipe's deployments (idempotent)."""

from __future__ import annotations

import argparse
import asyncio

from postpipe.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "setup",
        help="register block types, the work pool, concurrency/rate limits and the Postproxy webhook (idempotent)",
        description="Prepares the Prefect server named by PREFECT_API_URL: registers the PostproxyCredentials "
        "block type (and saves POSTPIPE_POSTPROXY_API_KEY into the block named by "
        "POSTPIPE_POSTPROXY_CREDENTIALS_BLOCK), creates the 'postpipe-process' work pool, the global rate limit "
        "and per-key concurrency limits the flows acquire, and the Postproxy webhook subscription for "
        "POSTPIPE_WEBHOOK_PUBLIC_URL. Running it again changes nothing.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from prefect.settings import get_current_settings

    from deployments.bootstrap import BootstrapError, bootstrap
    from postpipe.cli import CommandError

    api_url = get_current_settings().api.url
    if not api_url:
        raise CommandError(
            "PREFECT_API_URL is not set: postpipe setup configures a running Prefect server "
            "(for example PREFECT_API_URL=http://127.0.0.1:4200/api)"
        )
    settings = get_settings()
    print(f"setting up postpipe on Prefect at {api_url} (Postproxy at {settings.postproxy_base_url})")
    try:
        results = asyncio.run(bootstrap(settings))
    except BootstrapError as exc:
        raise CommandError(str(exc)) from exc
    for result in results:
        print("  " + result.line())
    changed = [r for r in results if r.outcome in ("created", "updated")]
    if changed:
        print(f"done: {len(changed)} change(s)")
    else:
        print("done: nothing to change, everything was already set up")
    return 0
