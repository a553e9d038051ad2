"""Approval policies (ordered steps) and the audit trail of every decision."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from postpipe.models import ApprovalDecision, ApprovalPolicy, ApprovalStep, utcnow


@dataclass(frozen=True)
class StepInfo:
    position: int
    role: str
    approvals_required: int
    timeout_seconds: int


@dataclass(frozen=True)
class PolicyInfo:
    steps: tuple[StepInfo, ...]
    on_missed_schedule: str


@dataclass(frozen=True)
class DecisionInfo:
    step_position: int
    content_hash: str
    reviewer_email: str
    decision: str
    comment: str
    accepted: bool
    refusal_reason: str | None
    decided_at: datetime


DEFAULT_STEPS = (StepInfo(position=1, role="approver", approvals_required=1, timeout_seconds=86_400),)
"""A tenant without a policy of its own: one step, one approver, one day."""


def policy(session: Session, tenant_id: uuid.UUID) -> PolicyInfo:
    rows = session.scalars(
        select(ApprovalStep).where(ApprovalStep.tenant_id == tenant_id).order_by(ApprovalStep.position)
    ).all()
    steps = tuple(StepInfo(r.position, r.role, r.approvals_required, r.timeout_seconds) for r in rows)
    on_missed = session.scalar(
        select(ApprovalPolicy.on_missed_schedule).where(ApprovalPolicy.tenant_id == tenant_id)
    )
    return PolicyInfo(steps=steps or DEFAULT_STEPS, on_missed_schedule=on_missed or "publish_now")


def set_policy(
    session: Session,
    tenant_id: uuid.UUID,
    steps: list[tuple[str, int, int]],
    *,
    on_missed_schedule: str = "publish_now",
) -> PolicyInfo:
    """Replace the tenant's steps: each (role, approvals required, timeout seconds), in order."""
    if on_missed_schedule not in ("publish_now", "expire"):
        raise ValueError(f"on_missed_schedule: {on_missed_schedule!r} is not publish_now or expire")
    session.execute(delete(ApprovalStep).where(ApprovalStep.tenant_id == tenant_id))
    for position, (role, required, timeout) in enumerate(steps, start=1):
        session.add(
            ApprovalStep(
                tenant_id=tenant_id, position=position, role=role, approvals_required=required, timeout_seconds=timeout
            )
        )
    row = session.get(ApprovalPolicy, tenant_id)
    if row is None:
        session.add(ApprovalPolicy(tenant_id=tenant_id, on_missed_schedule=on_missed_schedule))
    else:
        row.on_missed_schedule = on_missed_schedule
    session.flush()
    return policy(session, tenant_id)


def record(
    session: Session,
    tenant_id: uuid.UUID,
    post_id: uuid.UUID,
    *,
    step_position: int,
    content_hash: str,
    reviewer_email: str,
    member_id: uuid.UUID | None,
    decision: str,
    comment: str,
    refusal_reason: str | None,
    at: datetime | None = None,
) -> DecisionInfo:
    row = ApprovalDecision(
        tenant_id=tenant_id,
        post_id=post_id,
        step_position=step_position,
        content_hash=content_hash,
        reviewer_email=reviewer_email,
        member_id=member_id,
        decision=decision,
        comment=comment,
        accepted=refusal_reason is None,
        refusal_reason=refusal_reason,
        decided_at=at or utcnow(),
    )
    session.add(row)
    session.flush()
    return _info(row)


def _info(r: ApprovalDecision) -> DecisionInfo:
    return DecisionInfo(
        r.step_position, r.content_hash, r.reviewer_email, r.decision, r.comment, r.accepted, r.refusal_reason,
        r.decided_at,
    )


def decisions(session: Session, post_id: uuid.UUID) -> list[DecisionInfo]:
    rows = session.scalars(
        select(ApprovalDecision).where(ApprovalDecision.post_id == post_id).order_by(ApprovalDecision.decided_at)
    )
    return [_info(r) for r in rows]
