"""Profile groups, API keys and profiles."""

from __future__ import annotations

from typing import Any

from .connections import connect_profile, delete_profile
from .context import RequestContext
from .errors import invalid, not_found
from .ids import new_secret_token
from .platforms import OAUTH_PLATFORMS, PLATFORMS
from .records import ApiKeyRecord, ConnectTokenRecord, ProfileGroupRecord, ProfileRecord
from .serializers import api_key_json, group_json, profile_json

Reply = tuple[int, Any]


def _visible_group(ctx: RequestContext) -> ProfileGroupRecord:
    group = ctx.state.groups.get(ctx.path("id"))
    if group is None or (ctx.caller.group_id is not None and group.id != ctx.caller.group_id):
        raise not_found()
    return group


def list_groups(ctx: RequestContext) -> Reply:
    groups = ctx.state.groups.values()
    if ctx.caller.group_id is not None:
        groups = [g for g in groups if g.id == ctx.caller.group_id]
    return 200, {"data": [group_json(ctx.state, g) for g in groups]}


def get_group(ctx: RequestContext) -> Reply:
    return 200, group_json(ctx.state, _visible_group(ctx))


def create_group(ctx: RequestContext) -> Reply:
    ctx.require_account_key()
    wrapper = ctx.body.get("profile_group")
    name = wrapper.get("name") if isinstance(wrapper, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise invalid("Name can't be blank")
    group = ProfileGroupRecord(id=ctx.state.ids.new("grp"), name=name.strip(), created_at=ctx.now)
    ctx.state.add_group(group)
    return 201, group_json(ctx.state, group)


def delete_group(ctx: RequestContext) -> Reply:
    ctx.require_account_key()
    group = _visible_group(ctx)
    if ctx.state.profiles_by_group.get(group.id):
        raise invalid("Profile group still has profiles; delete or move them first")
    ctx.state.remove_group(group.id)
    return 200, {"deleted": True}


def initialize_connection(ctx: RequestContext) -> Reply:
    group = _visible_group(ctx)
    platform = ctx.body.get("platform")
    if platform not in PLATFORMS:
        raise invalid(f"Platform is not supported: {platform}")
    if platform == "bluesky":
        return _connect_directly(ctx, group.id, "bluesky", ctx.body.get("identifier"), "app_password")
    if platform == "telegram":
        return _connect_directly(ctx, group.id, "telegram", None, "bot_token")
    assert platform in OAUTH_PLATFORMS
    redirect_url = ctx.body.get("redirect_url")
    if redirect_url is not None and (not isinstance(redirect_url, str) or not redirect_url.startswith(("http://", "https://"))):
        raise invalid("redirect_url must be an http(s) URL")
    token = new_secret_token("conn_")
    ctx.state.connect_tokens[token] = ConnectTokenRecord(
        token=token,
        group_id=group.id,
        platform=platform,
        redirect_url=redirect_url,
        refresh=bool(ctx.body.get("refresh_connection")),
    )
    return 200, {"url": f"{ctx.base_url}/sandbox/connect/{token}", "success": True}


def _connect_directly(ctx: RequestContext, group_id: str, platform: str, identifier: Any, secret_field: str) -> Reply:
    if not isinstance(ctx.body.get(secret_field), str) or not ctx.body[secret_field]:
        raise invalid(f"{secret_field} can't be blank")
    if platform == "bluesky" and (not isinstance(identifier, str) or not identifier):
        raise invalid("identifier can't be blank")
    username = identifier if isinstance(identifier, str) else None
    profile = connect_profile(ctx.state, group_id=group_id, platform=platform, now=ctx.now, username=username, name=username)
    payload: dict[str, Any] = {
        "success": True,
        "profile": {"id": profile.id, "network": platform, "name": profile.name, "external_username": profile.username},
    }
    if platform == "telegram":
        payload["next_step"] = "Add the bot as an administrator of your channel; it then appears as a placement."
    return 200, payload


def list_api_keys(ctx: RequestContext) -> Reply:
    ctx.require_account_key()
    return 200, {"data": [api_key_json(k, with_token=False) for k in ctx.state.api_keys.values()]}


def create_api_key(ctx: RequestContext) -> Reply:
    ctx.require_account_key()
    name = ctx.body.get("name")
    group_id = ctx.body.get("profile_group_id")
    problems = []
    if not isinstance(name, str) or not name.strip():
        problems.append("Name can't be blank")
    if not isinstance(group_id, str) or not group_id:
        problems.append("Profile group can't be blank")
    if problems:
        raise invalid(*problems)
    if group_id not in ctx.state.groups:
        raise not_found()
    key = ApiKeyRecord(
        id=ctx.state.ids.new("key"),
        name=str(name).strip(),
        token=new_secret_token("sbx_"),
        profile_group_id=str(group_id),
        created_at=ctx.now,
    )
    ctx.state.add_api_key(key)
    return 201, api_key_json(key, with_token=True)


def delete_api_key(ctx: RequestContext) -> Reply:
    ctx.require_account_key()
    key_id = ctx.path("id")
    if key_id not in ctx.state.api_keys:
        raise not_found()
    ctx.state.remove_api_key(key_id)
    return 200, {"deleted": True}


def list_profiles(ctx: RequestContext) -> Reply:
    wanted = ctx.query.get("profile_group_id")
    if ctx.caller.group_id is not None or wanted:
        group_ids = [ctx.group_context()]
    else:
        group_ids = list(ctx.state.groups)
    profiles = [profile_json(p) for gid in group_ids for p in ctx.state.group_profiles(gid)]
    return 200, {"data": profiles}


def visible_profile(ctx: RequestContext) -> ProfileRecord:
    profile = ctx.state.profiles.get(ctx.path("id"))
    if profile is None or not ctx.can_see(profile.profile_group_id):
        raise not_found()
    return profile


def get_profile(ctx: RequestContext) -> Reply:
    return 200, profile_json(visible_profile(ctx))


def delete_profile_route(ctx: RequestContext) -> Reply:
    delete_profile(ctx.state, visible_profile(ctx), ctx.now)
    return 200, {"success": True}


def profile_placements(ctx: RequestContext) -> Reply:
    profile = visible_profile(ctx)
    kinds = {"facebook": "Page", "linkedin": "Company page", "pinterest": "Board", "telegram": "Channel", "google_business": "Location"}
    kind = kinds.get(profile.platform)
    if kind is None:
        return 200, {"data": []}
    placement_id = f"{profile.platform_id}01"
    if profile.platform == "google_business":
        placement_id = f"accounts/{profile.platform_id}/locations/1"
    return 200, {"data": [{"id": placement_id, "name": f"{profile.name} {kind}", "avatar_url": None, "metadata": None}]}

