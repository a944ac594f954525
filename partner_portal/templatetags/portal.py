"""Display helpers of the portal templates: money, counts and status words per language."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils import formats, translation
from django.utils.translation import gettext as _

from billing.statuses import parse_status

register = template.Library()

CURRENCY_SYMBOLS = {"pl": {"PLN": "zł"}}


@register.filter
def money(value, currency: str = "PLN") -> str:
    """1 234,56 zł in Polish, 1,234.56 PLN in English (grouping only for display)."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    language = (translation.get_language() or "pl").split("-")[0]
    symbol = CURRENCY_SYMBOLS.get(language, {}).get(currency, currency)
    return f"{formats.number_format(amount, 2, force_grouping=True)}\xa0{symbol}"


@register.filter
def count(value) -> str:
    """An integer with the language's thousands separator."""
    if value is None:
        return "—"
    return formats.number_format(value, 0, force_grouping=True)


@register.filter
def percent(value) -> str:
    if value is None:
        return "—"
    return f"{formats.number_format(value, 1)}\xa0%"


@register.filter
def status_label(value) -> str:
    """The translated word of a SerwerSMS status string (unknown words shown as they are)."""
    status = parse_status(value)
    if status is None:
        return value or "—"
    return str(status.label)


@register.filter
def period_label(value) -> str:
    """A billing month, e.g. "listopad 2026" / "November 2026"."""
    return formats.date_format(value, "F Y")


@register.simple_tag
def audit_action(action: str) -> str:
    labels = {
        "built": _("built"),
        "rebuilt": _("rebuilt"),
        "closed": _("closed"),
        "adjusted": _("adjusted"),
        "downloaded": _("downloaded"),
        "exported": _("exported"),
        "reconciled": _("reconciled"),
    }
    return labels.get(action, action)
