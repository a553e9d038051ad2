"""``postpipe invoices show TENANT PERIOD [--html FILE]``: print a stored invoice."""

from __future__ import annotations

import argparse
from pathlib import Path

from postpipe.billing.periods import PeriodFormatError, parse_period
from postpipe.cli import CommandError
from postpipe.commands._lookup import find_tenant
from postpipe.db import tenant_scope
from postpipe.repositories import invoices


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("invoices", help="monthly invoices")
    actions = parser.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="print a tenant's invoice for a month (plain text)")
    show.add_argument("tenant", help="tenant slug (or id)")
    show.add_argument("period", help="billing month, YYYY-MM")
    show.add_argument("--html", type=Path, metavar="FILE", help="also write the HTML rendering to FILE")
    show.set_defaults(handler=show_invoice)


def show_invoice(args: argparse.Namespace) -> int:
    try:
        period = str(parse_period(args.period))
    except PeriodFormatError as exc:
        raise CommandError(str(exc)) from None
    tenant = find_tenant(args.tenant)
    with tenant_scope(tenant.id) as session:
        record = invoices.get(session, tenant.id, period)
    if record is None:
        raise CommandError(f"period: tenant {tenant.slug!r} has no invoice for {period}")
    print(record.text_body or "", end="")
    if args.html is not None:
        try:
            args.html.write_text(record.html or "", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"--html: cannot write {args.html}: {exc.strerror}") from None
        print(f"\nHTML written to {args.html}")
    return 0
