"""The ``postpipe`` command.

Each sub-command lives in its own module under ``postpipe.commands`` and adds itself to the parser through a
``register(subparsers)`` function, so the CLI grows with the product without a central switchboard.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

from postpipe import commands


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postpipe", description="postpipe: social publishing back end on Prefect")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not module.name.startswith("_"):
            importlib.import_module(f"{commands.__name__}.{module.name}").register(subparsers)
    return parser


PREFECT_DEFAULTS = {
    # no network here: without this every Prefect server logs failed telemetry calls
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # Prefect's temporary server needs longer than its 20 s default to start on a busy 2-core machine
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def main(argv: Sequence[str] | None = None) -> int:
    for name, value in PREFECT_DEFAULTS.items():  # before any command imports prefect (it reads them once)
        os.environ.setdefault(name, value)
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.verbose:  # one line per HTTP request drowns what the user came to read
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        result = args.handler(args)
    except CommandError as exc:
        print(f"postpipe {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
