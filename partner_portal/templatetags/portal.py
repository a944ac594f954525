"""Display helpers of the portal templates: money, counts and status words per language.

Money is shown through billing.money_format (half-up to the grosz, never truncated), the same
function the statement exports use."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from billing.commission import MESSAGE_TYPES, PERCENT_OF_COST, parse_period
from billing.models import AuditAction, PayoutStatus, StaffRole
from billing.money_format import currency_symbol, format_amount, format_money, month_label
from billing.statuses import parse_status
from partner_portal import labels
from partner_portal.charts import daily_chart

register = template.Library()


@register.filter
def money(value, currency: str = "PLN") -> str:
    """1 234,56 zł in Polish, 1,234.56 PLN in English: half-up to the grosz, never truncated."""
    if value is None or value == "":
        return "—"
    try:
        return format_money(Decimal(value), currency or "PLN")
    except (InvalidOperation, TypeError, ValueError):
        return str(value)


@register.filter
def amount(value, places: int = 2) -> str:
    """A figure without currency (e.g. a per-message amount at 4 places), rounded half-up."""
    return "—" if value is None or value == "" else format_amount(Decimal(value), int(places))


@register.filter
def count(value) -> str:
    """An integer with the language's thousands separator."""
    return "—" if value is None else formats.number_format(value, 0, force_grouping=True)


@register.filter
def percent(value, places: int = 1) -> str:
    if value is None:
        return "—"
    return f"{format_amount(Decimal(value), int(places), grouping=False)}\xa0%"


@register.filter
def status_label(value) -> str:
    """The translated word of a SerwerSMS status string (unknown words shown as they are)."""
    status = parse_status(value)
    return str(status.label) if status else (value or "—")


# A billing month as it reads inside a sentence: "listopad 2026" / "November 2026".
register.filter("period_label", month_label)
# A SerwerSMS reason code in words (unknown codes as they are).
register.filter("reason_label", labels.reason_label)


@register.filter
def role_label(value) -> str:
    return str(dict(StaffRole.choices).get(value, value or ""))


@register.simple_tag
def phone_chart(series):
    """The dashboard chart drawn for a phone's width, so its labels stay readable there."""
    return daily_chart(series, width=380, height=240)


@register.simple_tag
def audit_action(action: str) -> str:
    """The translated label of an audit action (an unknown word is shown as it is)."""
    return str(dict(AuditAction.choices).get(action, action))


# Readable names and formats of the details services write into the audit trail.
_DETAIL_LABELS = {
    "period": _("month"),
    "number": _("number"),
    "counted_messages": _("counted messages"),
    "commission": _("commission"),
    "adjustments_total": _("adjustments"),
    "total": _("total"),
    "checksum": _("checksum"),
    "count": _("adjustments"),
    "format": _("format"),
    "via": _("via"),
    "status": _("state"),
    "invoiced_on": _("invoiced on"),
    "paid_on": _("paid on"),
    "invoice_number": _("invoice number"),
    "recipients": _("recipients"),
    "error": _("error"),
    "matched": _("matched"),
}
_MONEY_DETAILS = {"commission", "adjustments_total", "total"}


def _detail_value(key: str, value) -> str:
    if key in _MONEY_DETAILS:
        try:
            return format_money(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            return str(value)
    if key == "period":
        try:
            return month_label(parse_period(str(value)))
        except ValueError:
            return str(value)
    if key == "checksum":
        return f"{str(value)[:12]}…"
    if key == "status":
        return str(dict(PayoutStatus.choices).get(value, value))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if len(value) <= 5 else f"{len(value)}"
    if isinstance(value, int):
        return count(value)
    return str(value)


@register.filter
def audit_details(detail) -> list[tuple[str, str]]:
    """(label, value) pairs of an audit entry's detail, translated and formatted; lists of
    items (e.g. every adjustment) are summarised."""
    if not isinstance(detail, dict):
        return [("", str(detail))]
    return [
        (str(_DETAIL_LABELS.get(key, key.replace("_", " "))), _detail_value(key, value))
        for key, value in detail.items()
        if key != "adjustments" and value not in ("", None, [])
    ]


def format_rate(value, basis: str, currency: str = "PLN") -> str:
    """A commission rate as the agreement states it: "12,5 %" or "0,0125 zł" (2 to 6 places)."""
    rate = Decimal(value)
    places = min(max(-rate.normalize().as_tuple().exponent, 2), 6)
    if basis == PERCENT_OF_COST:
        return f"{format_amount(rate, places, grouping=False)}\xa0%"
    return f"{format_amount(rate, places)}\xa0{currency_symbol(currency)}"


@register.filter
def rates(obj, basis: str = "") -> list[str]:
    """The rates of an agreement (or of a tier, given the basis) per type: ECO, FULL, MMS, voice."""
    basis = basis or obj.basis
    return [format_rate(getattr(obj, f"rate_{t}"), basis) for t in MESSAGE_TYPES]


@register.filter
def rate(value, basis: str) -> str:
    return "—" if value is None else format_rate(value, basis)
