"""Invoices and their lines: numbered once, stored once per tenant and period, immutable once finalized.

Numbers come from the ``invoice_counters`` row, which a batch locks first (``UPDATE ... RETURNING`` takes the row
lock on PostgreSQL and the write lock on SQLite) and holds until it commits: concurrent runs hand out numbers
one after the other, with no duplicates and no gaps. The unique ``(tenant_id, period)`` is the final word on
"exactly once": inserts use ON CONFLICT DO NOTHING and callers read back what is stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from postpipe.models import Invoice, InvoiceCounter, InvoiceLine, Tenant, utcnow
from postpipe.repositories._sql import upsert_insert

COUNTER = "invoices"


class InvoiceFinalizedError(PermissionError):
    """An attempt to change an invoice that is already finalized."""


class InvoiceNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class LineRecord:
    position: int
    kind: str
    metric: str | None
    description: str
    quantity: Decimal
    unit_price: Decimal | None
    amount: Decimal
    adjusts_period: str | None = None


@dataclass(frozen=True)
class NewInvoice:
    """Everything stored for one invoice; ``number`` was handed out by ``lock_counter``."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    period: str
    number: int
    currency: str
    subtotal: Decimal
    total: Decimal
    plan_snapshot: dict[str, Any]
    usage: dict[str, Any]
    html: str
    text_body: str
    lines: tuple[LineRecord, ...]


@dataclass(frozen=True)
class InvoiceSummary:
    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_slug: str
    period: str
    number: int
    status: str
    currency: str
    total: Decimal
    created_at: datetime
    finalized_at: datetime | None


@dataclass(frozen=True)
class InvoiceRecord:
    summary: InvoiceSummary
    subtotal: Decimal
    plan_snapshot: dict[str, Any]
    usage: dict[str, Any]
    html: str | None
    text_body: str | None
    lines: tuple[LineRecord, ...]


@dataclass(frozen=True)
class StoredInvoice:
    id: uuid.UUID
    tenant_id: uuid.UUID
    number: int
    status: str
    currency: str
    total: Decimal


def lock_counter(session: Session) -> int:
    """Lock the invoice counter until the transaction ends; returns the last number issued."""
    session.execute(upsert_insert(session, InvoiceCounter).values(name=COUNTER, last_number=0).on_conflict_do_nothing())
    last = session.scalar(
        update(InvoiceCounter)
        .where(InvoiceCounter.name == COUNTER)
        .values(last_number=InvoiceCounter.last_number)
        .returning(InvoiceCounter.last_number)
    )
    return int(last or 0)


def set_counter(session: Session, last_number: int) -> None:
    """Record the last number handed out (the counter row must be locked by ``lock_counter``)."""
    session.execute(update(InvoiceCounter).where(InvoiceCounter.name == COUNTER).values(last_number=last_number))


def stored_for_period(session: Session, period: str, tenant_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StoredInvoice]:
    """Of ``tenant_ids``, those that already have an invoice for ``period`` (draft or finalized)."""
    stored: dict[uuid.UUID, StoredInvoice] = {}
    for chunk in _chunks(list(tenant_ids), 500):
        rows = session.execute(
            select(Invoice.id, Invoice.tenant_id, Invoice.number, Invoice.status, Invoice.currency, Invoice.total).where(
                Invoice.period == period, Invoice.tenant_id.in_(chunk)
            )
        )
        for row in rows:
            stored[row.tenant_id] = StoredInvoice(*row)
    return stored


def insert_drafts(session: Session, invoices: Sequence[NewInvoice]) -> set[uuid.UUID]:
    """Insert invoices as drafts with their lines; one already stored for (tenant, period) is left alone.

    Returns the ids actually inserted. Multi-row statements: one round trip per batch, not per line.
    """
    if not invoices:
        return set()
    now = utcnow()
    rows = [
        {
            "id": inv.id,
            "tenant_id": inv.tenant_id,
            "period": inv.period,
            "number": inv.number,
            "status": "draft",
            "currency": inv.currency,
            "subtotal": inv.subtotal,
            "total": inv.total,
            "plan_snapshot": inv.plan_snapshot,
            "usage": inv.usage,
            "html": inv.html,
            "text_body": inv.text_body,
            "created_at": now,
        }
        for inv in invoices
    ]
    table = Invoice.__table__
    statement = (
        upsert_insert(session, table)
        .on_conflict_do_nothing(index_elements=["tenant_id", "period"])
        .returning(table.c.id)
    )
    # executemany with RETURNING: SQLAlchemy sends it as a few multi-row INSERTs ("insertmanyvalues")
    inserted = set(session.execute(statement, rows).scalars())
    _insert_lines(session, [inv for inv in invoices if inv.id in inserted])
    return inserted


def _insert_lines(session: Session, invoices: Iterable[NewInvoice]) -> None:
    rows = [
        {
            "tenant_id": inv.tenant_id,
            "invoice_id": inv.id,
            "position": line.position,
            "kind": line.kind,
            "metric": line.metric,
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "amount": line.amount,
            "adjusts_period": line.adjusts_period,
        }
        for inv in invoices
        for line in inv.lines
    ]
    if rows:
        session.execute(insert(InvoiceLine.__table__), rows)  # Core executemany: batched by the driver


def replace_draft(session: Session, invoice: NewInvoice) -> None:
    """Recompute a draft in place (same id and number). A finalized invoice is refused."""
    status = session.scalar(select(Invoice.status).where(Invoice.id == invoice.id).with_for_update())
    if status is None:
        raise InvoiceNotFoundError(f"no invoice with id {invoice.id}")
    if status == "finalized":
        raise InvoiceFinalizedError(f"invoice {invoice.number} for {invoice.period} is finalized and cannot change")
    session.execute(
        update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.status == "draft")
        .values(
            currency=invoice.currency,
            subtotal=invoice.subtotal,
            total=invoice.total,
            plan_snapshot=invoice.plan_snapshot,
            usage=invoice.usage,
            html=invoice.html,
            text_body=invoice.text_body,
        )
    )
    session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    _insert_lines(session, [invoice])


def finalize(session: Session, invoice_ids: Iterable[uuid.UUID], *, at: datetime | None = None) -> int:
    """Finalize drafts; returns how many changed. Finalized invoices are left exactly as they are."""
    at = at or utcnow()
    changed = 0
    for chunk in _chunks(list(invoice_ids), 1000):
        result = session.execute(
            update(Invoice)
            .where(Invoice.id.in_(chunk), Invoice.status == "draft")
            .values(status="finalized", finalized_at=at)
            .execution_options(synchronize_session=False)
        )
        changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return changed


def assert_editable(session: Session, invoice_id: uuid.UUID) -> None:
    """Raise InvoiceFinalizedError if the invoice is finalized (the guard every write path goes through)."""
    row = session.execute(select(Invoice.status, Invoice.number, Invoice.period).where(Invoice.id == invoice_id)).first()
    if row is None:
        raise InvoiceNotFoundError(f"no invoice with id {invoice_id}")
    if row.status == "finalized":
        raise InvoiceFinalizedError(f"invoice {row.number} for {row.period} is finalized and cannot change")


def finalized_usage(session: Session, period: str) -> dict[uuid.UUID, tuple[dict[str, Any], dict[str, Any]]]:
    """Per tenant with a finalized invoice for ``period``: (usage as invoiced, plan as billed)."""
    rows = session.execute(
        select(Invoice.tenant_id, Invoice.usage, Invoice.plan_snapshot).where(
            Invoice.period == period, Invoice.status == "finalized"
        )
    )
    return {tenant_id: (usage, plan) for tenant_id, usage, plan in rows}


def _summary_query() -> Any:
    return select(
        Invoice.id,
        Invoice.tenant_id,
        Tenant.slug,
        Invoice.period,
        Invoice.number,
        Invoice.status,
        Invoice.currency,
        Invoice.total,
        Invoice.created_at,
        Invoice.finalized_at,
    ).join(Tenant, Tenant.id == Invoice.tenant_id)


def list_for_period(session: Session, period: str) -> list[InvoiceSummary]:
    rows = session.execute(_summary_query().where(Invoice.period == period).order_by(Invoice.number))
    return [InvoiceSummary(*row) for row in rows]


def count_for_period(session: Session, period: str) -> int:
    return int(session.scalar(select(func.count()).select_from(Invoice).where(Invoice.period == period)) or 0)


def get(session: Session, tenant_id: uuid.UUID, period: str) -> InvoiceRecord | None:
    """The tenant's invoice for ``period`` with its lines, or None."""
    row = session.execute(
        _summary_query()
        .add_columns(Invoice.subtotal, Invoice.plan_snapshot, Invoice.usage, Invoice.html, Invoice.text_body)
        .where(Invoice.tenant_id == tenant_id, Invoice.period == period)
    ).first()
    if row is None:
        return None
    lines = session.execute(
        select(
            InvoiceLine.position,
            InvoiceLine.kind,
            InvoiceLine.metric,
            InvoiceLine.description,
            InvoiceLine.quantity,
            InvoiceLine.unit_price,
            InvoiceLine.amount,
            InvoiceLine.adjusts_period,
        )
        .where(InvoiceLine.tenant_id == tenant_id, InvoiceLine.invoice_id == row[0])
        .order_by(InvoiceLine.position)
    )
    return InvoiceRecord(
        summary=InvoiceSummary(*row[:10]),
        subtotal=row.subtotal,
        plan_snapshot=row.plan_snapshot,
        usage=row.usage,
        html=row.html,
        text_body=row.text_body,
        lines=tuple(LineRecord(*line) for line in lines),
    )


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def count_adjustment_lines(session: Session, period: str) -> int:
    """How many adjustment lines the invoices of ``period`` carry."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(InvoiceLine)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.period == period, InvoiceLine.kind == "adjustment")
        )
        or 0
    )
