"""``postpipe demo``: the main job on embedded defaults (SQLite, the local sandbox, Prefect's temporary server)."""

from __future__ import annotations

import argparse

from postpipe.commands.db import upgrade_database
from postpipe.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="run the whole product once on embedded defaults")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    plan_ids = upgrade_database()
    print(f"database ready at {settings.database_url} (schema at head; plans: {', '.join(plan_ids)})")
    return 0
