"""Judging a reviewer's decision on a post: one function for the pipeline and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from postpipe import approvals as rules
from postpipe.repositories import approvals, members, posts


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str | None
    step: int
    decisions_before: int


def judge(
    session: Session, post: posts.PostInfo, decision: str, reviewer: str, comment: str, *, record_accepted: bool
) -> Verdict:
    """Decide whether the decision counts; a refused one is always recorded (the audit trail), an accepted one
    only when ``record_accepted`` (the CLI leaves that to the run it resumes)."""
    policy = approvals.policy(session, post.tenant_id)
    history = approvals.decisions(session, post.id)
    state = rules.review_state(policy.steps, history, post.content_hash)
    member = members.find_by_email(session, post.tenant_id, reviewer)
    reason = rules.refusal(
        decision=decision, comment=comment, reviewer=member, reviewer_email=reviewer,
        author_id=post.author_id, state=state,
    )
    step = state.step.position if state.step else 0
    if reason is not None or record_accepted:
        recorded = approvals.record(
            session, post.tenant_id, post.id, step_position=step, content_hash=post.content_hash,
            reviewer_email=reviewer.strip().lower(), member_id=member.id if member else None,
            decision=decision, comment=comment, refusal_reason=reason,
        )
        if reason is None:
            _advance_post(session, post, policy.steps, [*history, recorded], decision, reviewer, comment, step)
    return Verdict(reason is None, reason, step, len(history))


def _advance_post(
    session: Session, post: posts.PostInfo, steps: tuple[approvals.StepInfo, ...],
    history: list[approvals.DecisionInfo], decision: str, reviewer: str, comment: str, step: int,
) -> None:
    if decision == "reject":
        posts.set_status(session, post.id, "rejected", f"rejected by {reviewer} at step {step}: {comment}")
        return
    after = rules.review_state(steps, history, post.content_hash)
    if after.step is None or after.step.position != step:
        posts.set_review_deadline(session, post.id, None)  # the next step's clock starts when it waits
    if after.complete:
        posts.set_status(session, post.id, "approved", "all approval steps complete")
