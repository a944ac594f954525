"""Phone numbers: parse and validate with `phonenumbers`, store and send in E.164."""

from __future__ import annotations

import phonenumbers


class PhoneError(ValueError):
    """Not a valid phone number."""


def normalize_phone(raw: str, region: str = "PL") -> str:
    """The number in E.164 (+48500600700), or PhoneError with a clear message."""
    text = (raw or "").strip()
    if not text:
        raise PhoneError("The phone number is empty.")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"{text!r} is not a phone number: {exc}.") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(f"{text!r} is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
