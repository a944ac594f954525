"""Display helpers of the portal templates: money, counts and status words per language."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils import formats, translation
from django.utils.translation import gettext as _

from billing.models import StaffRole
from billing.statuses import parse_status
from partner_portal import labels

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
    """A billing month as it reads inside a sentence: "listopad 2026" / "November 2026".

    Polish month names are lowercase except at the start of a sentence (use |capfirst there).
    """
    text = formats.date_format(value, "F Y")
    if (translation.get_language() or "pl").split("-")[0] == "pl":
        return text.lower()
    return text


@register.filter
def period_end(value):
    """The last day of the month that starts on `value`."""
    import calendar

    return value.replace(day=calendar.monthrange(value.year, value.month)[1])


@register.filter
def reason_label(value) -> str:
    """A SerwerSMS reason code in words (unknown codes as they are)."""
    return labels.reason_label(value)


@register.filter
def role_label(value) -> str:
    try:
        return str(StaffRole(value).label)
    except ValueError:
        return value or ""


@register.simple_tag
def phone_chart(series):
    """The dashboard chart drawn for a phone's width, so its labels stay readable there."""
    from partner_portal.charts import daily_chart

    return daily_chart(series, width=380, height=240)


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
        "staff_invited": _("colleague invited"),
        "staff_joined": _("colleague joined"),
        "staff_removed": _("colleague removed"),
        "invitation_revoked": _("invitation revoked"),
    }
    return labels.get(action, action)
