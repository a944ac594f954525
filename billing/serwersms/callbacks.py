"""SerwerSMS delivery-report callbacks: the one place that knows their form field names.

Field names follow the protocol contract in types.py: id, unique_id, phone, status, queued, sent,
delivered, reason, parts, cost; times are "YYYY-MM-DD HH:MM:SS" in Europe/Warsaw.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from .types import ReportItem

# Our name -> SerwerSMS's callback field name.
CALLBACK_FIELDS = {
    "serwersms_id": "id",
    "unique_id": "unique_id",
    "phone": "phone",
    "status": "status",
    "queued_at": "queued",
    "sent_at": "sent",
    "delivered_at": "delivered",
    "reason": "reason",
    "parts": "parts",
    "cost": "cost",
}
SERWERSMS_TIME_ZONE = ZoneInfo("Europe/Warsaw")
EMPTY_TIMES = {"", "0", "null", "0000-00-00 00:00:00"}


class CallbackError(ValueError):
    """A callback that cannot be understood; the message says which field and why."""


def parse_time(value: str | None, field: str = "time") -> datetime | None:
    """SerwerSMS's local time as an aware UTC datetime; empty values are None."""
    if value is None or value.strip() in EMPTY_TIMES:
        return None
    try:
        local = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise CallbackError(f"{field}: expected YYYY-MM-DD HH:MM:SS, got {value!r}") from exc
    return local.replace(tzinfo=SERWERSMS_TIME_ZONE).astimezone(ZoneInfo("UTC"))


def format_time(value: datetime | None) -> str:
    """The inverse of parse_time (tests and the simulator's side of the contract)."""
    return value.astimezone(SERWERSMS_TIME_ZONE).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def parse_callback(data: Mapping[str, str]) -> ReportItem:
    """A callback's form fields as a ReportItem; CallbackError when they do not make one."""

    def get(name: str) -> str:
        return (data.get(CALLBACK_FIELDS[name]) or "").strip()

    serwersms_id, unique_id, status = get("serwersms_id"), get("unique_id"), get("status")
    if not serwersms_id and not unique_id:
        raise CallbackError("id: missing (give the SerwerSMS id or the unique_id)")
    if not status:
        raise CallbackError("status: missing")
    if len(status) > 32 or len(serwersms_id) > 64 or len(unique_id) > 64:
        raise CallbackError("id, unique_id or status: too long")
    parts = None
    if get("parts"):
        try:
            parts = int(get("parts"))
        except ValueError as exc:
            raise CallbackError(f"parts: not a whole number: {get('parts')!r}") from exc
        if not 0 < parts < 1000:
            raise CallbackError(f"parts: out of range: {parts}")
    cost = None
    if get("cost"):
        try:
            cost = Decimal(get("cost").replace(",", "."))
        except InvalidOperation as exc:
            raise CallbackError(f"cost: not a number: {get('cost')!r}") from exc
        if not cost.is_finite() or cost < 0:
            raise CallbackError(f"cost: not a valid amount: {get('cost')!r}")
    return ReportItem(
        serwersms_id=serwersms_id,
        unique_id=unique_id or None,
        phone=get("phone"),
        status=status,
        queued_at=parse_time(get("queued_at"), "queued"),
        sent_at=parse_time(get("sent_at"), "sent"),
        delivered_at=parse_time(get("delivered_at"), "delivered"),
        reason=get("reason")[:64],
        parts=parts,
        cost=cost,
    )
