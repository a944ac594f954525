"""Taking messages: validation of a send as serwersms-api.md §3 describes it, queueing, records.

One `Message` per recipient. A whole-send refusal raises SimulatorError (nothing is kept); a bad
number only makes its own item `unsent` (§8, I), kept so reports can show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import numbers, texts
from .accounts import Account
from .protocol import LIMIT_CODE, PERMISSION_CODE, SimulatorError, format_time
from .schedule import FINAL, fate

UNIQUE_ID = re.compile(r"^[A-Za-z0-9]{3,50}$")  # §3 (C)
SENDER = re.compile(r"^[A-Za-z0-9 ]{1,11}$")  # §6 (C): ≤ 11 letters, digits and spaces
MAX_NUMBERS = 100_000  # §1 (C)
MAX_PERSONALIZED = 10_000  # §1 (C): more personalised messages -> general error, nothing sent
_METHODS = {"api_v2": "api", "xml_api": "xml", "email2sms": "email"}
# §3 (C): reports and view say `in_progress` for a message queued for sending; `queued` is only
# the send answer's word (and the simulator's own record of a message not yet moved on).
REPORTED_STATUS = {"queued": "in_progress"}


class Message:
    """One recipient of one send, as the simulated SerwerSMS keeps it."""

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
        "changed",
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
        """The message as a `messages/reports` item (§3, C: no unique_id is documented there)."""
        return {
            "id": self.id,
            "phone": self.phone,
            "status": REPORTED_STATUS.get(self.status, self.status),
            "queued": format_time(self.queued),
            "sent": format_time(self.sent),
            "delivered": format_time(self.delivered),
            "sender": self.sender or "",
            "type": self.type,
            "text": self.text,
            "flash": bool(self.flash),
            "utf": bool(self.utf),
            "parts": self.parts,
            "cost": float(self.cost) if self.cost is not None else 0.0,
            "method": _METHODS[self.channel],
            "mnc": None,
            "country": "PL" if self.phone.startswith("+48") else None,
            "network": None,
            "reason": self.reason or "",
        }

    def view_item(self) -> dict[str, Any]:
        """§3 (C): `messages/view` answers one unwrapped object with these fields."""
        item = self.report_item()
        keep = ("id", "phone", "status", "queued", "sent", "delivered", "sender", "type", "text")
        return {**{k: item[k] for k in keep}, "reason": item["reason"], "contact": None}

    def record(self) -> dict[str, Any]:
        """The simulator's own record (`GET /_sim/messages`, the state file): all it knows."""
        item = self.report_item()
        item.update(
            status=self.status,  # its own lifecycle word (`queued` until it moves on)
            taken=True,
            unique_id=self.unique_id,
            channel=self.channel,
            ic=self.ic,
            account=self.account,
            cost=None if self.cost is None else str(self.cost),
            scheduled=format_time(self.scheduled),
            changed=format_time(self.changed),
            step=self.step,
        )
        return item


@dataclass
class Recipient:
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
    date: datetime | None = None  # scheduled (status `saved` until then)
    personalized: bool = False


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


def check_unique_ids(values: list[str | None], count: int) -> list[str | None]:
    """§3 (C): a–z A–Z 0–9, 3–50 characters; an array must match the numbers or nothing is sent."""
    given = [v for v in values if v is not None]
    if given and len(values) != count:
        raise SimulatorError(
            1006, f"unique_id must give one id per number: {len(values)} ids, {count} numbers."
        )
    for value in given:
        if not UNIQUE_ID.match(value):
            raise SimulatorError(
                1006, f"unique_id {value!r}: use 3-50 characters a-z, A-Z, 0-9 only."
            )
    return values if given else [None] * count


class SendingMixin:
    """`send`: validate, charge the limit, keep one Message per recipient."""

    def send(self, account: Account, request: SendRequest) -> SendOutcome:
        """Validate and take a send; SimulatorError refuses it whole (nothing kept)."""
        count = len(request.recipients)
        if not count:
            raise SimulatorError(2000, "No phone number given.")
        if count > MAX_NUMBERS or (request.personalized and count > MAX_PERSONALIZED):
            raise SimulatorError(1006, "Too many numbers in one send; nothing was sent.")
        check_unique_ids([r.unique_id for r in request.recipients], count)
        sender = (request.sender or "").strip()
        if sender and sender != "2waySMS" and not SENDER.match(sender):
            raise SimulatorError(1006, f"Invalid sender name {sender!r}.")
        kind_type = {"voice": "voice", "mms": "mms"}.get(request.kind)
        message_type = kind_type or ("full" if sender else "eco")  # §3 (C)
        if message_type in account.denied_types:
            raise SimulatorError(PERMISSION_CODE[message_type])
        if request.flash and "flash" in account.denied_types:
            raise SimulatorError(3008)
        utf = request.utf and message_type == "full"  # §3 (C): utf is FULL only
        checked: list[tuple[Recipient, str | None, int]] = []
        for recipient in request.recipients:
            text = recipient.text or ""
            if not text.strip():
                raise SimulatorError(3101)
            if kind_type:
                parts = 1
            else:
                parts = texts.parts(text, utf=utf, max_parts=self.max_parts)
                if not parts:
                    raise SimulatorError(
                        3102, f"The message is longer than {self.max_parts} parts allow."
                    )
            checked.append((recipient, numbers.normalize(recipient.phone), parts))
        with self.lock:
            needed = sum(parts for _, phone, parts in checked if phone)
            if account.limit is not None and needed > account.limit:
                raise SimulatorError(LIMIT_CODE[message_type])
            now = self.now()
            outcome = SendOutcome(test=request.test)
            for recipient, phone, parts in checked:
                outcome.items.append(
                    self._take(account, request, recipient, phone, parts, message_type, utf, now)
                )
            if not request.test:
                if account.limit is not None:
                    account.limit -= needed
                self.changes += 1
            return outcome

    def _take(
        self,
        account: Account,
        request: SendRequest,
        recipient: Recipient,
        phone: str | None,
        parts: int,
        message_type: str,
        utf: bool,
        now: datetime,
    ) -> dict[str, Any]:
        """Keep one recipient's message; its send-answer item (§3, C)."""
        message_id = None
        if not request.test:
            message_id = format(0xA000000000 + self._next_id, "x")  # 10-char hex-like (I)
            self._next_id += 1
        scheduled = request.date if request.date and request.date > now else None
        if phone is None:
            status, reason = "unsent", "wrong_number"
        else:
            status, reason = ("saved" if scheduled else "queued"), ""
        if message_id is not None:
            message = Message(
                id=message_id,
                account=account.name,
                channel=request.channel,
                ic=request.ic,
                phone=phone or str(recipient.phone),
                text=recipient.text,
                sender=request.sender.strip() if message_type == "full" else "",
                type=message_type,
                parts=parts,
                unique_id=recipient.unique_id,
                status=status,
                queued=now,
                changed=now,
                reason=reason,
                cost=Decimal("0.0000") if status == "unsent" else None,
                flash=request.flash,
                utf=utf,
                scheduled=scheduled,
            )
            self._add(message)
            self._plan(message, now)
        item: dict[str, Any] = {
            "id": message_id,
            "phone": phone or str(recipient.phone),
            "status": "unsent" if status == "unsent" else "queued",  # §3 (C): only these two
            "parts": parts,
            "text": recipient.text,
        }
        if status == "unsent":
            item.update(error_code=2001, error_message="Invalid phone number.")
        else:
            item["queued"] = format_time(now)
        return item

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
