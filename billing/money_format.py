"""Money as people read it, in the active language: half-up to the grosz, never truncated.

The one formatting path of pages, CSV, XLSX and PDF. Imports no models.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.utils import formats, translation

CURRENCY_SYMBOLS = {"pl": {"PLN": "zł"}}


def _language() -> str:
    return (translation.get_language() or "pl").split("-")[0]


def format_amount(value: Decimal, places: int = 2, *, grouping: bool = True) -> str:
    """1 234,57 (pl) / 1,234.57 (en): rounded half-up to `places` first (Django's number
    formatting alone cuts digits off)."""
    quantum = Decimal(1).scaleb(-places)
    rounded = Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)
    return formats.number_format(rounded, places, force_grouping=grouping)


def currency_symbol(currency: str = "PLN") -> str:
    return CURRENCY_SYMBOLS.get(_language(), {}).get(currency, currency)


def format_money(value: Decimal, currency: str = "PLN") -> str:
    """An amount with its currency, e.g. "20,50 zł" or "20.50 PLN"."""
    return f"{format_amount(value)}\xa0{currency_symbol(currency)}"


def month_label(period) -> str:
    """A billing month as it reads inside a sentence: "październik 2026" / "October 2026"
    (Polish month names are lowercase except at the start of a sentence: |capfirst there)."""
    text = formats.date_format(period, "F Y")
    return text.lower() if _language() == "pl" else text


def format_figure(value: Decimal, *, grouping: bool = False) -> str:
    """A Decimal with the places it carries (at least 2), in the active language's notation."""
    places = max(2, -Decimal(value).as_tuple().exponent)
    return format_amount(value, places, grouping=grouping)


def decimal_separator() -> str:
    return formats.get_format("DECIMAL_SEPARATOR")
