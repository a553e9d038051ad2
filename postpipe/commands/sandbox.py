"""``postpipe sandbox``: serve the local Postproxy-compatible API until interrupted."""

from __future__ import annotations

import argparse

from postpipe.sandbox.server import serve_forever


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sandbox", help="serve a local Postproxy-compatible API (for offline runs)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--account-key", default=None, help="account-wide key to accept (default: a new one)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    def ready(base_url: str, account_key: str) -> None:
        print(f"Postproxy sandbox at {base_url} (API under {base_url}/api)", flush=True)
        print(f"account-wide key: {account_key}", flush=True)
        print("point postpipe at it with POSTPIPE_POSTPROXY_BASE_URL and POSTPIPE_POSTPROXY_API_KEY; Ctrl-C stops it")

    serve_forever(args.host, args.port, args.account_key, on_ready=ready)
    return 0
