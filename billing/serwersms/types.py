"""Plain values the SerwerSMS channels return; shared by sending, polling and callbacks.

Protocol contract between our client and the bundled simulator (see serwersms-api.md):
- Times in SerwerSMS answers are "YYYY-MM-DD HH:MM:SS" in Europe/Warsaw local time; the client
  turns them into aware UTC datetimes. Empty string / null / "0000-00-00 00:00:00" means None.
- Delivery-report callbacks: GET or POST form fields `id`, `unique_id`, `phone`, `status`,
  `queued`, `sent`, `delivered`, `reason`, `parts`, `cost` (times formatted as above).
- Email2SMS: one mail per recipient to SERWERSMS_EMAIL2SMS_ADDRESS, From the account's
  `email2sms_sender` (the address registered in the SerwerSMS panel), Subject = the phone in E.164,
  plain-text body = the message text, header `SerwerSMS-Dealer: <ic>`. The simulator knows the
  account by its From address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class SendItem:
    """One recipient of a send call as SerwerSMS answered it."""

    phone: str
    status: str  # "queued" | "unsent"
    serwersms_id: str | None = None
    unique_id: str | None = None
    queued_at: datetime | None = None
    parts: int | None = None
    error_code: str = ""
    error_message: str = ""


@dataclass(frozen=True)
class ReportItem:
    """One message of a `messages/reports` page, an XML `sprawdz_sms` answer or a callback."""

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
