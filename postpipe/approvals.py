"""The rules of review: where a post stands, and whether a reviewer's decision counts."""

from __future__ import annotations

from dataclasses import dataclass

from postpipe.repositories.approvals import DecisionInfo, StepInfo
from postpipe.repositories.members import MemberInfo


@dataclass(frozen=True)
class ReviewState:
    """The first step that still needs approvals for the current content, or None when all are done."""

    step: StepInfo | None
    approved_by: frozenset[str]

    @property
    def complete(self) -> bool:
        return self.step is None

    @property
    def missing(self) -> int:
        return 0 if self.step is None else self.step.approvals_required - len(self.approved_by)


def review_state(steps: tuple[StepInfo, ...], history: list[DecisionInfo], content_hash: str) -> ReviewState:
    """Only accepted approvals of the current content count: an edit starts the review again from step 1."""
    for step in steps:
        approvers = frozenset(
            d.reviewer_email
            for d in history
            if d.accepted and d.decision == "approve" and d.step_position == step.position and d.content_hash == content_hash
        )
        if len(approvers) < step.approvals_required:
            return ReviewState(step=step, approved_by=approvers)
    return ReviewState(step=None, approved_by=frozenset())


def refusal(
    *,
    decision: str,
    comment: str,
    reviewer: MemberInfo | None,
    reviewer_email: str,
    author_id: object,
    state: ReviewState,
) -> str | None:
    """Why this decision cannot count (None when it counts)."""
    if state.step is None:
        return "the review is already complete"
    if decision not in ("approve", "reject"):
        return f"decision must be 'approve' or 'reject', not {decision!r}"
    if reviewer is None:
        return f"{reviewer_email} is not a member of this tenant"
    if not reviewer.active:
        return f"{reviewer_email} is no longer an active member"
    if reviewer.id == author_id:
        return "authors cannot review their own post"
    if reviewer.role != state.step.role:
        return f"step {state.step.position} needs a reviewer with role {state.step.role!r}; {reviewer_email} is {reviewer.role!r}"
    if decision == "approve" and reviewer.email in state.approved_by:
        return f"{reviewer_email} has already approved this step"
    if decision == "reject" and not comment.strip():
        return "a rejection needs a comment telling the author what to change"
    return None
