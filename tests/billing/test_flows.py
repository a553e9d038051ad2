"""The invoice-month flow under Prefect's test harness: artifacts, return value, re-runs, parameter errors."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from prefect.artifacts import Artifact

from flows.invoicing import invoice_month
from postpipe.billing.periods import PeriodFormatError

from .helpers import stored_invoice
from .test_invoices import _starter_tenant


def test_invoice_month_issues_once_and_reports_every_invoice(pg_db: str, prefect_harness: None) -> None:
    _starter_tenant("acme")
    _starter_tenant("zeta", name="<b>Zeta</b>")
    first = asyncio.run(invoice_month(period="2026-09", batch_size=1))
    assert first["issued"] == 2 and first["already_invoiced"] == 0 and first["skipped"] == []
    assert [(row["tenant"], row["total"], row["status"]) for row in first["invoices"]] == [
        ("acme", "56.85", "finalized"),
        ("zeta", "56.85", "finalized"),
    ]
    table = Artifact.get("invoices-2026-09")
    assert table is not None and table.type == "table"
    assert [row["tenant"] for row in json.loads(table.data)] == ["acme", "zeta"]
    progress = Artifact.get("invoice-progress-2026-09")
    assert progress is not None and float(progress.data) == 100.0

    again = asyncio.run(invoice_month(period="2026-09"))
    assert again["issued"] == 0 and again["already_invoiced"] == 2
    assert again["invoices"] == first["invoices"]
    assert stored_invoice("zeta", "2026-09").summary.total == Decimal("56.85")


def test_invoice_month_refuses_a_malformed_period(pg_db: str, prefect_harness: None) -> None:
    with pytest.raises(PeriodFormatError, match="period: expected YYYY-MM"):
        asyncio.run(invoice_month(period="09/2026"))
