"""``postpipe approve`` / ``postpipe reject``: decide on a post under review from a terminal.

The same rules as the Prefect UI's form apply (postpipe.approvals.refusal): a decision that cannot count is
recorded as refused, with its reason, and the waiting run is not disturbed; one that can count resumes the run,
which records it.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

from prefect.client.orchestration import get_client
from prefect.flow_runs import resume_flow_run

from postpipe import review
from postpipe.cli import CommandError
from postpipe.db import system_scope, tenant_scope
from postpipe.repositories import approvals, posts


def register(subparsers: argparse._SubParsersAction) -> None:
    for name, needs_comment in (("approve", False), ("reject", True)):
        parser = subparsers.add_parser(name, help=f"{name} a post waiting for review")
        parser.add_argument("post_id", type=uuid.UUID)
        parser.add_argument("--as", dest="reviewer", required=True, metavar="EMAIL", help="the reviewer's email")
        parser.add_argument("--comment", required=needs_comment, default="", help="feedback for the author")
        parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the run to record it")
        parser.set_defaults(handler=_handler(name))


def _handler(decision: str) -> Any:
    def handle(args: argparse.Namespace) -> int:
        outcome = submit(args.post_id, decision, args.reviewer, args.comment, wait_seconds=args.wait)
        print(outcome)
        return 0

    return handle


def submit(post_id: uuid.UUID, decision: str, reviewer: str, comment: str = "", *, wait_seconds: float = 30.0) -> str:
    """Check the decision like the run would, then resume the waiting run with it; returns what happened."""
    with system_scope("review: find post") as session:
        try:
            post = posts.get(session, post_id)
        except posts.PostNotFoundError as exc:
            raise CommandError(str(exc)) from None
    if post.status != "awaiting_approval" or post.flow_run_id is None:
        raise CommandError(f"post {post_id} is {post.status}; there is no review waiting for a decision")
    with tenant_scope(post.tenant_id) as session:
        verdict = review.judge(session, post, decision, reviewer, comment, record_accepted=False)
    if not verdict.accepted:
        raise CommandError(f"decision refused: {verdict.reason}")
    _resume(post.flow_run_id, {"decision": decision, "reviewer": reviewer, "comment": comment}, wait_seconds)
    return _await_record(post.tenant_id, post_id, verdict.decisions_before, wait_seconds)


def _resume(flow_run_id: uuid.UUID, run_input: dict[str, str], wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:  # a run that just started may not be paused yet
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run_id).state
        if state is not None and state.is_paused():
            break
        if time.monotonic() > deadline:
            raise CommandError(f"run {flow_run_id} is {state.name if state else 'unknown'}, not waiting for a decision")
        time.sleep(0.5)
    try:
        resume_flow_run(flow_run_id, run_input=run_input)
    except RuntimeError as exc:
        raise CommandError(f"run {flow_run_id} refused the input: {exc}") from None


def _await_record(tenant_id: uuid.UUID, post_id: uuid.UUID, seen: int, wait_seconds: float) -> str:
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        with tenant_scope(tenant_id) as session:
            history = approvals.decisions(session, post_id)
        if len(history) > seen:
            last = history[-1]
            if last.accepted:
                return f"{last.decision} by {last.reviewer_email} recorded at step {last.step_position}"
            raise CommandError(f"decision refused: {last.refusal_reason}")
        time.sleep(0.3)
    return "decision submitted; the run records it when it resumes"
