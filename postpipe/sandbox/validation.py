"""Per-platform checks of a post before Postproxy accepts it (422 naming platform and field)."""

from __future__ import annotations

from typing import Any

from .platforms import (
    ALLOWED_PARAMS,
    MEDIA_REQUIRED,
    PARAM_TEXT_LIMITS,
    POSTING_PLATFORMS,
    REQUIRED_PARAMS,
    TEXT_LIMITS,
    THREAD_PLATFORMS,
)


def check_platform_params(platform_params: dict[str, Any]) -> list[str]:
    """Shape and key checks of the ``platforms`` object, independent of the targets."""
    problems: list[str] = []
    for network, params in platform_params.items():
        if network not in POSTING_PLATFORMS:
            problems.append(f"Invalid platform params: unknown platform {network}")
            continue
        if not isinstance(params, dict):
            problems.append(f"Invalid platform params for {network}: expected an object")
            continue
        allowed = ALLOWED_PARAMS.get(network)
        if allowed is None:
            continue
        for key in params:
            if key not in allowed:
                problems.append(f"Invalid platform params for {network}: {key}")
    return problems


def check_post_for_platforms(
    *,
    body: str,
    media_count: int,
    thread: list[dict[str, Any]],
    target_platforms: list[str],
    platform_params: dict[str, dict[str, Any]],
) -> list[str]:
    """Rules that depend on where the post goes: text limits, media, required params, threads."""
    problems: list[str] = []
    for network in dict.fromkeys(target_platforms):
        params = platform_params.get(network) or {}
        limit = TEXT_LIMITS.get(network)
        field = "caption" if network == "instagram" else "description" if network == "youtube" else "body"
        if limit is not None and len(body) > limit:
            problems.append(f"{network}: {field} is too long ({len(body)} characters, maximum {limit})")
        if network in MEDIA_REQUIRED and media_count == 0:
            problems.append(f"{network}: media is required")
        for required in REQUIRED_PARAMS.get(network, ()):
            value = params.get(required)
            if value is None or (isinstance(value, str) and not value.strip()):
                problems.append(f"{network}: {required} is required")
        for (param_network, key), param_limit in PARAM_TEXT_LIMITS.items():
            value = params.get(key)
            if param_network == network and isinstance(value, str) and len(value) > param_limit:
                problems.append(f"{network}: {key} is too long ({len(value)} characters, maximum {param_limit})")
        if thread:
            if network not in THREAD_PLATFORMS:
                problems.append(f"{network}: thread is not supported")
            elif limit is not None:
                for index, item in enumerate(thread):
                    text = str(item.get("body", ""))
                    if len(text) > limit:
                        problems.append(
                            f"{network}: thread[{index}].body is too long ({len(text)} characters, maximum {limit})"
                        )
    return problems
