"""``postpipe demo``: the whole product once, on embedded defaults (see postpipe.demo)."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from rich.console import Console


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the whole product once on embedded defaults (SQLite, the local sandbox, Prefect's temporary server)",
    )
    demo.add_argument("--output", type=Path, default=Path("demo-output"), help="where the database and invoices go")
    demo.add_argument(
        "--database-url",
        default=None,
        help="database for the demo (default: a SQLite file in --output). It is emptied first: never point it "
        "at a database you care about",
    )
    demo.add_argument("--stats-days", type=int, default=30, help="simulated days of stats collection")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from postpipe.demo import print_summary, reset_output, run_demo

    # the progress bar and the summary tell the story; log lines below WARNING would bury them
    for handler in logging.root.handlers:
        handler.setLevel(logging.WARNING)
    console = Console()
    output: Path = args.output.resolve()
    reset_output(output)
    output.mkdir(parents=True)
    database_url = args.database_url or f"sqlite:///{output / 'postpipe.db'}"
    started = time.monotonic()
    console.rule("postpipe demo")
    console.print(f"database: {database_url}\noutput:   {output}")
    result = run_demo(database_url=database_url, output_dir=output, console=console, stats_days=args.stats_days)
    print_summary(result, console)
    console.print(f"[bold green]done[/bold green] in {time.monotonic() - started:.0f}s")
    return 0
