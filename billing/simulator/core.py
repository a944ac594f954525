"""The simulator's state and rules: accounts, validation, messages, schedule, reports, billing.

Plain Python, no HTTP: the server and the SMTP handler parse their input and call `Simulator`.
Every public method takes the lock, so the threads of the HTTP server, the SMTP server and the
ticker can share one instance.
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import math
import random
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from billing.phones import PhoneError, normalize_phone
from billing.simulator.schedule import Step, fate
from billing.sms_text import TextError, check_text

WARSAW = ZoneInfo("Europe/Warsaw")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

FINAL = frozenset({"delivered", "undelivered", "unsent"})
COUNTED = frozenset({"sent", "delivered", "undelivered"})
PENDING = frozenset({"saved", "queued", "in_progress"})
TYPES = ("eco", "full", "mms", "voice")
PRICE_PER_PART = {
    "eco": Decimal("0.0550"),
    "full": Decimal("0.1600"),
    "mms": Decimal("0.2900"),
    "voice": Decimal("0.1900"),
}
CHANNELS = ("api_v2", "xml_api", "email2sms")
FAULTS = ("http_500", "http_429", "slow", "drop", "accept_then_drop", "malformed")
MAX_REPORT_LIMIT = 500
DEFAULT_REPORT_LIMIT = 100
SENDER_PATTERN = re.compile(r"^[A-Za-z0-9 .\-]{1,11}$")

# Error codes and types of the protocol contract (billing/serwersms/types.py).
ERRORS = {
    1001: ("InvalidCredentials", 401, "Invalid credentials."),
    2001: ("ValidationError", 400, "Invalid phone number."),
    2002: ("ValidationError", 400, "Invalid message text."),
    2003: ("ValidationError", 400, "Invalid sender name."),
    2004: ("ValidationError", 400, "Invalid input."),
    3001: ("LimitExhausted", 402, "The SMS limit of the account is exhausted."),
    4004: ("NotFound", 404, "Not found."),
    5000: ("ServerError", 500, "Internal server error."),
    5029: ("TooManyRequests", 429, "Too many requests."),
}


class SimulatorError(Exception):
    """A SerwerSMS error answer: code, type, HTTP status and message."""

    def __init__(self, code: int, message: str | None = None):
        self.code = code
        self.type, self.http_status, default = ERRORS[code]
        self.message = message or default
        super().__init__(f"{self.type} {code}: {self.message}")

    def as_json(self) -> dict[str, Any]:
        return {
            "success": False,
            "error": {"code": self.code, "type": self.type, "message": self.message},
        }


def format_time(value: datetime | None) -> str | None:
    """SerwerSMS's time format: Europe/Warsaw local "YYYY-MM-DD HH:MM:SS"."""
    return value.astimezone(WARSAW).strftime(TIME_FORMAT) if value else None


def parse_time(value: str, *, end_of_day: bool = False) -> datetime:
    """A "YYYY-MM-DD HH:MM:SS" or "YYYY-MM-DD" Warsaw time as aware UTC; ValidationError if not."""
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
        raise SimulatorError(2004, f"{text!r} is not a date (YYYY-MM-DD HH:MM:SS).") from None
    return local.astimezone(UTC)


def parse_ic(value: Any) -> int | None:
    """The partner id from a request: None when absent, else a positive int or ValidationError."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise SimulatorError(2004, "ic must be a positive integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise SimulatorError(2004, "ic must be a positive integer")
    if number <= 0:
        raise SimulatorError(2004, "ic must be a positive integer")
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
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


@dataclass
class Account:
    name: str
    token: str = ""
    username: str = ""
    password: str = ""
    email: str = ""
    limit: int | None = None  # remaining SMS parts; None = no limit
    callback_url: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "token": self.token,
            "username": self.username,
            "password": self.password,
            "email": self.email,
            "limit": self.limit,
            "callback_url": self.callback_url,
        }


class Message:
    """One recipient of one send."""

    __slots__ = (
        "id",
        "account",
        "channel",
        "ic",
        "phone",
        "text",
        "sender",
        "type",
        "parts",
        "unique_id",
        "status",
        "queued",
        "sent",
        "delivered",
        "reason",
        "cost",
        "flash",
        "utf",
        "scheduled",
        "step",
        "fate",
        "next_due",
    )

    def __init__(self, **values: Any):
        for name in self.__slots__:
            setattr(self, name, values.get(name))
        self.step = self.step or 0

    def report_item(self) -> dict[str, Any]:
        """The message as a `messages/reports` / `messages/view` item."""
        return {
            "id": self.id,
            "phone": self.phone,
            "status": self.status,
            "queued": format_time(self.queued),
            "sent": format_time(self.sent),
            "delivered": format_time(self.delivered),
            "sender": self.sender or "",
            "type": self.type,
            "text": self.text,
            "flash": bool(self.flash),
            "utf": bool(self.utf),
            "parts": self.parts,
            "cost": None if self.cost is None else str(self.cost),
            "method": _METHODS[self.channel],
            "mnc": None,
            "country": "PL" if self.phone.startswith("+48") else None,
            "network": None,
            "reason": self.reason or "",
            "unique_id": self.unique_id,
        }

    def record(self) -> dict[str, Any]:
        """The message as the simulator's own record (`GET /_sim/messages`, the state file)."""
        item = self.report_item()
        item.update(
            channel=self.channel,
            ic=self.ic,
            account=self.account,
            scheduled=format_time(self.scheduled),
            step=self.step,
        )
        return item

    def callback_fields(self) -> dict[str, str]:
        """Delivery-report callback form fields of the contract."""
        return {
            "id": self.id,
            "unique_id": self.unique_id or "",
            "phone": self.phone,
            "status": self.status,
            "queued": format_time(self.queued) or "",
            "sent": format_time(self.sent) or "",
            "delivered": format_time(self.delivered) or "",
            "reason": self.reason or "",
            "parts": str(self.parts or ""),
            "cost": "" if self.cost is None else str(self.cost),
        }


_METHODS = {"api_v2": "api", "xml_api": "xml", "email2sms": "email"}


@dataclass
class Recipient:
    """One recipient of a send request before validation."""

    phone: str
    text: str
    unique_id: str | None = None


@dataclass
class SendRequest:
    """A send as the protocols give it, already split into recipients."""

    recipients: list[Recipient]
    channel: str
    ic: int | None = None
    sender: str = ""
    kind: str = "sms"  # sms | voice | mms
    test: bool = False
    flash: bool = False
    utf: bool = False
    date: datetime | None = None  # scheduled send time (status `saved` until then)


@dataclass
class SendOutcome:
    items: list[dict[str, Any]] = field(default_factory=list)
    test: bool = False

    @property
    def queued(self) -> int:
        return sum(1 for item in self.items if item["status"] == "queued")

    @property
    def unsent(self) -> int:
        return sum(1 for item in self.items if item["status"] == "unsent")


class Simulator:
    """All of the simulated SerwerSMS: accounts, messages, their schedule, faults, records."""

    def __init__(
        self,
        *,
        seed: int = 0,
        fault_rate: float = 0.0,
        speed: float = 1.0,
        max_parts: int = 6,
        slow_seconds: float = 20.0,
    ):
        if speed < 0:
            raise ValueError("speed must be 0 (manual) or positive")
        if not 0 <= fault_rate <= 1:
            raise ValueError("fault_rate must be between 0 and 1")
        self.seed = seed
        self.fault_rate = fault_rate
        self.speed = speed
        self.max_parts = max_parts
        self.slow_seconds = slow_seconds
        self.lock = threading.RLock()
        self.frozen_now: datetime | None = None
        self.listeners: list[Callable[[Account, Message], None]] = []
        self.changes = 0  # bumped on every change; the state saver watches it
        self.accounts: list[Account] = []
        self._clear_messages()

    # --- time -----------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.frozen_now or datetime.now(UTC)

    def set_now(self, value: datetime | None) -> None:
        """Freeze the simulator's clock at `value` (None: real time again)."""
        with self.lock:
            self.frozen_now = value.astimezone(UTC) if value else None

    # --- accounts -------------------------------------------------------------------------

    def register_account(self, data: dict[str, Any]) -> Account:
        """Create an account, or update the one with the same name, token, username or email."""
        allowed = {"name", "token", "username", "password", "email", "limit", "callback_url"}
        unknown = set(data) - allowed
        if unknown:
            raise SimulatorError(2004, f"Unknown account fields: {', '.join(sorted(unknown))}.")
        values = {k: ("" if v is None else v) for k, v in data.items() if k != "limit"}
        for key, value in values.items():
            if not isinstance(value, str):
                raise SimulatorError(2004, f"{key} must be a string.")
        limit = data.get("limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise SimulatorError(2004, "limit must be an integer or null.")
        if not values.get("token") and not (values.get("username") and values.get("password")):
            if not values.get("email") and not self._find_account(values):
                raise SimulatorError(
                    2004, "An account needs a token, a username and password, or an email."
                )
        with self.lock:
            account = self._find_account(values)
            if account is None:
                name = (
                    values.get("name")
                    or values.get("username")
                    or values.get("email")
                    or f"token-{values.get('token', '')[:8]}"
                )
                account = Account(name=name)
                self.accounts.append(account)
            for key, value in values.items():
                setattr(account, key, value)
            if "limit" in data:
                account.limit = limit
            self.changes += 1
            return account

    def _find_account(self, values: dict[str, Any]) -> Account | None:
        for account in self.accounts:
            for key, attr in (
                ("name", "name"),
                ("token", "token"),
                ("username", "username"),
                ("email", "email"),
            ):
                if values.get(key) and getattr(account, attr) == values[key]:
                    return account
        return None

    def authenticate(
        self, token: str | None = None, username: str | None = None, password: str | None = None
    ) -> Account:
        with self.lock:
            for account in self.accounts:
                if token and account.token and account.token == token:
                    return account
                if (
                    username
                    and password
                    and account.username == username
                    and account.password == password
                ):
                    return account
        raise SimulatorError(1001)

    def account_by_email(self, email: str) -> Account | None:
        wanted = (email or "").strip().lower()
        with self.lock:
            for account in self.accounts:
                if account.email and account.email.lower() == wanted:
                    return account
        return None

    def account_named(self, name: str) -> Account | None:
        with self.lock:
            return next((a for a in self.accounts if a.name == name), None)

    # --- sending --------------------------------------------------------------------------

    def send(self, account: Account, request: SendRequest) -> SendOutcome:
        """Validate and queue a send; ValidationError/LimitExhausted refuse it whole.

        A call with one recipient answers a bad phone or text with a ValidationError. A call with
        several recipients marks the bad ones `unsent` (error_code, error_message) and queues the
        rest; those unsent items get no id and are not kept.
        """
        if not request.recipients:
            raise SimulatorError(2001, "No phone number given.")
        sender = (request.sender or "").strip()
        if sender and not SENDER_PATTERN.match(sender):
            raise SimulatorError(
                2003,
                f"Invalid sender name {sender!r}: at most 11 letters, digits, spaces, '.' or '-'.",
            )
        kind_type = {"voice": "voice", "mms": "mms"}.get(request.kind)
        message_type = kind_type or ("full" if sender else "eco")
        single = len(request.recipients) == 1
        checked: list[tuple[Recipient, str | None, int, SimulatorError | None]] = []
        for recipient in request.recipients:
            try:
                phone = normalize_phone(recipient.phone)
            except PhoneError as exc:
                error = SimulatorError(2001, str(exc))
                if single:
                    raise error from None
                checked.append((recipient, None, 0, error))
                continue
            if kind_type:
                parts, error = 1, None
                if request.kind == "voice" and not (recipient.text or "").strip():
                    error = SimulatorError(2002, "A voice message needs a text or a file_id.")
            else:
                try:
                    parts, error = check_text(recipient.text, self.max_parts).parts, None
                except TextError as exc:
                    parts, error = 0, SimulatorError(2002, str(exc))
            if error is not None and single:
                raise error
            checked.append((recipient, phone, parts, error))

        with self.lock:
            needed = sum(parts for _, _, parts, error in checked if error is None)
            if account.limit is not None and needed > account.limit:
                raise SimulatorError(
                    3001,
                    f"The SMS limit of the account is exhausted: {needed} parts needed,"
                    f" {account.limit} left.",
                )
            now = self.now()
            outcome = SendOutcome(test=request.test)
            for recipient, phone, parts, error in checked:
                if error is not None:
                    outcome.items.append(
                        {
                            "id": None,
                            "phone": phone or recipient.phone,
                            "status": "unsent",
                            "queued": None,
                            "parts": parts or None,
                            "error_code": error.code,
                            "error_message": error.message,
                            "text": recipient.text,
                            "unique_id": recipient.unique_id,
                        }
                    )
                    continue
                message_id = None
                if not request.test:
                    message = self._queue(account, request, recipient, phone, parts, message_type)
                    message_id = message.id
                outcome.items.append(
                    {
                        "id": message_id,
                        "phone": phone,
                        "status": "queued",
                        "queued": format_time(now),
                        "parts": parts,
                        "error_code": None,
                        "error_message": None,
                        "text": recipient.text,
                        "unique_id": recipient.unique_id,
                    }
                )
            if not request.test and account.limit is not None:
                account.limit -= needed
            if not request.test:
                self.changes += 1
            return outcome

    def _queue(
        self,
        account: Account,
        request: SendRequest,
        recipient: Recipient,
        phone: str,
        parts: int,
        message_type: str,
    ) -> Message:
        now = self.now()
        message_id = format(0xA000000000 + self._next_id, "x")
        self._next_id += 1
        scheduled = request.date if request.date and request.date > now else None
        message = Message(
            id=message_id,
            account=account.name,
            channel=request.channel,
            ic=request.ic,
            phone=phone,
            text=recipient.text,
            sender=request.sender.strip() if message_type == "full" else "",
            type=message_type,
            parts=parts,
            unique_id=recipient.unique_id,
            status="saved" if scheduled else "queued",
            queued=now,
            flash=request.flash,
            utf=request.utf,
            scheduled=scheduled,
        )
        self._add(message)
        self._plan(message, now)
        return message

    def _add(self, message: Message) -> None:
        self.messages[message.id] = message
        self._by_account.setdefault(message.account, []).append(message.id)
        self._by_phone.setdefault((message.account, message.phone), []).append(message.id)
        if message.unique_id:
            key = (message.account, message.unique_id)
            self._by_unique_id.setdefault(key, []).append(message.id)
        if message.ic is not None:
            self._by_ic.setdefault(message.ic, []).append(message.id)
        if message.status not in FINAL:
            self._active[message.id] = None
            message.fate = fate(self.seed, message.id)

    # --- schedule -------------------------------------------------------------------------

    def _plan(self, message: Message, now: datetime) -> None:
        """Put the message's next step on the timer (none when the speed is 0: manual only)."""
        message.next_due = None
        if message.status in FINAL:
            return
        if message.status == "saved":
            due = message.scheduled.timestamp()
        elif self.speed > 0:
            due = now.timestamp() + message.fate[message.step].delay / self.speed
        else:
            return
        message.next_due = due
        heapq.heappush(self._timer, (due, message.id))

    def _step(self, message: Message, now: datetime) -> None:
        """Move `message` one step along its fate and tell the listeners."""
        if message.status == "saved":
            message.status = "queued"
            message.queued = now
        else:
            step: Step = message.fate[message.step]
            message.step += 1
            message.status = step.status
            message.reason = step.reason
            if step.status == "sent":
                message.sent = now
                message.cost = PRICE_PER_PART[message.type] * message.parts
            elif step.status in ("delivered", "undelivered"):
                message.delivered = now if step.status == "delivered" else None
            elif step.status == "unsent":
                message.cost = Decimal("0.0000")
                account = self.account_named(message.account)
                if account is not None and account.limit is not None:
                    account.limit += message.parts  # SerwerSMS does not charge unsent messages
        if message.status in FINAL:
            self._active.pop(message.id, None)
        self._plan(message, now)
        self.changes += 1
        account = self.account_named(message.account)
        if account is not None:
            for listener in self.listeners:
                listener(account, message)

    def tick(self) -> int:
        """Apply every step whose time has come; the number of steps applied."""
        applied = 0
        with self.lock:
            now = self.now()
            stamp = now.timestamp()
            while self._timer and self._timer[0][0] <= stamp:
                due, message_id = heapq.heappop(self._timer)
                message = self.messages.get(message_id)
                if message is None or message.next_due != due:
                    continue  # stale entry: deleted, or moved on by advance()
                self._step(message, now)
                applied += 1
        return applied

    def advance(self, steps: int = 1, to_final: bool = False) -> int:
        """Move every unfinished message `steps` steps (or to its final status) at once."""
        if steps < 1 and not to_final:
            raise SimulatorError(2004, "steps must be at least 1.")
        applied = 0
        with self.lock:
            now = self.now()
            rounds = itertools.count() if to_final else range(steps)
            for _ in rounds:
                if not self._active:
                    break
                for message_id in list(self._active):
                    self._step(self.messages[message_id], now)
                    applied += 1
        return applied

    # --- reading --------------------------------------------------------------------------

    def reports(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        """A `messages/reports` answer: filters, paging, only `account`'s messages."""
        ids = as_list(params.get("id"))
        if len(ids) > MAX_REPORT_LIMIT:
            raise SimulatorError(2004, f"At most {MAX_REPORT_LIMIT} ids per call, got {len(ids)}.")
        unique_ids = as_list(params.get("unique_id"))
        if len(unique_ids) > MAX_REPORT_LIMIT:
            raise SimulatorError(2004, f"At most {MAX_REPORT_LIMIT} unique_ids per call.")
        phones = as_list(params.get("phone"))
        page = _positive_int(params.get("page"), "page", 1)
        limit = min(_positive_int(params.get("limit"), "limit", DEFAULT_REPORT_LIMIT), 500)
        order = str(params.get("order") or "asc").lower()
        if order not in ("asc", "desc"):
            raise SimulatorError(2004, "order must be asc or desc.")
        status = str(params.get("status") or "").lower()
        if status and status not in {"delivered", "undelivered", "pending", "sent", "unsent"}:
            raise SimulatorError(2004, f"Unknown status filter {status!r}.")
        wanted_type = str(params.get("type") or "").lower()
        if wanted_type and wanted_type not in TYPES:
            raise SimulatorError(2004, f"Unknown type filter {wanted_type!r}.")
        date_from = parse_time(params["date_from"]) if params.get("date_from") else None
        date_to = parse_time(params["date_to"], end_of_day=True) if params.get("date_to") else None
        with self.lock:
            candidates = self._candidates(account, ids, unique_ids, phones)
            selected = [
                m
                for m in candidates
                if (not status or _status_matches(m.status, status))
                and (not wanted_type or m.type == wanted_type)
                and (date_from is None or m.queued >= date_from)
                and (date_to is None or m.queued <= date_to)
            ]
            selected.sort(key=lambda m: (m.queued, m.id), reverse=order == "desc")
            start = (page - 1) * limit
            items = [m.report_item() for m in selected[start : start + limit]]
        return {"paging": {"page": page, "count": math.ceil(len(selected) / limit)}, "items": items}

    def _candidates(
        self, account: Account, ids: list[str], unique_ids: list[str], phones: list[str]
    ) -> list[Message]:
        if ids:
            found = (self.messages.get(i) for i in dict.fromkeys(ids))
            pool = [m for m in found if m is not None and m.account == account.name]
        elif unique_ids:
            pool = self._lookup(self._by_unique_id, account, unique_ids)
        elif phones:
            pool = self._lookup(self._by_phone, account, [_normal(p) for p in phones])
        else:
            pool = [self.messages[i] for i in self._by_account.get(account.name, ())]
            pool = [m for m in pool if m is not None]
        if ids and unique_ids:
            wanted = set(unique_ids)
            pool = [m for m in pool if m.unique_id in wanted]
        if (ids or unique_ids) and phones:
            wanted = {_normal(p) for p in phones}
            pool = [m for m in pool if m.phone in wanted]
        return pool

    def _lookup(self, index: dict, account: Account, keys: Iterable[str]) -> list[Message]:
        seen: dict[str, Message] = {}
        for key in keys:
            for message_id in index.get((account.name, key), ()):
                message = self.messages.get(message_id)
                if message is not None:
                    seen[message_id] = message
        return list(seen.values())

    def view(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        ids, unique_ids = as_list(params.get("id")), as_list(params.get("unique_id"))
        if not ids and not unique_ids:
            raise SimulatorError(2004, "Give id or unique_id.")
        with self.lock:
            found = self._candidates(account, ids[:1], unique_ids[:1], [])
            if not found:
                raise SimulatorError(4004, "No such message.")
            return found[-1].report_item()

    def delete(self, account: Account, params: dict[str, Any]) -> dict[str, Any]:
        """Remove scheduled (`saved`) messages by id or unique_id."""
        ids, unique_ids = as_list(params.get("id")), as_list(params.get("unique_id"))
        if not ids and not unique_ids:
            raise SimulatorError(2004, "Give id or unique_id.")
        with self.lock:
            found = self._candidates(account, ids, [], []) if ids else []
            found += self._candidates(account, [], unique_ids, []) if unique_ids else []
            removable = [m for m in found if m.status == "saved"]
            if not removable:
                raise SimulatorError(4004, "No scheduled message to delete.")
            for message in removable:
                self.messages.pop(message.id, None)
                self._active.pop(message.id, None)
                self._by_account[message.account].remove(message.id)
                account_limit = self.account_named(message.account)
                if account_limit is not None and account_limit.limit is not None:
                    account_limit.limit += message.parts
            self.changes += 1
        return {"success": True, "deleted": len(removable)}

    def limits(self, account: Account) -> dict[str, Any]:
        value = account.limit if account.limit is not None else 999999
        return {
            "items": [
                {"type": "eco", "chars_limit": 153 * self.max_parts, "value": value},
                {"type": "full", "chars_limit": 153 * self.max_parts, "value": value},
                {"type": "mms", "chars_limit": 0, "value": value},
                {"type": "voice", "chars_limit": 0, "value": value},
            ]
        }

    def find(self, account: Account, ids: list[str], unique_ids: list[str], phones: list[str]):
        """Messages of `account` by id, unique_id or phone (XML `sprawdz_sms`)."""
        with self.lock:
            return sorted(
                self._candidates(account, ids, unique_ids, phones), key=lambda m: (m.queued, m.id)
            )

    # --- records --------------------------------------------------------------------------

    def record_request(
        self, action: str, channel: str, method: str, ic: Any = None, **extra: Any
    ) -> dict[str, Any]:
        entry = {
            "action": action,
            "channel": channel,
            "ic": loose_ic(ic),
            "method": method,
            "at": format_time(self.now()),
            **extra,
        }
        with self.lock:
            self.requests.append(entry)
        return entry

    def message_records(self, **filters: Any) -> list[dict[str, Any]]:
        """Every message as a record; optional exact filters on record fields (ic, account...)."""
        with self.lock:
            records = [m.record() for m in self.messages.values()]
        for key, value in filters.items():
            records = [r for r in records if str(r.get(key)) == str(value)]
        return records

    def billing_csv(self, ic: int, period: str) -> str:
        """What SerwerSMS billed for `ic` in `period` (YYYY-MM): counted messages by dispatch."""
        match = re.fullmatch(r"(\d{4})-(\d{2})", period or "")
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise SimulatorError(2004, "period must be YYYY-MM.")
        year, month = int(match.group(1)), int(match.group(2))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "account", "phone", "type", "parts", "status", "dispatched_at"])
        with self.lock:
            rows = []
            for message_id in self._by_ic.get(ic, ()):
                message = self.messages.get(message_id)
                if message is None or message.status not in COUNTED:
                    continue
                dispatched = (message.sent or message.queued).astimezone(WARSAW)
                if (dispatched.year, dispatched.month) != (year, month):
                    continue
                rows.append((dispatched, message))
        rows.sort(key=lambda row: (row[0], row[1].id))
        for dispatched, m in rows:
            writer.writerow(
                [m.id, m.account, m.phone, m.type, m.parts, m.status, format_time(dispatched)]
            )
        return out.getvalue()

    # --- faults ---------------------------------------------------------------------------

    def queue_faults(self, names: list[str], slow_seconds: float | None = None) -> None:
        unknown = [n for n in names if n not in FAULTS]
        if unknown:
            raise SimulatorError(2004, f"Unknown faults: {', '.join(unknown)}.")
        with self.lock:
            self._faults.extend(names)
            if slow_seconds is not None:
                self.slow_seconds = float(slow_seconds)

    def next_fault(self) -> str | None:
        """The fault for this API/XML request: a queued one, else a random one (fault rate)."""
        with self.lock:
            if self._faults:
                return self._faults.pop(0)
            if self.fault_rate and self._fault_random.random() < self.fault_rate:
                return self._fault_random.choice(FAULTS)
        return None

    # --- lifecycle ------------------------------------------------------------------------

    def _clear_messages(self) -> None:
        self.messages: dict[str, Message] = {}
        self._by_account: dict[str, list[str]] = {}
        self._by_phone: dict[tuple[str, str], list[str]] = {}
        self._by_unique_id: dict[tuple[str, str], list[str]] = {}
        self._by_ic: dict[int, list[str]] = {}
        self._active: dict[str, None] = {}  # unfinished messages, in sending order
        self._timer: list[tuple[float, str]] = []
        self._next_id = 1
        self._faults: list[str] = []
        self._fault_random = random.Random(f"{self.seed}:faults")
        self.requests: list[dict[str, Any]] = []

    def reset(self, accounts: bool = False) -> None:
        """Forget messages, requests and queued faults (and the accounts, when asked)."""
        with self.lock:
            self._clear_messages()
            if accounts:
                self.accounts = []
            self.frozen_now = None
            self.changes += 1

    def dump_state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "seed": self.seed,
                "next_id": self._next_id,
                "accounts": [a.as_json() for a in self.accounts],
                "messages": [m.record() for m in self.messages.values()],
            }

    def load_state(self, state: dict[str, Any]) -> None:
        """Reload accounts and messages saved by dump_state (a restarted demo keeps its history)."""
        with self.lock:
            self._clear_messages()
            self.accounts = [Account(**a) for a in state.get("accounts", [])]
            self._next_id = int(state.get("next_id", 1))
            now = self.now()
            for record in state.get("messages", []):
                message = Message(
                    id=record["id"],
                    account=record["account"],
                    channel=record["channel"],
                    ic=record["ic"],
                    phone=record["phone"],
                    text=record["text"],
                    sender=record["sender"],
                    type=record["type"],
                    parts=record["parts"],
                    unique_id=record["unique_id"],
                    status=record["status"],
                    queued=_load_time(record["queued"]),
                    sent=_load_time(record["sent"]),
                    delivered=_load_time(record["delivered"]),
                    reason=record["reason"],
                    cost=None if record["cost"] is None else Decimal(record["cost"]),
                    flash=record["flash"],
                    utf=record["utf"],
                    scheduled=_load_time(record.get("scheduled")),
                    step=record.get("step", 0),
                )
                self._add(message)
                if message.status not in FINAL:
                    self._plan(message, now)


def _load_time(value: str | None) -> datetime | None:
    return parse_time(value) if value else None


def _positive_int(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SimulatorError(2004, f"{name} must be a positive integer.") from None
    if number < 1:
        raise SimulatorError(2004, f"{name} must be a positive integer.")
    return number


def _status_matches(status: str, wanted: str) -> bool:
    return status in PENDING if wanted == "pending" else status == wanted


def _normal(phone: str) -> str:
    try:
        return normalize_phone(phone)
    except PhoneError:
        return phone
