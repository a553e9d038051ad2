"""Injected failures: API-level answers (429/5xx/delay) and platform publishing failures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .errors import invalid

API_FAULT_STATUSES = (429, 500, 502, 503, 504)
PLATFORM_FAULT_MODES = ("fail", "fail_then_succeed")


@dataclass
class ApiFault:
    id: str
    status: int | None
    count: int | None
    retry_after: float | None
    path_prefix: str | None
    delay_ms: int
    api_key: str | None
    api_key_prefix: str | None

    def matches(self, path: str, token: str) -> bool:
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        if self.api_key is not None and token != self.api_key:
            return False
        if self.api_key_prefix is not None and not token.startswith(self.api_key_prefix):
            return False
        return True

    def as_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["scope"] = "api"
        payload.pop("api_key", None)
        payload["targets_one_key"] = self.api_key is not None
        return payload


@dataclass
class PlatformFault:
    id: str
    platform: str | None
    profile_id: str | None
    mode: str
    count: int | None
    error: str

    def matches(self, platform: str, profile_id: str) -> bool:
        if self.platform is not None and self.platform != platform:
            return False
        return self.profile_id is None or self.profile_id == profile_id

    def as_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["scope"] = "platform"
        return payload


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(f"{key} must be a non-negative integer or null")
    if key == "count" and value == 0:
        raise invalid("count must be at least 1, or null for no limit")
    return value


class FaultRegistry:
    """Faults in insertion order; the first matching one applies and is used up."""

    def __init__(self) -> None:
        self.api: list[ApiFault] = []
        self.platform: list[PlatformFault] = []

    def add(self, fault_id: str, body: dict[str, Any], known_platforms: tuple[str, ...]) -> ApiFault | PlatformFault:
        scope = body.get("scope")
        if scope == "api":
            status = body.get("status")
            if status is not None and status not in API_FAULT_STATUSES:
                raise invalid(f"status must be null or one of {list(API_FAULT_STATUSES)}")
            retry_after = body.get("retry_after")
            if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, (int, float))):
                raise invalid("retry_after must be a number of seconds")
            delay_ms = _optional_int(body, "delay_ms") or 0
            if status is None and delay_ms == 0:
                raise invalid("an api fault needs a status or a delay_ms")
            fault = ApiFault(
                id=fault_id,
                status=status,
                count=_optional_int(body, "count"),
                retry_after=retry_after,
                path_prefix=body.get("path_prefix") or None,
                delay_ms=delay_ms,
                api_key=body.get("api_key"),
                api_key_prefix=body.get("api_key_prefix"),
            )
            self.api.append(fault)
            return fault
        if scope == "platform":
            platform = body.get("platform")
            profile_id = body.get("profile_id")
            if platform is not None and platform not in known_platforms:
                raise invalid(f"unknown platform: {platform}")
            if platform is None and profile_id is None:
                raise invalid("a platform fault needs a platform or a profile_id")
            mode = body.get("mode", "fail")
            if mode not in PLATFORM_FAULT_MODES:
                raise invalid(f"mode must be one of {list(PLATFORM_FAULT_MODES)}")
            platform_fault = PlatformFault(
                id=fault_id,
                platform=platform,
                profile_id=profile_id,
                mode=mode,
                count=_optional_int(body, "count"),
                error=str(body.get("error") or "Sandbox fault: publishing failed"),
            )
            self.platform.append(platform_fault)
            return platform_fault
        raise invalid("scope must be 'api' or 'platform'")

    def clear(self) -> int:
        removed = len(self.api) + len(self.platform)
        self.api.clear()
        self.platform.clear()
        return removed

    def take_api_fault(self, path: str, token: str) -> ApiFault | None:
        for fault in self.api:
            if fault.matches(path, token):
                self._use(fault, self.api)
                return fault
        return None

    def take_platform_fault(self, platform: str, profile_id: str, *, first_attempt: bool) -> PlatformFault | None:
        """The fault that applies to one publishing attempt, consuming one unit of its count.

        A ``fail_then_succeed`` fault without a count fails only the first attempt of each platform post.
        """
        for fault in self.platform:
            if not fault.matches(platform, profile_id):
                continue
            if fault.mode == "fail_then_succeed" and fault.count is None and not first_attempt:
                continue
            self._use(fault, self.platform)
            return fault
        return None

    @staticmethod
    def _use(fault: ApiFault | PlatformFault, bucket: list[Any]) -> None:
        if fault.count is None:
            return
        fault.count -= 1
        if fault.count <= 0:
            bucket.remove(fault)

    def as_json(self) -> list[dict[str, Any]]:
        return [f.as_json() for f in self.api] + [f.as_json() for f in self.platform]
