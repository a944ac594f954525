"""Our `unique_id`s as SerwerSMS takes them (serwersms-api.md §3, C): a–z A–Z 0–9, 3–50 characters,
one per number; a single bad id refuses the whole send, so every id is checked before sending.
"""

from __future__ import annotations

import re
import uuid

UNIQUE_ID = re.compile(r"^[A-Za-z0-9]{3,50}$")
MIN_LENGTH, MAX_LENGTH = 3, 50
# Recipient n of a multi-recipient send with one given id gets `<id>R<n>` (I: our own scheme).
RECIPIENT_MARK = "R"


class UniqueIdError(ValueError):
    """An id SerwerSMS would refuse; the message says why."""


def check_unique_id(value: object) -> str:
    """`value` as a valid id, or UniqueIdError naming the rule."""
    text = str(value or "").strip()
    if not UNIQUE_ID.match(text):
        raise UniqueIdError(
            f"Invalid unique id {text!r}: use {MIN_LENGTH}-{MAX_LENGTH} characters, only letters"
            " a-z, A-Z and digits 0-9 (SerwerSMS refuses anything else)."
        )
    return text


def per_recipient(given: str | None, count: int) -> list[str]:
    """One valid id per recipient: fresh ones, the given id for one recipient, or `<id>R<n>`."""
    if given is None or str(given).strip() == "":
        return [uuid.uuid4().hex for _ in range(count)]  # fresh ids: 32 hex digits
    base = check_unique_id(given)
    if count == 1:
        return [base]
    room = MAX_LENGTH - len(RECIPIENT_MARK) - len(str(count))
    if len(base) > room:
        raise UniqueIdError(
            f"Unique id {base!r} is too long for {count} recipients: each gets a suffix, so use"
            f" at most {room} characters."
        )
    return [f"{base}{RECIPIENT_MARK}{n}" for n in range(1, count + 1)]


def other_shapes(given: str, count: int) -> list[str]:
    """The ids the same given id would have had for a different number of recipients."""
    if count > 1:
        return [given]
    return [f"{given}{RECIPIENT_MARK}1", f"{given}{RECIPIENT_MARK}2"]
