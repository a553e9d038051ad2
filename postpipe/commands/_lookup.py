"""Lookups shared by several sub-commands."""

from __future__ import annotations

import uuid

from postpipe.cli import CommandError
from postpipe.db import system_scope
from postpipe.repositories import tenants
from postpipe.repositories.tenants import TenantNotFoundError


def find_tenant(reference: str) -> tenants.TenantInfo:
    """The tenant a user named by slug or id; a CommandError naming it if there is none."""
    with system_scope("cli: find tenant") as session:
        try:
            return tenants.get(session, uuid.UUID(reference))
        except ValueError:
            pass
        except TenantNotFoundError:
            raise CommandError(f"tenant: no tenant with id {reference}") from None
        found = tenants.find_by_slug(session, reference)
    if found is None:
        raise CommandError(f"tenant: no tenant with slug {reference!r}")
    return found
