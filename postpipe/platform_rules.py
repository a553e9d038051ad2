"""Per-platform content rules, checked before a post is stored (Postproxy checks them again on the draft).

Limits from the Postproxy documentation (shared/postproxy-api.md §6, §11). Every problem names the platform
and the field, so the author knows what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TEXT_LIMITS: dict[str, int] = {
    "twitter": 280,
    "bluesky": 300,
    "threads": 500,
    "linkedin": 3000,
    "instagram": 2200,
    "tiktok": 2200,
    "youtube": 5000,
    "pinterest": 500,
    "facebook": 63206,
    "telegram": 4096,
    "google_business": 1500,
}
NEEDS_MEDIA = frozenset({"instagram", "tiktok", "youtube", "pinterest"})
REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    "youtube": ("title",),
    "pinterest": ("board_id",),
    "telegram": ("chat_id",),
    "google_business": ("location_id",),
}
ALLOWED_PARAMS: dict[str, frozenset[str]] = {
    "instagram": frozenset({"format", "first_comment", "collaborators", "cover_url", "alt_text", "made_with_ai",
                            "audio_name", "thumb_offset", "user_tags", "trial_strategy"}),
    "facebook": frozenset({"format", "first_comment", "page_id", "title", "link", "alt_text", "made_with_ai",
                           "countries"}),
    "youtube": frozenset({"title", "privacy_status", "cover_url", "made_for_kids", "tags", "category_id",
                          "contains_synthetic_media", "format"}),
    "tiktok": frozenset({"format", "privacy_status", "photo_cover_index", "auto_add_music", "made_with_ai",
                         "disable_comment", "disable_duet", "disable_stitch", "brand_content_toggle",
                         "brand_organic_toggle", "upload_as_draft", "cover_url", "thumb_offset"}),
    "pinterest": frozenset({"board_id", "title", "destination_link", "cover_url", "thumb_offset", "alt_text",
                            "format"}),
    "linkedin": frozenset({"organization_id", "format", "poll_question", "poll_options", "poll_duration_days",
                           "reshare_urn", "alt_text", "countries"}),
    "twitter": frozenset({"format", "poll_options", "poll_duration_minutes", "alt_text"}),
    "threads": frozenset({"format", "alt_text", "topic_tag"}),
    "bluesky": frozenset({"format", "alt_text"}),
    "telegram": frozenset({"chat_id", "parse_mode", "disable_link_preview", "disable_notification"}),
    "google_business": frozenset({"location_id", "format", "cta_action_type", "cta_url"}),
}
CHOICES: dict[tuple[str, str], frozenset[str]] = {
    ("instagram", "format"): frozenset({"post", "reel", "story"}),
    ("facebook", "format"): frozenset({"post", "story", "reel"}),
    ("youtube", "privacy_status"): frozenset({"public", "unlisted", "private"}),
    ("tiktok", "privacy_status"): frozenset(
        {"PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"}
    ),
    ("tiktok", "format"): frozenset({"video", "image"}),
    ("linkedin", "format"): frozenset({"post", "poll"}),
    ("twitter", "format"): frozenset({"post", "poll"}),
}
INSTAGRAM_FIRST_COMMENT_LIMIT = 2196
YOUTUBE_TITLE_LIMIT = 100


def problems(body: str, media: list[str], platforms: Iterable[str], params: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Everything wrong with this content for these platforms (empty when it is publishable)."""
    targets = set(platforms)
    found: list[str] = []
    for platform in sorted(set(params) - targets):
        found.append(f"platforms.{platform}: parameters given for a platform the post does not target")
    for platform in sorted(targets):
        limit = TEXT_LIMITS.get(platform)
        if limit is not None and len(body) > limit:
            found.append(f"{platform}.body: {len(body)} characters, the limit is {limit}")
        if platform in NEEDS_MEDIA and not media:
            found.append(f"{platform}.media: {platform} needs at least one image or video")
        given = params.get(platform, {})
        for key in sorted(set(given) - ALLOWED_PARAMS.get(platform, frozenset())):
            found.append(f"{platform}.{key}: not a parameter {platform} accepts")
        for key in REQUIRED_PARAMS.get(platform, ()):
            if not str(given.get(key) or "").strip():
                found.append(f"{platform}.{key}: required")
        for key, value in given.items():
            allowed = CHOICES.get((platform, key))
            if allowed is not None and value not in allowed:
                found.append(f"{platform}.{key}: {value!r} is not one of {', '.join(sorted(allowed))}")
        comment = given.get("first_comment")
        if platform == "instagram" and comment and len(comment) > INSTAGRAM_FIRST_COMMENT_LIMIT:
            found.append(f"instagram.first_comment: {len(comment)} characters, the limit is {INSTAGRAM_FIRST_COMMENT_LIMIT}")
        title = given.get("title")
        if platform == "youtube" and title and len(title) > YOUTUBE_TITLE_LIMIT:
            found.append(f"youtube.title: {len(title)} characters, the limit is {YOUTUBE_TITLE_LIMIT}")
    return found
