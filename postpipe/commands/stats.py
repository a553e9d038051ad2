"""``postpipe stats report TENANT [--since DATE] [--top N] [--html FILE]``: a tenant's engagement figures."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from postpipe.cli import CommandError
from postpipe.commands._lookup import find_tenant
from postpipe.stats_report import (
    COMMON_METRICS,
    StatsReport,
    build_report,
    other_metrics,
    render_html,
)
from postpipe.templates import plain


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("stats", help="engagement stats collected from Postproxy")
    actions = parser.add_subparsers(dest="action", required=True)
    report = actions.add_parser(
        "report", help="totals per platform and per post (latest snapshot per post and account, summed)"
    )
    report.add_argument("tenant", help="tenant slug (or id)")
    report.add_argument("--since", metavar="DATE", help="only snapshots recorded on or after DATE (YYYY-MM-DD, UTC)")
    report.add_argument("--top", type=int, default=5, metavar="N", help="how many top posts to chart (default 5)")
    report.add_argument("--html", type=Path, metavar="FILE", help="also write an HTML report with charts to FILE")
    report.set_defaults(handler=show_report)


def parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--since: expected a date as YYYY-MM-DD, got {text!r}") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def show_report(args: argparse.Namespace) -> int:
    since = parse_since(args.since)
    if args.top < 0:
        raise CommandError(f"--top: must be 0 or more, got {args.top}")
    tenant = find_tenant(args.tenant)
    report = build_report(tenant.id, tenant.slug, since=since, top=args.top)
    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
    print_report(console, report)
    if args.html is not None:
        try:
            args.html.write_text(render_html(report), encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"--html: cannot write {args.html}: {exc.strerror}") from None
        console.print(f"HTML report written to {args.html}")
    return 0


def _text(value: object) -> Text:
    """Stored text as literal terminal text: no rich markup, no control characters."""
    return Text(plain(value))


def _metric_columns(table: Table) -> None:
    for name in COMMON_METRICS:
        table.add_column(name, justify="right")
    table.add_column("other")


def print_report(console: Console, report: StatsReport) -> None:
    since = f" since {report.since:%Y-%m-%d}" if report.since else ""
    console.print(_text(f"Stats of {report.tenant}{since} (latest snapshot per post and account, summed)"))
    if not report.posts:
        console.print("No stats collected yet.")
        return
    platforms = Table(title="Per platform", title_justify="left")
    platforms.add_column("platform")
    platforms.add_column("accounts", justify="right")
    platforms.add_column("posts", justify="right")
    _metric_columns(platforms)
    for p in report.platforms:
        platforms.add_row(
            _text(p.platform), str(p.accounts), str(p.posts), *(str(p.metrics.get(m, "")) for m in COMMON_METRICS),
            _text(other_metrics(p.metrics)),
        )
    console.print(platforms)
    posts = Table(title="Per post (by impressions)", title_justify="left")
    posts.add_column("post")
    posts.add_column("Postproxy id", no_wrap=True)
    posts.add_column("platforms")
    posts.add_column("body", max_width=40, no_wrap=True, overflow="ellipsis")
    _metric_columns(posts)
    for p in report.posts:
        posts.add_row(
            str(p.post_id)[:8], _text(p.postproxy_post_id or "-"), _text(", ".join(p.platforms)), _text(p.body),
            *(str(p.metrics.get(m, "")) for m in COMMON_METRICS), _text(other_metrics(p.metrics)),
        )
    console.print(posts)
