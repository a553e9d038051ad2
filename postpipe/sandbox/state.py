"""All in-memory state of one sandbox instance, indexed by id and by profile group."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .clock import SandboxClock
from .config import SandboxConfig
from .faults import FaultRegistry
from .idempotency import IdempotencyStore
from .ids import IdFactory
from .records import (
    ApiKeyRecord,
    ConnectTokenRecord,
    PlatformPostRecord,
    PostRecord,
    ProfileGroupRecord,
    ProfileRecord,
    QueueRecord,
    WebhookAttemptRecord,
    WebhookJobRecord,
    WebhookRecord,
)
from .timers import TimerQueue


@dataclass(frozen=True)
class Caller:
    """Who is calling: the account key (``group_id`` None) or a key scoped to one group."""

    token: str
    group_id: str | None
    key_id: str | None

    @property
    def is_account(self) -> bool:
        return self.group_id is None


class SandboxState:
    """Everything one sandbox remembers. Mutate only while holding ``lock``."""

    def __init__(self, account_key: str, config: SandboxConfig, clock: SandboxClock) -> None:
        self.lock = threading.RLock()
        self.config = config
        self.clock = clock
        self.account_key = account_key
        self.ids = IdFactory(config.seed)
        self.timers = TimerQueue()
        self.faults = FaultRegistry()
        self.idempotency = IdempotencyStore(config.idempotency_ttl_seconds)
        self.post_seq = 0

        self.groups: dict[str, ProfileGroupRecord] = {}
        self.api_keys: dict[str, ApiKeyRecord] = {}
        self.keys_by_token: dict[str, ApiKeyRecord] = {}
        self.profiles: dict[str, ProfileRecord] = {}
        self.profiles_by_group: dict[str, dict[str, None]] = {}
        self.posts: dict[str, PostRecord] = {}
        self.posts_by_group: dict[str, dict[str, None]] = {}
        self.platform_posts: dict[str, PlatformPostRecord] = {}
        self.queues: dict[str, QueueRecord] = {}
        self.queues_by_group: dict[str, dict[str, None]] = {}
        self.webhooks: dict[str, WebhookRecord] = {}
        self.webhook_jobs: dict[str, list[WebhookJobRecord]] = {}
        self.webhook_attempts: dict[str, list[WebhookAttemptRecord]] = {}
        self.connect_tokens: dict[str, ConnectTokenRecord] = {}
        self.recent_fingerprints: dict[str, tuple[str, float]] = {}
        self.events_emitted = 0

    # --- callers -----------------------------------------------------------

    def caller_for(self, token: str) -> Caller | None:
        if token == self.account_key:
            return Caller(token=token, group_id=None, key_id=None)
        key = self.keys_by_token.get(token)
        if key is None:
            return None
        return Caller(token=token, group_id=key.profile_group_id, key_id=key.id)

    # --- groups ------------------------------------------------------------

    def add_group(self, group: ProfileGroupRecord) -> None:
        self.groups[group.id] = group
        self.profiles_by_group[group.id] = {}
        self.posts_by_group[group.id] = {}
        self.queues_by_group[group.id] = {}

    def first_group_id(self) -> str | None:
        return next(iter(self.groups), None)

    def remove_group(self, group_id: str) -> None:
        for post_id in list(self.posts_by_group.pop(group_id, {})):
            self.remove_post(post_id)
        for queue_id in list(self.queues_by_group.pop(group_id, {})):
            self.queues.pop(queue_id, None)
        self.profiles_by_group.pop(group_id, None)
        for key in [k for k in self.api_keys.values() if k.profile_group_id == group_id]:
            self.remove_api_key(key.id)
        for webhook in [w for w in self.webhooks.values() if w.group_id == group_id]:
            self.remove_webhook(webhook.id)
        del self.groups[group_id]

    # --- keys --------------------------------------------------------------

    def add_api_key(self, key: ApiKeyRecord) -> None:
        self.api_keys[key.id] = key
        self.keys_by_token[key.token] = key

    def remove_api_key(self, key_id: str) -> None:
        key = self.api_keys.pop(key_id)
        self.keys_by_token.pop(key.token, None)

    # --- profiles ----------------------------------------------------------

    def add_profile(self, profile: ProfileRecord) -> None:
        self.profiles[profile.id] = profile
        self.profiles_by_group[profile.profile_group_id][profile.id] = None

    def remove_profile(self, profile_id: str) -> None:
        profile = self.profiles.pop(profile_id)
        self.profiles_by_group.get(profile.profile_group_id, {}).pop(profile_id, None)

    def group_profiles(self, group_id: str) -> list[ProfileRecord]:
        return [self.profiles[pid] for pid in self.profiles_by_group.get(group_id, {})]

    # --- posts -------------------------------------------------------------

    def next_post_seq(self) -> int:
        self.post_seq += 1
        return self.post_seq

    def add_post(self, post: PostRecord) -> None:
        self.posts[post.id] = post
        self.posts_by_group[post.group_id][post.id] = None
        for platform_post in post.platform_posts:
            self.platform_posts[platform_post.id] = platform_post

    def remove_post(self, post_id: str) -> None:
        post = self.posts.pop(post_id, None)
        if post is None:
            return
        post.version += 1
        self.posts_by_group.get(post.group_id, {}).pop(post_id, None)
        for platform_post in post.platform_posts:
            self.platform_posts.pop(platform_post.id, None)
        if post.queue_id and post.queue_id in self.queues:
            self.queues[post.queue_id].post_ids.pop(post_id, None)
        if post.duplicate_fingerprint is not None:
            known = self.recent_fingerprints.get(post.duplicate_fingerprint)
            if known is not None and known[0] == post_id:
                del self.recent_fingerprints[post.duplicate_fingerprint]

    # --- queues ------------------------------------------------------------

    def add_queue(self, queue: QueueRecord) -> None:
        self.queues[queue.id] = queue
        self.queues_by_group[queue.group_id][queue.id] = None

    def remove_queue(self, queue_id: str) -> QueueRecord:
        queue = self.queues.pop(queue_id)
        self.queues_by_group.get(queue.group_id, {}).pop(queue_id, None)
        return queue

    # --- webhooks ----------------------------------------------------------

    def add_webhook(self, webhook: WebhookRecord) -> None:
        self.webhooks[webhook.id] = webhook
        self.webhook_jobs[webhook.id] = []
        self.webhook_attempts[webhook.id] = []

    def remove_webhook(self, webhook_id: str) -> None:
        self.webhooks.pop(webhook_id)
        self.webhook_jobs.pop(webhook_id, None)
        self.webhook_attempts.pop(webhook_id, None)

    def pending_webhook_jobs(self) -> int:
        return sum(len(jobs) for jobs in self.webhook_jobs.values())
