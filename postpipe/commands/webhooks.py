"""``postpipe webhooks serve|unmatched``: run the receiver; list the events no tenant claims."""

from __future__ import annotations

import argparse

from postpipe.db import system_scope
from postpipe.repositories import webhook_events


def register(subparsers: argparse._SubParsersAction) -> None:
    webhooks = subparsers.add_parser("webhooks", help="the Postproxy webhook receiver")
    actions = webhooks.add_subparsers(dest="action", required=True)
    serve_parser = actions.add_parser("serve", help="serve POST /webhooks/postproxy and GET /healthz on uvicorn")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8788)
    serve_parser.add_argument(
        "--no-emit", action="store_true", help="store and apply only; leave Prefect emission to reconciliation"
    )
    serve_parser.add_argument("--access-log", action="store_true", help="log every request (off: it costs throughput)")
    serve_parser.set_defaults(handler=serve)
    unmatched_parser = actions.add_parser("unmatched", help="list stored events that match no tenant, newest first")
    unmatched_parser.add_argument("--limit", type=int, default=50)
    unmatched_parser.set_defaults(handler=unmatched)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from postpipe.webhooks.receiver import create_app

    uvicorn.run(
        create_app(emit_events=not args.no_emit), host=args.host, port=args.port, log_level="info",
        access_log=args.access_log, backlog=2048,
    )
    return 0


def unmatched(args: argparse.Namespace) -> int:
    with system_scope("cli: unmatched webhooks") as session:
        events = webhook_events.unmatched(session, limit=args.limit)
    if not events:
        print("no unmatched webhook events")
        return 0
    for e in events:
        print(f"{e.received_at:%Y-%m-%d %H:%M:%S}  {e.event_id}  {e.type}  {e.note or ''}")
    return 0
