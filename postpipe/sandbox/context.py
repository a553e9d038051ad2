"""What a handler gets: the caller, the parsed request, the sandbox time, and access rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers, QueryParams

from .errors import not_found, unauthorized
from .state import Caller, SandboxState


@dataclass
class RequestContext:
    state: SandboxState
    caller: Caller
    body: dict[str, Any]
    query: QueryParams
    path_params: dict[str, str]
    headers: Headers
    now: float
    base_url: str

    def require_account_key(self) -> None:
        """Account-only endpoints refuse scoped keys with 401 (the SDK's "insufficient permissions")."""
        if not self.caller.is_account:
            raise unauthorized("This API key is scoped to a profile group and lacks permission for this endpoint")

    def group_context(self, explicit: str | None = None) -> str:
        """The profile group a request works in: explicit id, then ``?profile_group_id``, then the key's group, then the first group."""
        wanted = explicit or self.query.get("profile_group_id") or None
        if self.caller.group_id is not None:
            if wanted is not None and wanted != self.caller.group_id:
                raise not_found()
            return self.caller.group_id
        if wanted is not None:
            if wanted not in self.state.groups:
                raise not_found()
            return wanted
        first = self.state.first_group_id()
        if first is None:
            raise not_found()
        return first

    def can_see(self, group_id: str) -> bool:
        """Whether an object of ``group_id`` is visible (scoped keys: own group; ``?profile_group_id`` narrows)."""
        if self.caller.group_id is not None and group_id != self.caller.group_id:
            return False
        wanted = self.query.get("profile_group_id")
        return not wanted or wanted == group_id

    def path(self, name: str) -> str:
        return self.path_params[name]
