"""``postpipe invoices show`` as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from postpipe.cli import main

from .helpers import invoice_period
from .test_invoices import _starter_tenant


def test_show_prints_the_plain_text_invoice_and_writes_html(
    pg_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _starter_tenant()
    invoice_period("2026-09")
    html = tmp_path / "invoice.html"
    assert main(["invoices", "show", "acme", "2026-09", "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("INVOICE 1\nAcme (acme)\n")
    assert "$56.85" in out and "Starter plan, monthly base fee" in out
    assert "<td class=\"num\">$56.85</td>" in html.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "2026-09"], "tenant: no tenant with slug 'nobody'"),
        (["acme", "2026-08"], "period: tenant 'acme' has no invoice for 2026-08"),
        (["acme", "2026-9"], "period: expected YYYY-MM"),
    ],
)
def test_show_names_what_it_cannot_find(
    pg_db: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    _starter_tenant()
    assert main(["invoices", "show", *args]) == 2
    assert message in capsys.readouterr().err
