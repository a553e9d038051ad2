"""Connecting social accounts: creating or re-activating profiles, and the disconnect events."""

from __future__ import annotations

import hashlib

from . import events
from .records import ProfileRecord
from .state import SandboxState


def _platform_account_id(profile_id: str) -> str:
    digest = hashlib.sha256(profile_id.encode()).digest()
    return str(10**9 + int.from_bytes(digest[:6], "big") % (9 * 10**9))


def connect_profile(
    state: SandboxState,
    *,
    group_id: str,
    platform: str,
    now: float,
    refresh: bool = False,
    name: str | None = None,
    username: str | None = None,
    send_event: bool = True,
) -> ProfileRecord:
    """Create an active profile (or re-activate the group's existing one of that platform when refreshing)."""
    if refresh:
        for profile in state.group_profiles(group_id):
            if profile.platform == platform:
                profile.status = "active"
                profile.expires_at = None
                if send_event:
                    _emit_connected(state, profile, now)
                return profile
    profile_id = state.ids.new("prof")
    ordinal = sum(1 for p in state.group_profiles(group_id) if p.platform == platform) + 1
    handle = username or f"sandbox_{platform}_{profile_id[-6:]}"
    profile = ProfileRecord(
        id=profile_id,
        name=name or f"Sandbox {platform.replace('_', ' ').title()} {ordinal}",
        username=handle,
        platform=platform,
        platform_id=_platform_account_id(profile_id),
        profile_group_id=group_id,
        created_at=now,
    )
    state.add_profile(profile)
    if send_event:
        _emit_connected(state, profile, now)
    return profile


def _emit_connected(state: SandboxState, profile: ProfileRecord, now: float) -> None:
    events.emit(
        state,
        "profile.connected",
        events.profile_data(profile, status="active", origin=None),
        group_id=profile.profile_group_id,
        order_key=profile.id,
        now=now,
    )


def expire_profile(state: SandboxState, profile: ProfileRecord, now: float) -> None:
    profile.status = "expired"
    profile.expires_at = now
    events.emit(
        state,
        "profile.disconnected",
        events.profile_data(profile, status="expired", origin="automated"),
        group_id=profile.profile_group_id,
        order_key=profile.id,
        now=now,
    )


def delete_profile(state: SandboxState, profile: ProfileRecord, now: float) -> None:
    events.emit(
        state,
        "profile.disconnected",
        events.profile_data(profile, status="disconnected", origin="user"),
        group_id=profile.profile_group_id,
        order_key=profile.id,
        now=now,
    )
    state.remove_profile(profile.id)
