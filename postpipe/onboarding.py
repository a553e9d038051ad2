"""What an onboarding request must satisfy before postpipe calls Postproxy or writes anything."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, field_validator

OAUTH_PLATFORMS: tuple[str, ...] = (
    "facebook",
    "instagram",
    "tiktok",
    "linkedin",
    "youtube",
    "twitter",
    "threads",
    "pinterest",
    "google_business",
)
"""Networks connected through Postproxy's OAuth delegation (Bluesky and Telegram use credentials instead)."""

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class OnboardingError(ValueError):
    """A bad onboarding parameter; the message names the field."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OnboardingRequest(BaseModel):
    """The parameters of the onboard-tenant flow, checked as a whole before any side effect."""

    model_config = ConfigDict(frozen=True)

    slug: str
    name: str
    plan: str
    time_zone: str
    admin_email: str
    platforms: tuple[str, ...] = ()
    redirect_url: str

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError(
                f"{value!r} is not a slug: use 1-63 lowercase letters, digits and inner hyphens (e.g. 'acme-co')"
            )
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip() or len(value) > 200:
            raise ValueError("must be 1-200 characters")
        return value.strip()

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. 'Europe/Paris')")
        try:
            ZoneInfo(value)
        except ZoneInfoNotFoundError as exc:  # pragma: no cover - available_timezones said yes
            raise ValueError(f"{value!r} cannot be loaded") from exc
        return value

    @field_validator("admin_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL.match(value.strip()):
            raise ValueError(f"{value!r} is not an email address")
        return value.strip().lower()

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [p for p in value if p not in OAUTH_PLATFORMS]
        if unknown:
            raise ValueError(
                f"unknown or non-OAuth platform(s) {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(OAUTH_PLATFORMS)}"
            )
        return tuple(dict.fromkeys(value))  # keep order, drop repeats

    @field_validator("redirect_url")
    @classmethod
    def _redirect(cls, value: str) -> str:
        parts = urlsplit(value)
        if not parts.hostname:
            raise ValueError(f"{value!r} is not an absolute URL")
        if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
            return value
        raise ValueError(f"{value!r} must use https (plain http is allowed only for a loopback host)")


def validate_request(plan_ids: set[str] | frozenset[str], **params: object) -> OnboardingRequest:
    """Validate every parameter at once; raises OnboardingError naming each bad field."""
    from pydantic import ValidationError

    problems: list[str] = []
    try:
        request = OnboardingRequest.model_validate(params)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "request"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{field}: {message}")
        request = None
    plan = params.get("plan")
    if plan not in plan_ids:
        problems.append(f"plan: unknown plan {plan!r}; choose from {', '.join(sorted(plan_ids))}")
    if problems or request is None:
        raise OnboardingError("invalid onboarding request: " + "; ".join(problems))
    return request
