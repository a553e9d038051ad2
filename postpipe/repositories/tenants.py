"""Tenants: identity, plan, Postproxy profile group and the encrypted group-scoped key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from postpipe import crypto
from postpipe.models import Tenant, utcnow


class TenantNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class TenantInfo:
    """What flows pass around about a tenant (never the ORM object, never the key)."""

    id: uuid.UUID
    slug: str
    name: str
    time_zone: str
    plan_id: str
    status: str
    profile_group_id: str | None
    has_api_key: bool


def _info(tenant: Tenant) -> TenantInfo:
    return TenantInfo(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        time_zone=tenant.time_zone,
        plan_id=tenant.plan_id,
        status=tenant.status,
        profile_group_id=tenant.profile_group_id,
        has_api_key=tenant.api_key_encrypted is not None,
    )


def upsert_tenant(session: Session, *, slug: str, name: str, time_zone: str, plan_id: str) -> TenantInfo:
    """Create the tenant, or update its name, zone and plan; a closed tenant stays closed."""
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        tenant = Tenant(slug=slug, name=name, time_zone=time_zone, plan_id=plan_id, status="onboarding")
        session.add(tenant)
    else:
        tenant.name, tenant.time_zone, tenant.plan_id = name, time_zone, plan_id
    session.flush()
    return _info(tenant)


def _load(session: Session, tenant_id: uuid.UUID) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise TenantNotFoundError(f"no tenant with id {tenant_id}")
    return tenant


def get(session: Session, tenant_id: uuid.UUID) -> TenantInfo:
    return _info(_load(session, tenant_id))


def get_by_slug(session: Session, slug: str) -> TenantInfo:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise TenantNotFoundError(f"no tenant with slug {slug!r}")
    return _info(tenant)


def find_by_slug(session: Session, slug: str) -> TenantInfo | None:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    return _info(tenant) if tenant else None


def find_by_profile_group(session: Session, profile_group_id: str) -> TenantInfo | None:
    tenant = session.scalar(select(Tenant).where(Tenant.profile_group_id == profile_group_id))
    return _info(tenant) if tenant else None


def list_tenants(session: Session, *, statuses: tuple[str, ...] = ("onboarding", "active")) -> list[TenantInfo]:
    rows = session.scalars(select(Tenant).where(Tenant.status.in_(statuses)).order_by(Tenant.slug))
    return [_info(t) for t in rows]


def set_profile_group(session: Session, tenant_id: uuid.UUID, profile_group_id: str) -> None:
    _load(session, tenant_id).profile_group_id = profile_group_id


def set_api_key(session: Session, tenant_id: uuid.UUID, *, key_id: str, token: SecretStr) -> None:
    tenant = _load(session, tenant_id)
    tenant.api_key_id = key_id
    tenant.api_key_encrypted = crypto.seal(token)


def clear_api_key(session: Session, tenant_id: uuid.UUID) -> None:
    tenant = _load(session, tenant_id)
    tenant.api_key_id = None
    tenant.api_key_encrypted = None


def api_key_id(session: Session, tenant_id: uuid.UUID) -> str | None:
    return _load(session, tenant_id).api_key_id


def api_key(session: Session, tenant_id: uuid.UUID) -> SecretStr:
    """The tenant's group-scoped Postproxy key, decrypted; raises if it has none or the key is wrong."""
    tenant = _load(session, tenant_id)
    if tenant.api_key_encrypted is None:
        raise TenantNotFoundError(f"tenant {tenant.slug!r} has no Postproxy API key (onboarding incomplete?)")
    return crypto.unseal(tenant.api_key_encrypted, what=f"the Postproxy API key of tenant {tenant.slug!r}")


def set_status(session: Session, tenant_id: uuid.UUID, status: str, *, at: datetime | None = None) -> None:
    tenant = _load(session, tenant_id)
    tenant.status = status
    if status == "closed" and tenant.closed_at is None:
        tenant.closed_at = at or utcnow()
