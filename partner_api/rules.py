"""Small input rules the API checks before it writes anything (pure, no database).

The unique_id rule itself (a-z A-Z 0-9, 3-50 characters) is the protocol's, in
billing/serwersms/unique_ids.py; the API schema publishes its pattern.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from billing.serwersms import unique_ids

UNIQUE_ID_PATTERN = unique_ids.UNIQUE_ID.pattern


def derived_unique_id(account_id: int, idempotency_key: str, index: int) -> str:
    """The unique_id of recipient `index` of a send made with an Idempotency-Key.

    The same key always names the same ids, so a repeated or concurrent request can never send
    twice even before the first answer is stored. 41 characters of SerwerSMS's alphabet.
    """
    seed = f"{account_id}:{idempotency_key}:{index}".encode()
    return "k" + hashlib.sha256(seed).hexdigest()[:40]


# PostgreSQL takes UTC offsets up to 15:59:59 either way; Python's datetime allows up to 23:59,
# which the database would refuse in the query (a DataError): such a time is refused at parsing.
MAX_UTC_OFFSET = dt.timedelta(hours=16)


def utc_offset_problem(value: dt.datetime) -> str:
    """Why the time's UTC offset cannot be stored, or "" when it can (or it has none)."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) >= MAX_UTC_OFFSET:
        return "The UTC offset must be from -15:59 to +15:59."
    return ""
