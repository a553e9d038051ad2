"""The one jinja2 Environment of postpipe: templates in this folder, autoescape on for HTML.

Autoescaping is chosen by the template's name: ``*.html`` escapes every value (a tenant named ``<script>`` prints
as text), ``*.txt`` does not (plain text must read as typed). Every value printed by any template first goes
through ``_plain_value``: control characters (newlines, ESC sequences for terminals) and Unicode bidirectional
overrides are replaced, so a name cannot forge extra invoice lines or reorder what a reader sees.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

DEFAULT_LOCALE = "en_US"
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(value: Any) -> str:
    """One line of harmless text: control and bidi-override characters become spaces."""
    return _UNSAFE.sub(" ", str(value))


def _plain_value(value: Any) -> Any:
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return plain(value)


def money(amount: Decimal | int | str, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """An amount in its currency, formatted by Babel for ``locale`` (``€1,234.50``, ``-£3.50``)."""
    return _money(str(amount), currency, locale)


def unit_price(amount: Decimal | int | str, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """A unit price: at least the currency's digits, more when the price has them (``€0.025``)."""
    return _unit_price(str(amount), currency, locale)


def quantity(value: Decimal | int | str, locale: str = DEFAULT_LOCALE) -> str:
    return _quantity(str(value), locale)


# Babel formatting costs ~0.1 ms a call and invoices repeat the same figures (fees, prices, quantities):
# memoized on the exact text of the number, so 10,000 invoices render in seconds.
@lru_cache(maxsize=65536)
def _money(amount: str, currency: str, locale: str) -> str:
    return format_currency(Decimal(amount), currency, locale=locale)


@lru_cache(maxsize=65536)
def _unit_price(amount: str, currency: str, locale: str) -> str:
    return format_currency(Decimal(amount), currency, format="¤#,##0.00####", currency_digits=False, locale=locale)


@lru_cache(maxsize=65536)
def _quantity(value: str, locale: str) -> str:
    return format_decimal(Decimal(value).normalize(), format="#,##0.####", locale=locale)


def ljust(value: Any, width: int) -> str:
    return str(value).ljust(width)


def rjust(value: Any, width: int) -> str:
    return str(value).rjust(width)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("postpipe", "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml"), disabled_extensions=("txt",), default_for_string=True, default=True
        ),
        finalize=_plain_value,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters.update(money=money, unit_price=unit_price, quantity=quantity, plain=plain, ljust=ljust, rjust=rjust)
    return env

