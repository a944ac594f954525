"""Plain values the SerwerSMS channels return; shared by sending, polling and callbacks.

Protocol contract between our client and the bundled simulator (see serwersms-api.md):
- Times in SerwerSMS answers are "YYYY-MM-DD HH:MM:SS" in Europe/Warsaw local time; the client
  turns them into aware UTC datetimes. Empty string / null / "0000-00-00 00:00:00" means None.
- Delivery-report callbacks: GET or POST form fields `id`, `unique_id`, `phone`, `status`,
  `queued`, `sent`, `delivered`, `reason`, `parts`, `cost` (times formatted as above).
- Email2SMS: one mail per recipient to SERWERSMS_EMAIL2SMS_ADDRESS, From the account's
  `email2sms_sender` (the address registered in the SerwerSMS panel), Subject = the phone in E.164,
  plain-text body = the message text, header `SerwerSMS-Dealer: <ic>`. The simulator knows the
  account by its From address. Email2SMS carries no id back: reports find it by phone and time.
- API v2 errors: JSON `{"success": false, "error": {"code": int, "type": str, "message": str}}`.
  The simulator uses HTTP 401 + type "InvalidCredentials" (code 1001) for bad credentials,
  HTTP 400 + type "ValidationError" (code 2001 phone, 2002 text, 2003 sender, 2004 other input),
  HTTP 402 + type "LimitExhausted" (code 3001) when the account's SMS limit is used up;
  the client treats any non-2xx, a non-JSON body and an `error` object alike as failures.
- XML API (`/zdalnie/index.php`, GET or POST form, `login`, `haslo`, `akcja`): `wyslij_sms`
  answers `<SerwerSMS><Odbiorcy><Skolejkowane><SMS id=".." numer=".." usmsid=".."
  godzina_skolejkowania=".."/>..</Skolejkowane><Niewyslane><SMS numer=".." usmsid=".."
  przyczyna=".."/></Niewyslane></Odbiorcy></SerwerSMS>`; `sprawdz_sms` (by `smsid` or `usmsid`,
  comma-separated) answers `<SerwerSMS><SMS id numer usmsid stan przyczyna godzina_skolejkowania
  godzina_wyslania godzina_doreczenia czesci/>...</SerwerSMS>` with `stan` one of
  skolejkowana, w_trakcie, zaplanowana, wyslana, doreczona, niedoreczona, niewyslana.
  A failure answers `<SerwerSMS><Blad kod="..">reason</Blad></SerwerSMS>` (kod as the API v2 code).
- Simulator control (not SerwerSMS): `POST /_sim/accounts` JSON {token?, username?, password?,
  email?, limit?, callback_url?} registers an account; `GET /_sim/messages`, `GET /_sim/requests`,
  `POST /_sim/advance`, `POST /_sim/faults` JSON {"faults": [names...]} queues faults for the next
  requests (http_500, http_429, slow, drop, accept_then_drop, malformed), `POST /_sim/reset`,
  `GET /_sim/partner_billing.csv?ic=IC&period=YYYY-MM` (columns: id, account, phone, type, parts,
  status, dispatched_at — Europe/Warsaw "YYYY-MM-DD HH:MM:SS" — only counted messages).
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
    text: str = ""  # the message text SerwerSMS reports (Email2SMS matching by digest)
