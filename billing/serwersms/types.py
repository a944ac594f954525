"""Plain values the SerwerSMS channels return; shared by sending, polling and callbacks.
Every datetime here is aware UTC (answers' Warsaw times are converted by parsing.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class SendItem:
    """One recipient of a send call as SerwerSMS answered it (`unique_id` only if echoed)."""

    phone: str
    status: str  # "queued" | "unsent" (§3, C)
    serwersms_id: str | None = None
    unique_id: str | None = None
    queued_at: datetime | None = None
    parts: int | None = None
    error_code: str = ""
    error_message: str = ""


@dataclass(frozen=True)
class ReportItem:
    """One message of a `messages/reports` page, `messages/view`, an XML `sprawdz_sms` answer or
    a callback; `unique_id` only when the caller knows it (reports do not carry it, §3)."""

    serwersms_id: str
    phone: str
    status: str  # SerwerSMS's word; may be one we do not know
    unique_id: str | None = None
    queued_at: datetime | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    parts: int | None = None
    cost: Decimal | None = None
    reason: str = ""
    message_type: str | None = None
    sender: str = ""
    text: str = ""  # the message text SerwerSMS reports (Email2SMS matching by digest)
