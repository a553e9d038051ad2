"""The installation's Postproxy webhook subscription and its (encrypted) signing secrets."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from postpipe import crypto
from postpipe.models import WebhookSubscription, utcnow


@dataclass(frozen=True)
class SubscriptionInfo:
    url: str
    postproxy_webhook_id: str | None
    has_secret: bool


def _info(s: WebhookSubscription) -> SubscriptionInfo:
    return SubscriptionInfo(
        url=s.url, postproxy_webhook_id=s.postproxy_webhook_id, has_secret=s.secret_encrypted is not None
    )


def find(session: Session, url: str) -> SubscriptionInfo | None:
    row = session.scalar(select(WebhookSubscription).where(WebhookSubscription.url == url))
    return _info(row) if row else None


def save(session: Session, *, url: str, postproxy_webhook_id: str, secret: SecretStr | None) -> SubscriptionInfo:
    """Record the subscription for ``url``; a new secret keeps the old one as 'previous' (rotation)."""
    row = session.scalar(select(WebhookSubscription).where(WebhookSubscription.url == url))
    if row is None:
        row = WebhookSubscription(url=url)
        session.add(row)
    row.postproxy_webhook_id = postproxy_webhook_id
    if secret is not None and not _same_secret(row.secret_encrypted, secret):
        if row.secret_encrypted is not None:
            row.previous_secret_encrypted, row.rotated_at = row.secret_encrypted, utcnow()
        row.secret_encrypted = crypto.seal(secret)
    session.flush()
    return _info(row)


def _same_secret(sealed: str | None, secret: SecretStr) -> bool:
    if sealed is None:
        return False
    return crypto.unseal(sealed, what="a webhook signing secret").get_secret_value() == secret.get_secret_value()


def forget(session: Session, url: str) -> None:
    row = session.scalar(select(WebhookSubscription).where(WebhookSubscription.url == url))
    if row is not None:
        session.delete(row)


def signing_secrets(session: Session) -> list[SecretStr]:
    """Every secret a genuine delivery may be signed with: current ones first, then previous ones."""
    rows = session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.created_at)).all()
    current = [crypto.unseal(r.secret_encrypted, what="a webhook signing secret") for r in rows if r.secret_encrypted]
    previous = [
        crypto.unseal(r.previous_secret_encrypted, what="a previous webhook signing secret")
        for r in rows
        if r.previous_secret_encrypted
    ]
    return current + previous
