"""The outbox write: `send_sms` validates and writes one `submitting` Message per recipient (the
durable outbox) and queues the send task on commit (enqueue.deliver); delivery.py sends them.

Idempotency: sending again with the same `unique_id` writes nothing and answers the first
messages; the same id with another phone, text or sender is refused. Ids are per client
account, as SerwerSMS scopes them (per recipient: serwersms/unique_ids.py).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import (
    Channel,
    ClientAccount,
    EventSource,
    Message,
    MessageType,
    StatusEvent,
    validate_ic,
)
from billing.phones import PhoneError, normalize_phone
from billing.services import derived, enqueue
from billing.serwersms import email2sms, unique_ids
from billing.sms_text import TextError, TextSize, check_text
from billing.statuses import Status

SENDING_CHANNELS = (Channel.API_V2, Channel.XML_API, Channel.EMAIL2SMS)
# FULL sender: up to 11 letters/digits (and a few signs), or a phone number of up to 16 digits.
SENDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .&_-]{0,10}$")
SENDER_NUMBER = re.compile(r"^\+?[0-9]{3,16}$")
MAX_RECIPIENTS = 1000


class SendError(ValueError):
    """The send request is invalid; nothing was written and nothing sent. `field` names what it
    concerns: account, channel, recipients, text, sender or unique_id."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


class UniqueIdConflict(SendError):
    """The unique_id was already used for a different message."""

    def __init__(self, message: str):
        super().__init__(message, field="unique_id")


@dataclass(frozen=True)
class SendPlan:
    account: ClientAccount
    channel: str
    phones: list[str]
    text: str
    size: TextSize
    sender: str
    message_type: str
    unique_ids: list[str]
    text_digest: str
    given_unique_id: str = ""


def text_digest(text: str) -> str:
    """sha256 of the text as SerwerSMS reports it back (line ends as LF, no surrounding
    blanks): the idempotency check and the Email2SMS match key."""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def _resolve_account(account: ClientAccount | str) -> ClientAccount:
    queryset = ClientAccount.objects.select_related("partner")
    if isinstance(account, ClientAccount):
        found = queryset.filter(pk=account.pk).first()
        name = account.name
    else:
        name = str(account or "").strip()
        found = queryset.filter(name=name).first() if name else None
    if found is None:
        raise SendError(f"Unknown client account {name!r}.", field="account")
    if not found.is_active:
        raise SendError(f"Client account {found.name!r} is not active.", field="account")
    if not found.partner.is_active:
        raise SendError(
            f"Partner {found.partner.name!r} of account {found.name!r} is not active.",
            field="account",
        )
    try:
        validate_ic(found.partner.ic)
    except ValidationError:
        raise SendError(
            f"Partner {found.partner.name!r} has ic {found.partner.ic!r},"
            " which is not a positive integer.",
            field="account",
        ) from None
    return found


def _check_sender(sender: str | None, channel: str) -> str:
    sender = (sender or "").strip()
    if not sender:
        return ""
    has_letter = any(ch.isalpha() for ch in sender)
    if channel == Channel.EMAIL2SMS:
        # The subject's `nadawca`: at most 11 letters, digits and spaces (serwersms-api.md §6).
        if email2sms.SENDER.match(sender) and has_letter:
            return sender
        raise SendError(
            f"Invalid Email2SMS sender name {sender!r}: use at most 11 letters, digits or spaces.",
            field="sender",
        )
    if SENDER_NUMBER.match(sender) or (SENDER_NAME.match(sender) and has_letter):
        return sender
    raise SendError(
        f"Invalid sender name {sender!r}: use at most 11 letters, digits, spaces or . & _ -"
        " (with at least one letter), or a phone number of up to 16 digits.",
        field="sender",
    )


def _unique_ids(unique_id: str | None, each: Sequence[str] | None, count: int) -> list[str]:
    """One id per recipient in SerwerSMS's alphabet (rules in billing/serwersms/unique_ids.py):
    from `unique_id` (or fresh), or `each` given, none twice."""
    try:
        if each is None:
            return unique_ids.per_recipient(unique_id, count)
        each = list(each)
        if len(each) != count:
            raise SendError(
                f"Give one unique id per recipient: {len(each)} ids for {count}.",
                field="unique_id",
            )
        checked = [unique_ids.check_unique_id(value) for value in each]
    except unique_ids.UniqueIdError as exc:
        raise SendError(str(exc), field="unique_id") from None
    if len(set(checked)) != len(checked):
        raise SendError(
            "Each recipient needs its own unique id; one is given twice.", field="unique_id"
        )
    return checked


def prepare(
    account: ClientAccount | str,
    recipients: Iterable[str] | str,
    text: str,
    sender: str | None = None,
    channel: str = Channel.API_V2,
    unique_id: str | None = None,
    *,
    unique_ids: Sequence[str] | None = None,
) -> SendPlan:
    """Validate everything; SendError with a clear message and its field on the first problem."""
    recipients = [recipients] if isinstance(recipients, str) else list(recipients or [])
    if unique_ids is not None and unique_id:
        raise SendError(
            "Give one unique_id for the send or one per recipient, not both.", field="unique_id"
        )
    named = {
        "text": [text],
        "sender": [sender],
        "unique_id": [unique_id, *(unique_ids or [])],
        "account": [getattr(account, "name", account)],
        "recipients": recipients,
    }
    for field, values in named.items():
        if any(isinstance(value, str) and "\x00" in value for value in values):
            raise SendError(
                "NUL characters are not allowed in a message, phone, sender or id.", field=field
            )
    if not isinstance(text, str):
        raise SendError("The text must be a string.", field="text")
    if channel not in SENDING_CHANNELS:
        choices = ", ".join(SENDING_CHANNELS)
        raise SendError(f"Unknown channel {channel!r}; choose one of {choices}.", field="channel")
    account = _resolve_account(account)
    if channel == Channel.XML_API and not (account.username and account.password):
        raise SendError(
            f"Account {account.name!r} has no username and password, which the XML API needs.",
            field="channel",
        )
    if channel == Channel.API_V2 and not (
        account.api_token or (account.username and account.password)
    ):
        raise SendError(
            f"Account {account.name!r} has no API token or username and password.",
            field="channel",
        )
    if channel == Channel.EMAIL2SMS and not (account.email2sms_sender and account.email2sms_key):
        raise SendError(
            f"Account {account.name!r} has no Email2SMS sender address and key, which"
            " SerwerSMS needs to accept its mails.",
            field="channel",
        )
    if not recipients:
        raise SendError("Give at least one recipient.", field="recipients")
    if len(recipients) > MAX_RECIPIENTS:
        raise SendError(f"At most {MAX_RECIPIENTS} recipients per send.", field="recipients")
    phones = []
    for value in recipients:
        try:
            phone = normalize_phone(value, settings.DEFAULT_COUNTRY_REGION)
        except PhoneError as exc:
            raise SendError(str(exc), field="recipients") from None
        if phone in phones:
            raise SendError(
                f"{phone} is listed twice; each recipient gets one message.", field="recipients"
            )
        phones.append(phone)
    try:
        size = check_text(text, settings.SERWERSMS_MAX_PARTS)
    except TextError as exc:
        raise SendError(str(exc), field="text") from None
    sender = _check_sender(sender, channel)
    return SendPlan(
        account=account,
        channel=str(channel),
        phones=phones,
        text=text,
        size=size,
        sender=sender,
        message_type=MessageType.FULL if sender else MessageType.ECO,
        unique_ids=_unique_ids(unique_id, unique_ids, len(phones)),
        text_digest=text_digest(text),
        given_unique_id=str(unique_id or "").strip(),
    )


def _existing(plan: SendPlan) -> list[Message] | None:
    """The messages of an earlier identical send, None if new; UniqueIdConflict if it differs."""
    mine = Message.objects.filter(account=plan.account)
    found = {m.unique_id: m for m in mine.filter(unique_id__in=plan.unique_ids)}
    # The given id used before for a send to a different number of recipients?
    other_shape = []
    if plan.given_unique_id:
        other_shape = unique_ids.other_shapes(plan.given_unique_id, len(plan.unique_ids))
    shapes = set(mine.filter(unique_id__in=other_shape).values_list("unique_id", flat=True))
    if not found and not (shapes and len(shapes) == len(other_shape)):
        return None
    if len(found) != len(plan.unique_ids):
        raise UniqueIdConflict(
            "This unique id was already used for a different list of recipients."
        )
    messages = [found[uid] for uid in plan.unique_ids]
    for message, phone in zip(messages, plan.phones, strict=True):
        compared = {
            "phone": (message.phone, phone),
            "text": (message.text_digest, plan.text_digest),
            "sender": (message.sender, plan.sender),
        }
        differences = [label for label, (stored, asked) in compared.items() if stored != asked]
        if differences:
            raise UniqueIdConflict(
                f"Unique id {message.unique_id!r} was already used for a message with a different"
                f" {', '.join(differences)}; use a new unique id."
            )
    return messages


def _create(plan: SendPlan, now: datetime) -> list[Message]:
    partner = plan.account.partner
    messages = [
        Message(
            partner=partner,
            account=plan.account,
            ic=partner.ic,
            channel=plan.channel,
            unique_id=unique_id,
            phone=phone,
            sender=plan.sender,
            message_type=plan.message_type,
            text_length=len(plan.text),
            text_digest=plan.text_digest,
            text=plan.text,  # the outbox needs it; erased once sent unless STORE_MESSAGE_TEXT
            unicode=plan.size.unicode,
            parts=plan.size.parts,
            status=Status.SUBMITTING,
            created_at=now,
        )
        for unique_id, phone in zip(plan.unique_ids, plan.phones, strict=True)
    ]
    for message in messages:
        message.save()  # save() checks the ic; a handful of rows, so one at a time is fine
    derived.messages_created(messages)  # rollups, late changes, drafts on commit
    StatusEvent.objects.bulk_create(
        [
            StatusEvent(
                message=m,
                source=EventSource.SEND,
                old_status="",
                new_status=Status.SUBMITTING,
                note="written to the outbox",
                status_at=now,
                created_at=now,
            )
            for m in messages
        ]
    )
    return messages


def send_sms(
    account: ClientAccount | str,
    recipients: Iterable[str] | str,
    text: str,
    sender: str | None = None,
    channel: str = Channel.API_V2,
    unique_id: str | None = None,
    *,
    unique_ids: Sequence[str] | None = None,
    wait: float | None = None,
) -> list[Message]:
    """Write one `submitting` Message per recipient and queue their send (on commit); in order.

    Returns the messages as stored, after up to `wait` seconds for a worker; a repeated identical
    call returns the first ones. Raises SendError (nothing written or sent) for bad input or a
    reused unique id that does not match; never for SerwerSMS failures.
    """
    plan = prepare(account, recipients, text, sender, channel, unique_id, unique_ids=unique_ids)
    earlier = _existing(plan)
    if earlier is not None:
        return _wait_for(earlier, wait)
    try:
        with transaction.atomic():
            messages = _create(plan, timezone.now())
            ids = [m.pk for m in messages]
            transaction.on_commit(lambda: enqueue.deliver(ids))
    except IntegrityError:
        # A concurrent call with the same unique id won the race: answer as it did.
        earlier = _existing(plan)
        if earlier is None:
            raise
        return _wait_for(earlier, wait)
    return _wait_for(messages, wait)


def _wait_for(messages: Sequence[Message], wait: float | None) -> list[Message]:
    """The messages re-read, after waiting up to `wait` seconds for them to leave submitting."""
    pks = [m.pk for m in messages]
    deadline = time.monotonic() + (wait or 0)
    while True:
        fresh = Message.objects.in_bulk(pks)
        current = [fresh[pk] for pk in pks]
        if time.monotonic() >= deadline or all(m.status != Status.SUBMITTING for m in current):
            return current
        time.sleep(0.2)
