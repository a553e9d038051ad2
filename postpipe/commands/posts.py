"""``postpipe posts create|edit|show``: draft posts from a terminal."""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from postpipe.cli import CommandError
from postpipe.db import system_scope, tenant_scope
from postpipe.drafting import NewPost, PostValidationError, create_post
from postpipe.repositories import approvals, deliveries, posts


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("posts", help="create, edit and inspect posts")
    actions = group.add_subparsers(dest="action", required=True)

    create = actions.add_parser("create", help="validate and store a new post (then run approve-and-publish)")
    create.add_argument("--tenant", required=True, help="tenant slug")
    create.add_argument("--author", required=True, help="author's email")
    create.add_argument("--body", required=True)
    create.add_argument("--target", action="append", default=[], metavar="PROFILE_ID", help="repeat per account")
    create.add_argument("--media", action="append", default=[], metavar="URL")
    create.add_argument(
        "--param", action="append", default=[], metavar="PLATFORM.KEY=VALUE",
        help="per-platform parameter, e.g. youtube.title='Launch' or instagram.format=reel",
    )
    when = create.add_mutually_exclusive_group()
    when.add_argument("--scheduled-at", type=datetime.fromisoformat, help="ISO 8601 with offset")
    when.add_argument("--queue", metavar="QUEUE_ID", help="let a Postproxy queue pick the time")
    create.add_argument("--priority", choices=("high", "medium", "low"), help="queue priority")
    create.set_defaults(handler=_create)

    edit = actions.add_parser("edit", help="change a post under review (its review starts again)")
    edit.add_argument("post_id", type=uuid.UUID)
    edit.add_argument("--body")
    edit.add_argument("--media", action="append", metavar="URL")
    edit.set_defaults(handler=_edit)

    show = actions.add_parser("show", help="a post, its review and its deliveries")
    show.add_argument("post_id", type=uuid.UUID)
    show.set_defaults(handler=_show)


def parse_params(items: list[str]) -> dict[str, dict[str, Any]]:
    params: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        platform, dot, name = key.partition(".")
        if not sep or not dot or not platform or not name:
            raise CommandError(f"--param {item!r}: expected PLATFORM.KEY=VALUE")
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        params.setdefault(platform, {})[name] = parsed
    return params


def _create(args: argparse.Namespace) -> int:
    mode = "scheduled" if args.scheduled_at else "queue" if args.queue else "now"
    try:
        request = NewPost(
            tenant=args.tenant, author=args.author, body=args.body, media=args.media, targets=args.target,
            platform_params=parse_params(args.param), mode=mode, scheduled_at=args.scheduled_at,
            queue_id=args.queue, queue_priority=args.priority,
        )
        with system_scope("cli: create post") as session:
            post = create_post(session, request)
    except (PostValidationError, ValidationError) as exc:
        raise CommandError(str(exc)) from None
    print(f"post {post.id} created ({mode}); send it to review with the approve-and-publish flow")
    return 0


def _edit(args: argparse.Namespace) -> int:
    with system_scope("cli: find post") as session:
        try:
            tenant_id = posts.tenant_of(session, args.post_id)
        except posts.PostNotFoundError as exc:
            raise CommandError(str(exc)) from None
    try:
        with tenant_scope(tenant_id) as session:
            post = posts.edit_content(session, args.post_id, body=args.body, media=args.media)
    except posts.PostNotEditableError as exc:
        raise CommandError(str(exc)) from None
    print(f"post {post.id} edited; earlier approvals no longer count (content {post.content_hash[:12]})")
    return 0


def _show(args: argparse.Namespace) -> int:
    with system_scope("cli: find post") as session:
        try:
            tenant_id = posts.tenant_of(session, args.post_id)
        except posts.PostNotFoundError as exc:
            raise CommandError(str(exc)) from None
    with tenant_scope(tenant_id) as session:
        post = posts.get(session, args.post_id)
        history = approvals.decisions(session, post.id)
        rows = deliveries.for_post(session, post.id)
    print(f"post {post.id} [{post.tenant_slug}] {post.status}" + (f": {post.status_reason}" if post.status_reason else ""))
    print(f"  {post.body}")
    if post.needs_reconnect:
        print("  needs reconnection: an account it targets was disconnected (see the tenant's reconnection link)")
    for h in history:
        verdict = "counted" if h.accepted else f"refused ({h.refusal_reason})"
        print(f"  review step {h.step_position}: {h.decision} by {h.reviewer_email}, {verdict} {h.comment}")
    for d in rows:
        print(f"  {d.platform}: {d.status} {d.permalink or d.error or ''}")
    return 0
