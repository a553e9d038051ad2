"""What the sandbox knows about each network: names, text limits, parameters, links."""

from __future__ import annotations

from typing import Any

import postproxy

PLATFORMS: tuple[str, ...] = (
    "facebook",
    "instagram",
    "tiktok",
    "linkedin",
    "youtube",
    "twitter",
    "threads",
    "pinterest",
    "bluesky",
    "telegram",
    "google_business",
    "whatsapp",
)
POSTING_PLATFORMS: tuple[str, ...] = tuple(p for p in PLATFORMS if p != "whatsapp")
OAUTH_PLATFORMS: tuple[str, ...] = tuple(p for p in PLATFORMS if p not in ("bluesky", "telegram"))
THREAD_PLATFORMS: frozenset[str] = frozenset({"twitter", "threads", "bluesky"})
MEDIA_REQUIRED: frozenset[str] = frozenset({"instagram", "tiktok", "youtube", "pinterest"})
NO_API_DELETE: frozenset[str] = frozenset({"instagram", "tiktok"})

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
PARAM_TEXT_LIMITS: dict[tuple[str, str], int] = {
    ("instagram", "first_comment"): 2196,
    ("youtube", "title"): 100,
    ("pinterest", "title"): 100,
}
REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {
    "youtube": ("title",),
    "pinterest": ("board_id",),
    "telegram": ("chat_id",),
    "google_business": ("location_id",),
}

_PARAM_MODELS: dict[str, Any] = {
    "facebook": postproxy.FacebookParams,
    "instagram": postproxy.InstagramParams,
    "tiktok": postproxy.TikTokParams,
    "linkedin": postproxy.LinkedInParams,
    "youtube": postproxy.YouTubeParams,
    "pinterest": postproxy.PinterestParams,
    "threads": postproxy.ThreadsParams,
    "twitter": postproxy.TwitterParams,
    "bluesky": postproxy.BlueskyParams,
    "telegram": postproxy.TelegramParams,
}
ALLOWED_PARAMS: dict[str, frozenset[str] | None] = {
    network: frozenset(model.model_fields) for network, model in _PARAM_MODELS.items()
}
ALLOWED_PARAMS["google_business"] = None  # free-form in the SDK: any key is accepted

_PERMALINK_PATTERNS: dict[str, str] = {
    "facebook": "https://www.facebook.com/{username}/posts/{post}",
    "instagram": "https://www.instagram.com/p/{post}/",
    "tiktok": "https://www.tiktok.com/@{username}/video/{post}",
    "linkedin": "https://www.linkedin.com/feed/update/urn:li:share:{post}/",
    "youtube": "https://www.youtube.com/watch?v={post}",
    "twitter": "https://x.com/{username}/status/{post}",
    "threads": "https://www.threads.net/@{username}/post/{post}",
    "pinterest": "https://www.pinterest.com/pin/{post}/",
    "bluesky": "https://bsky.app/profile/{username}/post/{post}",
    "telegram": "https://t.me/{username}/{post}",
    "google_business": "https://business.google.com/posts/{post}",
    "whatsapp": "https://wa.me/{post}",
}


def permalink(platform: str, username: str, platform_post_id: str) -> str:
    return _PERMALINK_PATTERNS[platform].format(username=username, post=platform_post_id)


_PROFILE_URL_PATTERNS: dict[str, str] = {
    "facebook": "https://www.facebook.com/{username}",
    "instagram": "https://www.instagram.com/{username}/",
    "tiktok": "https://www.tiktok.com/@{username}",
    "linkedin": "https://www.linkedin.com/in/{username}/",
    "youtube": "https://www.youtube.com/@{username}",
    "twitter": "https://x.com/{username}",
    "threads": "https://www.threads.net/@{username}",
    "pinterest": "https://www.pinterest.com/{username}/",
    "bluesky": "https://bsky.app/profile/{username}",
    "telegram": "https://t.me/{username}",
    "google_business": "https://business.google.com/{username}",
    "whatsapp": "https://wa.me/{username}",
}


def profile_url(platform: str, username: str) -> str:
    return _PROFILE_URL_PATTERNS[platform].format(username=username)
