"""Invoices end to end in the core (no Prefect): hand-computed totals, exactly once, immutability, adjustments."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from postpipe.db import owner_session, system_scope
from postpipe.repositories import invoices

from .conftest import add_account, add_member, make_tenant, publish
from .helpers import invoice_period, stored_invoice

BERLIN = ZoneInfo("Europe/Berlin")
SEP = datetime(2026, 9, 15, 12, tzinfo=UTC)


def _starter_tenant(slug: str = "acme", *, name: str | None = None) -> None:
    """Starter plan, UTC: 137 deliveries, 5 accounts at peak, 4 seats at peak in September 2026."""
    with owner_session() as s:
        tid = make_tenant(s, slug, plan_id="starter", name=name)
        accounts = [add_account(s, tid, f"{slug}-{i}") for i in range(4)]
        accounts.append(add_account(s, tid, f"{slug}-late", [(datetime(2026, 9, 20, tzinfo=UTC), None)]))
        publish(s, tid, accounts[:4], SEP, count=34)  # 136 deliveries
        publish(s, tid, accounts[4:], datetime(2026, 9, 30, 23, 59, tzinfo=UTC))  # 137
        for who in ("a", "b", "c"):
            add_member(s, tid, f"{who}@{slug}.example", datetime(2026, 9, 2, tzinfo=UTC))


def test_invoices_match_hand_computed_totals_for_three_plans(any_db: str) -> None:
    _starter_tenant()
    with owner_session() as s:
        growth = make_tenant(s, "bigco", plan_id="growth", time_zone="Europe/Berlin")
        accounts = [add_account(s, growth, f"big-{i}") for i in range(11)]
        accounts.append(add_account(s, growth, "big-late", [(datetime(2026, 9, 21, tzinfo=BERLIN), None)]))
        publish(s, growth, accounts[:4], SEP, count=634)  # 2536 deliveries
        publish(s, growth, accounts[:1], datetime(2026, 9, 30, 23, 30, tzinfo=BERLIN))  # 2537, local September
        publish(s, growth, accounts[:1], datetime(2026, 10, 1, 0, 30, tzinfo=BERLIN))  # October: not billed now
        for i in range(6):
            add_member(s, growth, f"m{i}@bigco.example", datetime(2026, 8, 1, tzinfo=UTC))
        agency = make_tenant(s, "agency", plan_id="agency", time_zone="Asia/Tokyo")
        agency_accounts = [add_account(s, agency, f"ag-{i}") for i in range(30)]
        publish(s, agency, agency_accounts, SEP, count=20)

    outcomes = invoice_period("2026-09")
    assert sorted(o.outcome for o in outcomes) == ["issued"] * 3

    # Starter (USD): base 29.00
    #   posts    137 used, 100 included: 37 x 0.05 = 1.85
    #   accounts 5 at peak, 3 included:   2 x 4.00 = 8.00
    #   seats    4 at peak, 2 included:   2 x 9.00 = 18.00
    #   total 29.00 + 1.85 + 8.00 + 18.00 = 56.85
    acme = stored_invoice("acme", "2026-09")
    assert [line.amount for line in acme.lines] == [Decimal("29.00"), Decimal("1.85"), Decimal("8.00"), Decimal("18.00")]
    assert acme.summary.total == Decimal("56.85") and acme.summary.currency == "USD"
    assert "$56.85" in (acme.text_body or "")

    # Growth (EUR), Europe/Berlin, prorated accounts: base 99.00
    #   posts 2537: first 500 x 0.00 = 0.00; 1500 x 0.04 = 60.00; 537 x 0.025 = 13.425 -> 13.43 (half up)
    #   accounts: 11 x 30 days + 10 days (from Sep 21 local) = 340 account-days / 30 = 11.3333 account-months
    #             first 10 x 3.50 = 35.00; 1.3333 x 2.00 = 2.6666 -> 2.67
    #   seats 7 at peak, 5 included: 2 x 7.50 = 15.00
    #   total 99.00 + 0.00 + 60.00 + 13.43 + 35.00 + 2.67 + 15.00 = 225.10
    bigco = stored_invoice("bigco", "2026-09")
    assert [(line.quantity, line.amount) for line in bigco.lines] == [
        (Decimal("1"), Decimal("99.00")),
        (Decimal("500"), Decimal("0.00")),
        (Decimal("1500"), Decimal("60.00")),
        (Decimal("537"), Decimal("13.43")),
        (Decimal("10"), Decimal("35.00")),
        (Decimal("1.3333"), Decimal("2.67")),
        (Decimal("2"), Decimal("15.00")),
    ]
    assert bigco.summary.total == Decimal("225.10")
    assert bigco.usage["account_days"] == "340.0000" and bigco.usage["published_posts"] == 2537
    assert "€225.10" in (bigco.text_body or "") and "€0.025" in (bigco.text_body or "")

    # Agency (GBP), flat: 600 deliveries and 30 accounts cost nothing extra. total = 499.00
    agency_invoice = stored_invoice("agency", "2026-09")
    assert [(line.kind, line.amount) for line in agency_invoice.lines] == [("base", Decimal("499.00"))]
    assert agency_invoice.summary.total == Decimal("499.00")
    assert agency_invoice.usage["published_posts"] == 600
    assert agency_invoice.plan_snapshot["id"] == "agency" and agency_invoice.plan_snapshot["prices"] == []

    numbers = sorted(o.number for o in outcomes)
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]
    assert {acme.summary.status, bigco.summary.status, agency_invoice.summary.status} == {"finalized"}


def test_a_rerun_returns_the_same_single_invoice(pg_db: str) -> None:
    _starter_tenant()
    first = invoice_period("2026-09")
    again = invoice_period("2026-09")
    assert [o.outcome for o in first] == ["issued"] and [o.outcome for o in again] == ["already-invoiced"]
    assert first[0].number == again[0].number and first[0].total == again[0].total == Decimal("56.85")
    with system_scope("test") as s:
        assert invoices.count_for_period(s, "2026-09") == 1


def test_concurrent_runs_issue_each_invoice_once_with_unique_gapless_numbers(pg_db: str) -> None:
    for i in range(6):
        _starter_tenant(f"t{i}")
    barrier = threading.Barrier(3)
    results: list[list] = [[], [], []]
    errors: list[BaseException] = []

    def run(slot: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[slot] = invoice_period("2026-09", batch_size=1)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    issued = [o for result in results for o in result if o.outcome == "issued"]
    assert len(issued) == 6  # each tenant issued by exactly one of the three runs
    by_tenant = {}
    for result in results:
        for outcome in result:
            by_tenant.setdefault(outcome.tenant_slug, set()).add(outcome.number)
    assert all(len(numbers) == 1 for numbers in by_tenant.values())  # every run saw the same number
    with system_scope("test") as s:
        stored = invoices.list_for_period(s, "2026-09")
    assert len(stored) == 6
    assert sorted(i.number for i in stored) == list(range(1, 7))


def test_finalized_invoice_never_changes_and_late_usage_is_billed_next_month(pg_db: str) -> None:
    _starter_tenant()
    invoice_period("2026-09")
    september = stored_invoice("acme", "2026-09")
    with owner_session() as s:
        tid = s.scalar(sa.text("select id from tenants where slug = 'acme'"))
        account = s.scalar(sa.text("select id from social_accounts where profile_id = 'acme-0'"))
        publish(s, tid, [account], datetime(2026, 9, 28, tzinfo=UTC), count=3)  # late: confirmed after invoicing
        publish(s, tid, [account], datetime(2026, 10, 5, tzinfo=UTC), count=2)
    assert [o.outcome for o in invoice_period("2026-09")] == ["already-invoiced"]
    assert stored_invoice("acme", "2026-09") == september  # byte for byte, lines included

    invoice_period("2026-10")
    october = stored_invoice("acme", "2026-10")
    adjustment = [line for line in october.lines if line.kind == "adjustment"]
    # price(140 posts) - price(137 posts) = 40 x 0.05 - 37 x 0.05 = 2.00 - 1.85 = 0.15
    assert len(adjustment) == 1
    assert adjustment[0].description == "Adjustment for 2026-09: 3 published posts delivered after invoicing"
    assert adjustment[0].amount == Decimal("0.15") and adjustment[0].adjusts_period == "2026-09"
    # October itself: 2 posts (within 100 included) 0.00; accounts 5 > 3: 8.00; seats 4 > 2: 18.00
    # total 29.00 + 0.00 + 8.00 + 18.00 + 0.15 = 55.15
    assert october.summary.total == Decimal("55.15")
    assert "Adjustment for 2026-09: 3 published posts delivered after invoicing" in (october.text_body or "")


def test_repository_and_database_refuse_to_change_a_finalized_invoice(pg_db: str) -> None:
    _starter_tenant()
    invoice_period("2026-09")
    record = stored_invoice("acme", "2026-09")
    from postpipe.repositories.invoices import InvoiceFinalizedError, NewInvoice

    with pytest.raises(InvoiceFinalizedError, match="finalized"):
        with system_scope("test") as s:
            invoices.replace_draft(
                s,
                NewInvoice(record.summary.id, record.summary.tenant_id, "2026-09", record.summary.number, "USD",
                           Decimal(0), Decimal(0), {}, {}, "", "", ()),
            )
    with system_scope("test") as s:
        assert invoices.finalize(s, [record.summary.id]) == 0  # finalizing again changes nothing
    for statement in (
        "update invoices set total = 0 where id = :id",
        "delete from invoices where id = :id",
        "update invoice_lines set amount = 0 where invoice_id = :id",
        "delete from invoice_lines where invoice_id = :id",
    ):
        with pytest.raises(DBAPIError, match="finalized"):
            with owner_session() as s:  # even the owner, bypassing the repository, is refused by the trigger
                s.execute(sa.text(statement), {"id": record.summary.id})
    assert stored_invoice("acme", "2026-09") == record


def test_renderings_escape_html_and_keep_text_plain(any_db: str) -> None:
    _starter_tenant("evil", name="<script>alert('x')</script>\nTotal $0.00\x1b[2J\u202e")
    invoice_period("2026-09")
    record = stored_invoice("evil", "2026-09")
    html, text = record.html or "", record.text_body or ""
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "<script>alert('x')</script> Total $0.00 [2J" in text  # as typed, on one line, no escape codes
    assert "&lt;" not in text and "\x1b" not in text and "\u202e" not in text
    assert not any(line.startswith("Total $0.00") for line in text.splitlines())
