"""``postpipe serve``: run every deployment of prefect.yaml from this one process (no work pool, no worker)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve all deployments of prefect.yaml from one process (small installations without a worker)",
        description="Registers the deployments of prefect.yaml (same names, schedules, triggers and parameters) "
        "on the Prefect server named by PREFECT_API_URL and runs their flow runs in this process until "
        "interrupted. Use either this or `prefect deploy --all` plus a worker, not both: they share names.",
    )
    parser.add_argument("--file", type=Path, default=None, help="the prefect.yaml to read (default: the repository's)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="serve only this deployment")
    parser.add_argument("--limit", type=int, default=None, help="most flow runs at once (default: unlimited)")
    parser.add_argument("--list", action="store_true", help="print the deployments that would be served and exit")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from prefect.settings import get_current_settings

    from deployments.serve import PREFECT_YAML, DeploymentSpecError, build_deployments
    from postpipe.cli import CommandError

    path = (args.file or PREFECT_YAML).resolve()
    if not path.is_file():
        raise CommandError(f"--file: {path} does not exist")
    # Served flow runs start from their entrypoints relative to the working directory: the project root.
    os.chdir(path.parent)
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    try:
        deployments = build_deployments(path, args.only)
    except DeploymentSpecError as exc:
        raise CommandError(str(exc)) from exc
    for d in deployments:
        schedules = ", ".join(_describe_schedule(s.schedule) for s in d.schedules) or "-"
        triggers = ", ".join(sorted(e for t in d.triggers for e in getattr(t, "expect", ()))) or "-"
        print(f"  {d.flow_name}/{d.name}  schedules: {schedules}  triggers: {triggers}")
    if args.list:
        return 0
    if not get_current_settings().api.url:
        raise CommandError("PREFECT_API_URL is not set: serving needs a running Prefect server to register with")
    from prefect import serve

    serve(*deployments, limit=args.limit)
    return 0


def _describe_schedule(schedule: object) -> str:
    for attribute in ("cron", "interval", "rrule"):
        value = getattr(schedule, attribute, None)
        if value is not None:
            return f"{attribute} {value}"
    return str(schedule)
