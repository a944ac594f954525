"""What SerwerSMS's protocols look like on the wire, read from serwersms-api.md alone.

Times, booleans, lists, the error envelope and its documented codes, request-body parsing.
Imports nothing from `billing` or `partner_portal`: the simulator is an independent reading.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

WARSAW = ZoneInfo("Europe/Warsaw")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # §8 (I): times are Warsaw local "YYYY-MM-DD HH:MM:SS"

# §2 (C): the documented error codes, their types and meanings.
ERRORS: dict[int, tuple[str, str]] = {
    1000: ("InvalidAction", "No such action."),
    1001: ("InvalidUser", "Wrong login or password."),
    1002: ("InvalidRole", "The account has no API right."),
    1003: ("InvalidIP", "The IP address is not authorised."),
    1004: ("InvalidID", "Bad id."),
    1005: ("InvalidRole", "No permission."),
    1006: ("InvalidData", "Bad data format."),
    1007: ("InvalidRole", "The account is not fully active."),
    1008: ("InvalidRole", "The account may not view numbers."),
    2000: ("ValidationRequiredError", "A required field is missing."),
    2001: ("ValidationPhoneError", "Invalid phone number."),
    2002: ("ValidationCodeError", "Invalid code."),
    3000: ("SendError", "The ECO+ limit is exhausted."),
    3001: ("SendError", "No permission to send ECO+."),
    3002: ("SendError", "The FULL limit is exhausted."),
    3003: ("SendError", "No permission to send FULL."),
    3004: ("SendError", "The MMS limit is exhausted."),
    3005: ("SendError", "No permission to send MMS."),
    3006: ("SendError", "The VOICE limit is exhausted."),
    3007: ("SendError", "No permission to send VOICE."),
    3008: ("SendError", "No permission to send Flash messages."),
    3009: ("SendError", "No permission to send SMS."),
    3100: ("SendError", "Sending is blocked."),
    3101: ("SendError", "The message is empty."),
    3102: ("SendError", "The message is too long."),
}
# §8 (I): which limit / permission code belongs to which message type.
LIMIT_CODE = {"eco": 3000, "full": 3002, "mms": 3004, "voice": 3006}
PERMISSION_CODE = {"eco": 3001, "full": 3003, "mms": 3005, "voice": 3007}
# §4 (C): the XML API's numeric <Blad> codes for the same situations.
XML_CODES = {1001: 101, 1002: 102, 1007: 103, 1003: 105, 1000: 106, 3000: 1000, 3002: 1002}
XML_CODES.update({3001: 1001, 3003: 1003})
XML_MISSING_LOGIN = 100


class SimulatorError(Exception):
    """A SerwerSMS error answer: a documented code (§2), its type and a message."""

    def __init__(self, code: int, message: str | None = None):
        self.code = code
        self.type, default = ERRORS[code]
        self.message = message or default
        super().__init__(f"{self.type} {code}: {self.message}")

    def as_json(self) -> dict[str, Any]:
        """§2 (C): `{"error": {"code": int, "type": str, "message": str}}`, sent with HTTP 200."""
        return {"error": {"code": self.code, "type": self.type, "message": self.message}}


class ControlError(ValueError):
    """Bad input to the simulator's own `/_sim/` control surface (not SerwerSMS)."""


def format_time(value: datetime | None) -> str | None:
    return value.astimezone(WARSAW).strftime(TIME_FORMAT) if value else None


def parse_time(value: Any, *, end_of_day: bool = False) -> datetime:
    """A "YYYY-MM-DD HH:MM:SS" or "YYYY-MM-DD" Warsaw time as aware UTC; 1006 if not."""
    text = str(value).strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            local = datetime(day.year, day.month, day.day, tzinfo=WARSAW)
            if end_of_day:
                local += timedelta(days=1, microseconds=-1)
        else:
            local = datetime.strptime(text, TIME_FORMAT).replace(tzinfo=WARSAW)
    except ValueError:
        raise SimulatorError(1006, f"{text!r} is not a date (YYYY-MM-DD HH:MM:SS).") from None
    return local.astimezone(UTC)


def parse_ic(value: Any) -> int | None:
    """§7 (C): the ic is a number; None when absent, 1006 when it is not a positive integer."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SimulatorError(1006, "ic must be a positive integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise SimulatorError(1006, "ic must be a positive integer")
    if number <= 0:
        raise SimulatorError(1006, "ic must be a positive integer")
    return number


def loose_ic(value: Any) -> int | str | None:
    """The ic as recorded on a request: an int when it is one, the raw value otherwise."""
    try:
        return parse_ic(value)
    except SimulatorError:
        return str(value)


def as_list(value: Any) -> list[str]:
    """A string (comma-separated) or a list of values as a list of non-empty strings."""
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def as_bool(value: Any) -> bool:
    """§1 (C): booleans come as true, "true" or "1" (Java sends every value as a string)."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def parse_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """§1 (C): query string and body (JSON or form-urlencoded) as one dict; `x[]` keys as lists.

    A JSON body that is not an object is bad data (1006), never a crash.
    """
    params: dict[str, Any] = {}

    def add_form(text: str) -> None:
        for key, values in parse_qs(text, keep_blank_values=True).items():
            if key.endswith("[]"):
                params[key[:-2]] = values
            else:
                params[key] = values[-1]

    add_form(query)
    if not body:
        return params
    if "json" in content_type or body.lstrip()[:1] in (b"{", b"["):
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise SimulatorError(1006, "The request body is not JSON.") from None
        if not isinstance(data, dict):
            raise SimulatorError(1006, "The request body must be a JSON object.")
        params.update(data)
    else:
        try:
            add_form(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise SimulatorError(1006, "The request body is not UTF-8.") from None
    return params
