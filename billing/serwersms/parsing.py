"""Turning SerwerSMS's answer values into Python ones (times, numbers) per the types.py contract."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

SERWERSMS_TZ = ZoneInfo("Europe/Warsaw")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_EMPTY_TIMES = {"", "0000-00-00 00:00:00", "0000-00-00", "0", "null", "None"}


def parse_time(value: object) -> datetime | None:
    """SerwerSMS's "YYYY-MM-DD HH:MM:SS" (Europe/Warsaw) as an aware UTC datetime; None if empty.
    Also ISO 8601 with an offset and Unix timestamps, in case an answer uses them; else ValueError.
    """
    text = str(value).strip()
    if text in _EMPTY_TIMES:  # None too
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC) if value else None
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        try:
            moment = datetime.strptime(text, TIME_FORMAT)
        except ValueError:
            moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=SERWERSMS_TZ)
        return moment.astimezone(UTC)
    except (OverflowError, OSError) as exc:  # 0001-01-01 in Warsaw (before year 1 UTC), 1e20
        raise ValueError(f"time out of range: {text!r}") from exc


def format_time(moment: datetime) -> str:
    """An aware datetime as SerwerSMS's local "YYYY-MM-DD HH:MM:SS" (for request filters)."""
    if moment.tzinfo is None:
        raise ValueError("format_time needs an aware datetime.")
    return moment.astimezone(SERWERSMS_TZ).strftime(TIME_FORMAT)


def parse_int(value: object) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValueError(f"Not a number: {value!r}")
    return int(str(value).strip())


def parse_decimal(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        # str() first: a float from JSON must not carry binary noise into money.
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"Not a decimal number: {value!r}") from None


def text_or_empty(value: object) -> str:
    return "" if value is None else str(value)


def id_or_none(value: object) -> str | None:
    return None if value in (None, "") else str(value)
