"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

from typing import Any

from .context import RequestContext
from .errors import bad_request, invalid, not_found
from .events import KNOWN_EVENT_TYPES, WILDCARD
from .ids import new_secret_token
from .records import WebhookRecord
from .serializers import paginated, webhook_attempt_json, webhook_json

Reply = tuple[int, Any]


def _visible_webhook(ctx: RequestContext) -> WebhookRecord:
    webhook = ctx.state.webhooks.get(ctx.path("id"))
    if webhook is None or (ctx.caller.group_id is not None and webhook.group_id != ctx.caller.group_id):
        raise not_found()
    return webhook


def _check_url(value: Any, problems: list[str]) -> str | None:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        problems.append("url must be an http(s) URL")
        return None
    return value


def _check_events(value: Any, problems: list[str]) -> list[str] | None:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.append("events must be a non-empty list of event types (or [\"*\"])")
        return None
    unknown = [v for v in value if v != WILDCARD and v not in KNOWN_EVENT_TYPES]
    if unknown:
        problems.append(f"Unknown event type: {unknown[0]}")
        return None
    return list(dict.fromkeys(value))


def list_webhooks(ctx: RequestContext) -> Reply:
    webhooks = [w for w in ctx.state.webhooks.values() if ctx.caller.group_id is None or w.group_id == ctx.caller.group_id]
    return 200, {"data": [webhook_json(w) for w in webhooks]}


def get_webhook(ctx: RequestContext) -> Reply:
    return 200, webhook_json(_visible_webhook(ctx))


def create_webhook(ctx: RequestContext) -> Reply:
    problems: list[str] = []
    url = _check_url(ctx.body.get("url"), problems)
    events = _check_events(ctx.body.get("events"), problems)
    description = ctx.body.get("description")
    if description is not None and not isinstance(description, str):
        problems.append("description must be a string")
    if problems or url is None or events is None:
        raise invalid(*problems)
    webhook = WebhookRecord(
        id=ctx.state.ids.new("wh"),
        url=url,
        events=events,
        enabled=True,
        description=description,
        secret=new_secret_token("whsec_"),
        created_at=ctx.now,
        updated_at=ctx.now,
        group_id=ctx.caller.group_id,
    )
    ctx.state.add_webhook(webhook)
    return 201, webhook_json(webhook)


def update_webhook(ctx: RequestContext) -> Reply:
    webhook = _visible_webhook(ctx)
    problems: list[str] = []
    url = _check_url(ctx.body["url"], problems) if "url" in ctx.body else webhook.url
    events = _check_events(ctx.body["events"], problems) if "events" in ctx.body else webhook.events
    enabled = ctx.body.get("enabled", webhook.enabled)
    if not isinstance(enabled, bool):
        problems.append("enabled must be true or false")
    if problems or url is None or events is None:
        raise invalid(*problems)
    webhook.url = url
    webhook.events = events
    webhook.enabled = enabled
    if "description" in ctx.body:
        webhook.description = ctx.body["description"]
    webhook.updated_at = ctx.now
    return 200, webhook_json(webhook)


def delete_webhook(ctx: RequestContext) -> Reply:
    ctx.state.remove_webhook(_visible_webhook(ctx).id)
    return 200, {"deleted": True}


def list_deliveries(ctx: RequestContext) -> Reply:
    webhook = _visible_webhook(ctx)
    try:
        page = int(ctx.query.get("page") or 0)
        per_page = int(ctx.query.get("per_page") or 20)
    except ValueError as error:
        raise bad_request("page and per_page must be integers") from error
    if page < 0 or per_page < 1:
        raise bad_request("page must be >= 0 and per_page >= 1")
    per_page = min(per_page, ctx.state.config.max_per_page)
    attempts = list(reversed(ctx.state.webhook_attempts.get(webhook.id, [])))
    window = attempts[page * per_page : (page + 1) * per_page]
    return 200, paginated([webhook_attempt_json(a) for a in window], total=len(attempts), page=page, per_page=per_page)
