"""Deliveries: the outcome of one post on one account, as a forward-only state machine.

States and their rank::

    pending 0 < processing 1 < failed_waiting_for_retry 2 < failed 3 (terminal) | published 4 (terminal)

A report moves a delivery only to a higher rank, and never out of a terminal state, so duplicated or
out-of-order reports (webhooks, polling, the publishing pipeline) change nothing that a later state settled.
Bookkeeping is order-independent too: ``last_event_at`` keeps the latest report time, ``attempts`` counts the
attempt outcomes reported (each webhook once), and the error/permalink of a state come from its latest report.

Every change is a single conditional UPDATE: the database re-checks the guard on the row's latest version, so
concurrent reports for the same delivery serialize correctly without an explicit lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, and_, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from postpipe.models import Delivery, Post, SocialAccount
from postpipe.repositories._sql import upsert_insert

RANK: dict[str, int] = {"pending": 0, "processing": 1, "failed_waiting_for_retry": 2, "failed": 3, "published": 4}
TERMINAL: frozenset[str] = frozenset({"failed", "published"})
_TERMINAL_LIST = tuple(sorted(TERMINAL))
# Core columns: the hot path (the webhook receiver) skips the ORM's per-statement machinery
_D = Delivery.__table__.c
_P = Post.__table__.c
_A = SocialAccount.__table__.c
ATTEMPT_OUTCOMES: frozenset[str] = frozenset({"failed_waiting_for_retry", "failed", "published"})


class UnknownDeliveryStatusError(ValueError):
    pass


class DeliveryNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class DeliveryInfo:
    id: uuid.UUID
    tenant_id: uuid.UUID
    post_id: uuid.UUID
    account_id: uuid.UUID
    platform: str
    status: str
    attempts: int
    error: str | None
    permalink: str | None
    platform_post_id: str | None
    published_at: datetime | None
    last_event_at: datetime | None
    created_at: datetime

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class EventTarget:
    """What a Postproxy (post id, profile id) pair points at in postpipe; ``delivery_id`` is None if not recorded yet."""

    tenant_id: uuid.UUID
    post_id: uuid.UUID
    account_id: uuid.UUID
    platform: str
    delivery_id: uuid.UUID | None
    status: str | None


@dataclass(frozen=True)
class UnfinishedDelivery:
    tenant_id: uuid.UUID
    post_id: uuid.UUID
    account_id: uuid.UUID
    postproxy_post_id: str
    profile_id: str
    platform: str
    status: str
    since: datetime


_COLUMNS = (
    Delivery.id,
    Delivery.tenant_id,
    Delivery.post_id,
    Delivery.account_id,
    Delivery.platform,
    Delivery.status,
    Delivery.attempts,
    Delivery.error,
    Delivery.permalink,
    Delivery.platform_post_id,
    Delivery.published_at,
    Delivery.last_event_at,
    Delivery.created_at,
)


def _info(row: object) -> DeliveryInfo:
    return DeliveryInfo(*row)  # type: ignore[arg-type]


def rank(status: str) -> int:
    try:
        return RANK[status]
    except KeyError:
        raise UnknownDeliveryStatusError(
            f"status {status!r} is not a delivery status (expected one of {', '.join(RANK)})"
        ) from None


def record_targets(
    session: Session, tenant_id: uuid.UUID, post_id: uuid.UUID, account_ids: Iterable[uuid.UUID]
) -> int:
    """Create a ``pending`` delivery for each target account that has none yet; returns how many were created."""
    ids = list(dict.fromkeys(account_ids))
    if not ids:
        return 0
    accounts = session.execute(
        select(SocialAccount.id, SocialAccount.platform).where(
            SocialAccount.tenant_id == tenant_id, SocialAccount.id.in_(ids)
        )
    ).all()
    missing = set(ids) - {a.id for a in accounts}
    if missing:
        raise DeliveryNotFoundError(f"accounts {sorted(map(str, missing))} are not accounts of tenant {tenant_id}")
    rows = [
        {"id": uuid.uuid4(), "tenant_id": tenant_id, "post_id": post_id, "account_id": a.id, "platform": a.platform,
         "status": "pending", "attempts": 0}
        for a in accounts
    ]
    stmt = upsert_insert(session, Delivery).values(rows).on_conflict_do_nothing(
        index_elements=["post_id", "account_id"]
    ).returning(Delivery.id)
    return len(session.execute(stmt).all())


def get(session: Session, tenant_id: uuid.UUID, post_id: uuid.UUID, account_id: uuid.UUID) -> DeliveryInfo | None:
    row = session.execute(
        select(*_COLUMNS).where(
            Delivery.tenant_id == tenant_id, Delivery.post_id == post_id, Delivery.account_id == account_id
        )
    ).first()
    return _info(row) if row else None


def for_post(session: Session, post_id: uuid.UUID) -> list[DeliveryInfo]:
    rows = session.execute(select(*_COLUMNS).where(Delivery.post_id == post_id).order_by(Delivery.platform))
    return [_info(r) for r in rows]


def _build_find_for_event() -> Any:
    return (
        select(_P.tenant_id, _P.id, _A.id, _A.platform, _D.id, _D.status)
        .select_from(Post.__table__)
        .join(SocialAccount.__table__, and_(_A.tenant_id == _P.tenant_id, _A.profile_id == bindparam("p_profile")))
        .outerjoin(Delivery.__table__, and_(_D.post_id == _P.id, _D.account_id == _A.id))
        .where(_P.postproxy_post_id == bindparam("p_ref"))
    )


_AT = bindparam("p_at", type_=_D.last_event_at.type)
_LATEST_EVENT_AT = case((or_(_D.last_event_at.is_(None), _D.last_event_at < _AT), _AT), else_=_D.last_event_at)
_BY_IDS = and_(
    _D.tenant_id == bindparam("p_tenant"), _D.post_id == bindparam("p_post"), _D.account_id == bindparam("p_account")
)
_BY_POSTPROXY_REFS = and_(
    _D.post_id == _P.id, _P.tenant_id == _D.tenant_id, _P.postproxy_post_id == bindparam("p_ref"),
    _D.account_id == _A.id, _A.tenant_id == _D.tenant_id, _A.profile_id == bindparam("p_profile"),
)


def _forward_update(key: Any) -> Any:
    """Move the delivery selected by ``key`` to ``p_status`` if that is a higher rank and it is not terminal."""
    attempts = case(
        (and_(bindparam("p_floor_one", type_=Boolean), _D.attempts < 1), 1),
        else_=_D.attempts + bindparam("p_count", type_=Integer),
    )
    return (
        update(Delivery.__table__)
        .where(key, _D.status.not_in(_TERMINAL_LIST), case(RANK, value=_D.status, else_=-1) < bindparam("p_rank"))
        .values(
            status=bindparam("p_status"),
            error=bindparam("p_error", type_=_D.error.type),
            permalink=func.coalesce(bindparam("p_permalink", type_=_D.permalink.type), _D.permalink),
            platform_post_id=func.coalesce(bindparam("p_ppid", type_=_D.platform_post_id.type), _D.platform_post_id),
            published_at=case((bindparam("p_is_published", type_=Boolean), _AT), else_=_D.published_at),
            attempts=attempts,
            last_event_at=_LATEST_EVENT_AT,
        )
    )


def _bookkeeping_update() -> Any:
    """For a report that no longer moves the status: count the attempt, keep the latest time and details."""
    same_and_later = and_(_D.status == bindparam("p_status"), or_(_D.last_event_at.is_(None), _D.last_event_at <= _AT))
    return (
        update(Delivery.__table__)
        .where(_BY_IDS)
        .values(
            attempts=_D.attempts + bindparam("p_count", type_=Integer),
            last_event_at=_LATEST_EVENT_AT,
            error=case((same_and_later, bindparam("p_error", type_=_D.error.type)), else_=_D.error),
            permalink=func.coalesce(_D.permalink, bindparam("p_permalink", type_=_D.permalink.type)),
            platform_post_id=func.coalesce(_D.platform_post_id, bindparam("p_ppid", type_=_D.platform_post_id.type)),
        )
        .returning(_D.id)
    )


# Built once: the receiver runs these for every event.
_FIND_FOR_EVENT = _build_find_for_event()
_ADVANCE_FORWARD = _forward_update(_BY_IDS).returning(_D.id)
_ADVANCE_FORWARD_BY_REFS = _forward_update(_BY_POSTPROXY_REFS).returning(
    _D.tenant_id, _D.post_id, _D.account_id, _D.platform, _D.id, _D.status
)
_ADVANCE_BOOKKEEPING = _bookkeeping_update()


def find_for_event(session: Session, postproxy_post_id: str, profile_id: str) -> EventTarget | None:
    """Resolve Postproxy's (post id, profile id) to postpipe's tenant, post, account and delivery (one query)."""
    row = session.execute(_FIND_FOR_EVENT, {"p_ref": postproxy_post_id, "p_profile": profile_id}).first()
    return EventTarget(*row) if row else None  # type: ignore[arg-type]


def advance(
    session: Session,
    tenant_id: uuid.UUID,
    post_id: uuid.UUID,
    account_id: uuid.UUID,
    status: str,
    *,
    at: datetime,
    error: str | None = None,
    permalink: str | None = None,
    platform_post_id: str | None = None,
    attempt: bool = False,
) -> bool:
    """Apply one report about a delivery; returns True if its status moved forward.

    ``attempt=True`` marks the report as one attempt's outcome (a webhook): it is counted even when it no longer
    changes the status; an outcome learned otherwise (polling) only makes sure at least one attempt is counted.
    Raises ``DeliveryNotFoundError`` if the delivery was never recorded.
    """
    params = _report_params(status, at, error, permalink, platform_post_id, attempt)
    params.update(p_tenant=tenant_id, p_post=post_id, p_account=account_id)
    if session.execute(_ADVANCE_FORWARD, params).first() is not None:
        return True
    # Not moved: the same or a later state is settled. Keep the order-independent bookkeeping.
    if session.execute(_ADVANCE_BOOKKEEPING, params).first() is None:
        raise DeliveryNotFoundError(f"no delivery of post {post_id} to account {account_id} in tenant {tenant_id}")
    return False


def ensure(session: Session, tenant_id: uuid.UUID, post_id: uuid.UUID, account_id: uuid.UUID, platform: str) -> None:
    """Create the ``pending`` delivery if it is missing (a report can arrive before the targets were recorded)."""
    session.execute(
        upsert_insert(session, Delivery)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, post_id=post_id, account_id=account_id, platform=platform,
                status="pending", attempts=0)
        .on_conflict_do_nothing(index_elements=["post_id", "account_id"])
    )


def unfinished(session: Session, older_than: datetime, *, limit: int = 500) -> list[UnfinishedDelivery]:
    """Deliveries not yet terminal whose last news (or creation) is older than ``older_than``, oldest first."""
    since = func.coalesce(Delivery.last_event_at, Delivery.created_at)
    rows = session.execute(
        select(
            Delivery.tenant_id, Delivery.post_id, Delivery.account_id, Post.postproxy_post_id,
            SocialAccount.profile_id, Delivery.platform, Delivery.status, since,
        )
        .join(Post, and_(Post.tenant_id == Delivery.tenant_id, Post.id == Delivery.post_id))
        .join(SocialAccount, and_(SocialAccount.tenant_id == Delivery.tenant_id, SocialAccount.id == Delivery.account_id))
        .where(Delivery.status.not_in(_TERMINAL_LIST), Post.postproxy_post_id.is_not(None), since < older_than)
        .order_by(since)
        .limit(limit)
    )
    return [UnfinishedDelivery(*r) for r in rows]  # type: ignore[arg-type]


def counts_by_platform(session: Session) -> dict[str, dict[str, int]]:
    """Platform -> delivery status -> how many (every tenant the session can see)."""
    counts: dict[str, dict[str, int]] = {}
    for platform, status, n in session.execute(
        select(Delivery.platform, Delivery.status, func.count()).group_by(Delivery.platform, Delivery.status)
    ):
        counts.setdefault(platform, {})[status] = n
    return counts


def find_post(session: Session, postproxy_post_id: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(tenant id, post id) of the post Postproxy knows as ``postproxy_post_id``."""
    row = session.execute(select(Post.tenant_id, Post.id).where(Post.postproxy_post_id == postproxy_post_id)).first()
    return (row[0], row[1]) if row else None


def _report_params(
    status: str, at: datetime, error: str | None, permalink: str | None, platform_post_id: str | None, attempt: bool
) -> dict[str, Any]:
    counted = 1 if attempt and status in ATTEMPT_OUTCOMES else 0
    return {
        "p_status": status, "p_rank": rank(status), "p_at": at, "p_error": error, "p_permalink": permalink,
        "p_ppid": platform_post_id, "p_count": counted, "p_floor_one": not counted and status in ATTEMPT_OUTCOMES,
        "p_is_published": status == "published",
    }


def advance_by_refs(
    session: Session,
    postproxy_post_id: str,
    profile_id: str,
    status: str,
    *,
    at: datetime,
    error: str | None = None,
    permalink: str | None = None,
    platform_post_id: str | None = None,
    attempt: bool = False,
) -> EventTarget | None:
    """The fast path of ``advance`` for a webhook: find and move the delivery in one statement.

    Returns the delivery's target if its status moved; None if it did not move or is unknown (then resolve it with
    ``find_for_event`` and call ``advance``, which also keeps the bookkeeping of a report that moves nothing).
    """
    params = _report_params(status, at, error, permalink, platform_post_id, attempt)
    params.update(p_ref=postproxy_post_id, p_profile=profile_id)
    row = session.execute(_ADVANCE_FORWARD_BY_REFS, params).first()
    return EventTarget(*row) if row else None  # type: ignore[arg-type]
