"""Keyset cursors for the message list: (created_at, id) of the last row, never an OFFSET."""

from __future__ import annotations

import base64
import datetime as dt

from django.db.models import Q

from billing.models import Message

from .schemas import MAX_UTC_OFFSET


def encode_cursor(message: Message) -> str:
    raw = f"{message.created_at.isoformat()}|{message.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Q:
    """The rows after the cursor in (-created_at, -id) order; ValueError if it is not ours."""
    # binascii.Error and UnicodeDecodeError are ValueErrors too.
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    stamp, pk = raw.split("|")
    created_at = dt.datetime.fromisoformat(stamp)
    pk = int(pk)
    offset = created_at.utcoffset()
    if offset is None or abs(offset) >= MAX_UTC_OFFSET or not 1 <= pk <= 2**62:
        raise ValueError("not a cursor")
    return Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk)
