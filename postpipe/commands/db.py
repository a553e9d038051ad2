"""``postpipe db upgrade|downgrade``: apply the schema and the plan catalog."""

from __future__ import annotations

import argparse

from postpipe import migrate
from postpipe.db import owner_session
from postpipe.repositories import plans
from postpipe.settings import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    db = subparsers.add_parser("db", help="database schema")
    actions = db.add_subparsers(dest="action", required=True)
    up = actions.add_parser("upgrade", help="apply migrations (default: to head) and load the plan catalog")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=upgrade)
    down = actions.add_parser("downgrade", help="revert migrations (default: to an empty database)")
    down.add_argument("revision", nargs="?", default="base")
    down.set_defaults(handler=downgrade)


def upgrade_database(url: str | None = None) -> list[str]:
    """Migrate to head and make the plan catalog current; returns the plan ids."""
    migrate.upgrade("head", url=url)
    with owner_session(url) as session:
        return plans.ensure_catalog(session)


def upgrade(args: argparse.Namespace) -> int:
    if args.revision != "head":
        migrate.upgrade(args.revision, url=get_settings().database_url)
        print(f"database upgraded to {args.revision}")
        return 0
    plan_ids = upgrade_database()
    print(f"database at head; plans: {', '.join(plan_ids)}")
    return 0


def downgrade(args: argparse.Namespace) -> int:
    migrate.downgrade(args.revision, url=get_settings().database_url)
    print(f"database downgraded to {args.revision}")
    return 0
