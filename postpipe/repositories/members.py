"""Team members (billed as seats while active)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from postpipe.models import Member, utcnow

ROLES = ("creator", "approver", "admin")


@dataclass(frozen=True)
class MemberInfo:
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    role: str
    active: bool


def _info(m: Member, now: datetime) -> MemberInfo:
    active = m.active_from <= now and (m.active_until is None or m.active_until > now)
    return MemberInfo(id=m.id, tenant_id=m.tenant_id, email=m.email, role=m.role, active=active)


def upsert_member(
    session: Session, tenant_id: uuid.UUID, *, email: str, role: str, active_from: datetime | None = None
) -> MemberInfo:
    """Add a member or change their role; a member who had left becomes active again."""
    if role not in ROLES:
        raise ValueError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    email = email.strip().lower()
    member = session.scalar(select(Member).where(Member.tenant_id == tenant_id, Member.email == email))
    now = utcnow()
    if member is None:
        member = Member(tenant_id=tenant_id, email=email, role=role, active_from=active_from or now)
        session.add(member)
    else:
        member.role = role
        if member.active_until is not None and member.active_until <= now:
            member.active_until = None
    session.flush()
    return _info(member, now)


def deactivate(session: Session, tenant_id: uuid.UUID, email: str, *, at: datetime | None = None) -> None:
    member = session.scalar(select(Member).where(Member.tenant_id == tenant_id, Member.email == email.lower()))
    if member is not None and member.active_until is None:
        member.active_until = at or utcnow()


def find_by_email(session: Session, tenant_id: uuid.UUID, email: str) -> MemberInfo | None:
    member = session.scalar(
        select(Member).where(Member.tenant_id == tenant_id, Member.email == email.strip().lower())
    )
    return _info(member, utcnow()) if member else None


def get(session: Session, member_id: uuid.UUID) -> MemberInfo | None:
    member = session.get(Member, member_id)
    return _info(member, utcnow()) if member else None


def list_members(session: Session, tenant_id: uuid.UUID) -> list[MemberInfo]:
    now = utcnow()
    rows = session.scalars(select(Member).where(Member.tenant_id == tenant_id).order_by(Member.email))
    return [_info(m, now) for m in rows]
