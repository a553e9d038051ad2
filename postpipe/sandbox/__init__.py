"""A local, Postproxy-compatible API for tests and the offline demo.

The official ``postproxy-sdk`` works against it unchanged: point ``PostProxy(key, base_url=sb.base_url)`` at
it. State lives in memory, per instance; nothing leaves 127.0.0.1 except webhook deliveries to the URLs you
register.

Usage::

    from postpipe.sandbox import SandboxServer

    with SandboxServer(host="127.0.0.1", port=0, account_key=None) as sb:
        sb.base_url, sb.account_key      # "http://127.0.0.1:<port>", generated key
        sb.advance(3600)                 # move the clock, run what became due (webhooks included)
        sb.now()                         # tz-aware UTC datetime
        sb.state                         # SandboxState, for assertions

    from postpipe.sandbox.server import serve_forever   # blocking; on_ready(base_url, account_key)

Timings and limits are in :class:`SandboxConfig` (pending 0.5 s, processing 1 s, retry 2 s, duplicate
window 10 min, webhook timeout 2 s, backoff 60/300/1800/7200 s, ticker 0.2 s wall).

Control surface (not part of Postproxy; account key required, except the consent page and health)
-------------------------------------------------------------------------------------------------
``GET /sandbox/clock`` / ``POST /sandbox/clock/advance {"seconds": N}``
    Both answer ``{"now": "<ISO 8601 UTC>"}``. The clock is wall time plus an offset that only grows
    (negative seconds: 422). Advancing runs every due publishing step, schedule, queue slot and webhook
    attempt (including retries that fall inside the window) before answering. A background ticker does
    the same for wall-time progress every 0.2 s.
``POST /sandbox/faults`` / ``GET /sandbox/faults`` / ``DELETE /sandbox/faults``
    ``{"scope": "api", "status": 429|500|502|503|504|null, "count": N|null, "retry_after": S,
    "path_prefix": "/api/posts", "delay_ms": 0, "api_key": "<token>", "api_key_prefix": "<prefix>"}``:
    the next ``count`` matching ``/api`` requests (``count`` null: until cleared) are delayed by
    ``delay_ms`` and then answered with ``status`` (``Retry-After`` header when ``retry_after`` is set);
    with ``status`` null they are only delayed. ``api_key`` (exact token) or ``api_key_prefix`` restricts
    the fault to one key's requests, e.g. to throttle one tenant. Faults apply after authentication and
    after an idempotent replay.
    ``{"scope": "platform", "platform": "twitter"|null, "profile_id": "..."|null, "mode": "fail"|
    "fail_then_succeed", "count": N|null, "error": "text"}``: each publishing attempt on a matching
    platform post uses up one unit. ``fail``: the platform post fails with ``error``
    (``platform_post.failed``). ``fail_then_succeed``: the attempt fails with
    ``platform_post.failed_waiting_for_retry``, is retried after ``retry_seconds``, and publishes once
    the fault's count is used up; with ``count`` null it fails only the first attempt of every matching
    platform post. ``DELETE`` clears all faults and answers ``{"deleted": true, "count": N}``.
``POST /sandbox/profiles/{id}/expire``
    Status ``expired`` plus ``profile.disconnected`` (``status: "expired"``, ``origin: "automated"``).
    Publishing to a profile that is not active fails with an error naming its status.
``GET /sandbox/connect/{token}``
    The OAuth consent page behind ``initialize_connection``'s ``url``. A plain GET (no auth) creates an
    active profile of that platform in that group (or, for ``refresh_connection``, re-activates the
    group's existing one), sends ``profile.connected``, and 302s to ``redirect_url`` with
    ``profile_id``, ``platform`` and ``status=connected`` appended (no redirect_url: a small HTML page).
    Each link works once; afterwards 404.
``POST /sandbox/profiles {"profile_group_id", "platform", "name"?, "username"?}``
    Connects a profile directly (benchmark setup), sending ``profile.connected``.
``POST /sandbox/seed {"profile_id" | "profile_ids": [...], "count": N<=10000, "body"?,
"published_at"?, "spacing_seconds"?}``
    Creates N posts in status ``processed`` with one published platform post per profile, published at
    ``published_at`` (default now) + i * spacing; no webhooks, no duplicate bookkeeping. Answers
    ``{"post_ids": [...], "profile_group_id": ...}``. Their stats grow like any other.
``GET /sandbox/health``
    ``{"ok": true}``, no auth.

Decisions on points postproxy-api.md leaves unconfirmed
-------------------------------------------------------
Keys and scoping
    * Account key: generated ``sbx_acct_...`` unless given. Scoped keys ``sbx_...`` from ``POST /api/api_keys``
      (201, token only in that answer; listing never shows tokens and lists only API-created keys;
      ``sandbox`` is false). Deleting a key revokes it at once.
    * Unknown/missing key: 401 ``{"error": "Invalid API key"}``. A scoped key on account-only endpoints
      (``/api/api_keys``, creating/deleting groups) and on ``/sandbox/*``: 401. Another group's objects, or a
      ``profile_group_id`` of another group: 404 ``{"error": "Not found"}``. Scoped keys may call
      ``initialize_connection`` on their own group.
    * Group context: ``?profile_group_id`` (ignored where meaningless), else the scoped key's group, else the
      first group created. ``GET /api/profiles`` without the parameter lists every group the key sees. For an
      account key creating a post without the parameter, the group of the first listed profile id wins.
      Objects fetched by id are visible to the account key in any group unless ``?profile_group_id`` names
      another group.
Status codes and bodies
    * Creates answer 201 (groups, keys, posts, queues, webhooks); everything else 200; nothing uses 204.
    * 422 bodies carry both ``error`` (all messages joined with "; ") and ``errors`` (list). 400 bodies are
      ``{"status": 400, "error": msg, "message": msg}``. Unknown ``/api`` paths: 404 JSON.
    * Deleting a group with profiles: 422. Deleting an empty group also drops its keys, queues, drafts and
      group-scoped webhooks.
Posts
    * Duplicates: same group + body + profile set + media URL list within 10 minutes (sandbox time) of a
      non-draft post → 409 ``{"error": "Duplicate post", "duplicate_post_id": ...}``; header
      ``X-Skip-Duplicate-Check: true`` bypasses it. Drafts are neither checked nor matched (publishing a draft
      later is not checked either).
    * Idempotency-Key: account-wide; fingerprint = method + path (no query) + canonical body (JSON with sorted
      keys; multipart fields parsed, files by SHA-256), so SDK retries with new multipart boundaries replay.
      2xx answers replay for 24 h with header ``Idempotent-Replayed: true``; in flight → 409; other request →
      422; errors are not stored; keys over 255 chars → 400.
    * Status path: create → ``pending`` → (0.5 s) ``processing`` → each platform post (1 s later)
      ``published`` or ``failed`` → post ``processed`` once every platform post is final. While a platform post
      waits for a retry it shows ``failed`` with its error and the post stays ``processing``.
      ``POST /posts/{id}/publish`` starts processing at once and answers ``processing``; publishing a non-draft
      is 422. Scheduled posts pass through ``pending`` when due.
    * ``GET /posts?status=`` accepts the SDK post statuses plus ``published``/``failed`` (posts having a
      platform post in that state); ``platforms`` accepts repeated, ``platforms[]`` and comma forms; list order
      is newest first; ``per_page`` default 10, max 100; thread children never appear at top level.
    * Editing: drafts and scheduled posts more than 5 min before their time are fully editable (profiles,
      media, thread replaced; platforms merged per key; ``draft: false`` activates; ``queue_id`` moves into a
      queue, ``scheduled_at`` takes it out). A processed post with a published platform post accepts only
      ``body``, ``platforms.youtube.title``, ``platforms.pinterest.title``/``destination_link``
      (``platform_post.edited`` per published platform post); anything else 422 "Post cannot be edited".
    * ``delete_on_platform`` (endpoint and ``DELETE ...?delete_on_platform=true``) marks published platform
      posts ``deleted`` immediately (no ``pending_deletion``, which the SDK enum lacks); targeting instagram or
      tiktok explicitly → 422, otherwise they are skipped.
    * Media is accepted as URL strings, ``{"url": ...}`` objects or multipart files (``source_url``
      ``upload://<filename>``); it is ``processed`` at once with a content type guessed from the name.
    * Validation (422, "<platform>: <field> ..."): text limits twitter 280, bluesky 300 (characters, not
      graphemes), threads 500, linkedin 3000, instagram caption 2200 / first_comment 2196, tiktok 2200,
      youtube description 5000, pinterest 500, facebook 63206, telegram 4096, google_business 1500; media
      required for instagram/tiktok/youtube/pinterest; required params youtube ``title``, pinterest
      ``board_id``, telegram ``chat_id``, google_business ``location_id``; youtube/pinterest titles ≤ 100;
      threads only on twitter/threads/bluesky (children checked against the same limit); param keys allowed
      are exactly the SDK's ``*Params`` model fields ("Invalid platform params for {network}: {key}");
      google_business params are free-form.
Queues
    * Day 0 = Sunday; times ``HH:MM`` in the queue's IANA zone (DST-aware via zoneinfo). Waiting posts are
      re-slotted (high, medium, low; then oldest first) whenever a post joins/leaves or the queue changes;
      jitter is a deterministic ±``jitter`` minutes per (seed, queue, post), whole seconds, never in the past.
    * ``next_slot`` is the first slot (without jitter) after those held by waiting posts; a queue without
      timeslots answers 422 there, and creating a post into it is 422. Disabled queues keep posts
      ``scheduled``; re-enabling re-slots them into future slots. Deleting a queue turns its waiting posts
      into plain scheduled posts (or drafts if they had no slot).
Stats
    * Per published platform post: one record per full hour for the first 48 hours, then one per day;
      values are a deterministic, non-decreasing function of post id, profile id, metric and hours since
      publication. ``stats`` uses the normalized names of postproxy-api.md §7.1, ``raw_stats`` the
      network's own (e.g. twitter ``impression_count``, instagram ``views``, linkedin ``impressionCount``).
      Telegram and Google Business have no post stats (empty records). Unknown or invisible post ids are
      left out of ``data``; more than 50 ids → 400; ``from``/``to`` are inclusive. Platform results show
      ``insights`` = latest impressions. Computed on request; nothing iterates all posts.
Webhooks
    * Envelope ``{"id": "evt_...", "type", "created_at" (sandbox time), "data": {flat payload}}``; headers
      Content-Type, User-Agent ``Postproxy-Webhooks/1.0``, X-Postproxy-Event, X-Postproxy-Delivery (the id of
      that attempt, i.e. of the WebhookDelivery record; dedupe on the envelope id), X-Postproxy-Signature
      ``t=<wall-clock unix>,v1=<hex HMAC-SHA256 over "<t>.<body>" keyed with the whole secret>``.
    * ``secret`` (``whsec_...``) is returned on create, get and list. Event names are checked against the
      SDK's list (plus ``*``): unknown names → 422. Webhooks created with a scoped key receive only that
      group's events; account-key webhooks receive all. Disabled webhooks get no new events and their
      pending retries wait.
    * Events sent: post.processed, platform_post.published / failed / failed_waiting_for_retry / edited,
      platform_post.insights (once, one stats interval after publication, for posts published through the
      API; not for seeded posts), profile.connected, profile.disconnected (expiry: status ``expired``, origin
      ``automated``; ``DELETE /profiles/{id}``: status ``disconnected``, origin ``user``). ``uid`` is the
      account's platform id.
    * Delivery: 2 s timeout; non-2xx or no answer is retried 60 s, 5 min, 30 min, 2 h later (sandbox time),
      5 attempts in all, each recorded (``response_status`` null when there was no HTTP answer). Events of
      one post (or profile) to one URL are sent in creation order; later ones wait behind a retrying one.
      Deliveries are listed newest first, ``per_page`` default 20.
"""

from __future__ import annotations

from .config import SandboxConfig
from .server import SandboxServer

__all__ = ["SandboxConfig", "SandboxServer"]
