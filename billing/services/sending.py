"""Sending SMS: validate, write one Message per recipient before the call, send, record the answer.

Idempotency: every Message has a `unique_id` (ours, also given to SerwerSMS). Sending again with
the same `unique_id` sends nothing and returns the first answer; the same id with another phone,
text, sender or account is refused. With several recipients and one given `unique_id`, recipient
n (1-based) gets `<unique_id>-<n>`; with one recipient the id is used as given.

A send that may have reached SerwerSMS but got no answer is never repeated: the message stays
`submitting` and is looked up by its `unique_id` (`resolve_submitting`).
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import (
    Channel,
    ClientAccount,
    EventSource,
    MatchMethod,
    Message,
    MessageType,
    StatusEvent,
    validate_ic,
)
from billing.phones import PhoneError, normalize_phone
from billing.services.statements import request_draft_refresh
from billing.serwersms import client_for, unique_ids
from billing.serwersms.errors import (
    MalformedResponse,
    ServerError,
    SerwerSMSError,
    TransportError,
)
from billing.serwersms.types import ReportItem, SendItem
from billing.sms_text import TextError, TextSize, check_text
from billing.statuses import Outcome, Status, decide

SENDING_CHANNELS = (Channel.API_V2, Channel.XML_API, Channel.EMAIL2SMS)
# FULL sender: up to 11 letters/digits (and a few signs), or a phone number of up to 16 digits.
SENDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .&_-]{0,10}$")
SENDER_NUMBER = re.compile(r"^\+?[0-9]{3,16}$")
EMAIL2SMS_SENDER = re.compile(r"^[A-Za-z0-9 ]{1,11}$")
MAX_RECIPIENTS = 1000


class SendError(ValueError):
    """The send request is invalid; nothing was written and nothing sent."""


class UniqueIdConflict(SendError):
    """The unique_id was already used for a different message."""


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
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _resolve_account(account: ClientAccount | str) -> ClientAccount:
    queryset = ClientAccount.objects.select_related("partner")
    if isinstance(account, ClientAccount):
        found = queryset.filter(pk=account.pk).first()
        name = account.name
    else:
        name = str(account or "").strip()
        found = queryset.filter(name=name).first() if name else None
    if found is None:
        raise SendError(f"Unknown client account {name!r}.")
    if not found.is_active:
        raise SendError(f"Client account {found.name!r} is not active.")
    if not found.partner.is_active:
        raise SendError(f"Partner {found.partner.name!r} of account {found.name!r} is not active.")
    try:
        validate_ic(found.partner.ic)
    except ValidationError:
        raise SendError(
            f"Partner {found.partner.name!r} has ic {found.partner.ic!r},"
            " which is not a positive integer."
        ) from None
    return found


def _check_sender(sender: str | None, channel: str) -> str:
    sender = (sender or "").strip()
    if not sender:
        return ""
    if channel == Channel.EMAIL2SMS:
        # The subject's `nadawca`: at most 11 letters, digits and spaces (serwersms-api.md §6).
        if EMAIL2SMS_SENDER.match(sender) and any(ch.isalpha() for ch in sender):
            return sender
        raise SendError(
            f"Invalid Email2SMS sender name {sender!r}: use at most 11 letters, digits or spaces."
        )
    if SENDER_NUMBER.match(sender):
        return sender
    if SENDER_NAME.match(sender) and any(ch.isalpha() for ch in sender):
        return sender
    raise SendError(
        f"Invalid sender name {sender!r}: use at most 11 letters, digits, spaces or . & _ -"
        " (with at least one letter), or a phone number of up to 16 digits."
    )


def _unique_ids(unique_id: str | None, count: int) -> list[str]:
    """One id per recipient in SerwerSMS's alphabet (rules in billing/serwersms/unique_ids.py)."""
    try:
        return unique_ids.per_recipient(unique_id, count)
    except unique_ids.UniqueIdError as exc:
        raise SendError(str(exc)) from None


def prepare(
    account: ClientAccount | str,
    recipients: Iterable[str] | str,
    text: str,
    sender: str | None = None,
    channel: str = Channel.API_V2,
    unique_id: str | None = None,
) -> SendPlan:
    """Validate everything; SendError with a clear message on the first problem."""
    if channel not in SENDING_CHANNELS:
        choices = ", ".join(SENDING_CHANNELS)
        raise SendError(f"Unknown channel {channel!r}; choose one of {choices}.")
    account = _resolve_account(account)
    if channel == Channel.XML_API and not (account.username and account.password):
        raise SendError(
            f"Account {account.name!r} has no username and password, which the XML API needs."
        )
    if channel == Channel.API_V2 and not (
        account.api_token or (account.username and account.password)
    ):
        raise SendError(f"Account {account.name!r} has no API token or username and password.")
    if channel == Channel.EMAIL2SMS and not (account.email2sms_sender and account.email2sms_key):
        raise SendError(
            f"Account {account.name!r} has no Email2SMS sender address and key, which"
            " SerwerSMS needs to accept its mails."
        )
    if isinstance(recipients, str):
        recipients = [recipients]
    raw = list(recipients or [])
    if not raw:
        raise SendError("Give at least one recipient.")
    if len(raw) > MAX_RECIPIENTS:
        raise SendError(f"At most {MAX_RECIPIENTS} recipients per send.")
    phones = []
    for value in raw:
        try:
            phone = normalize_phone(value, settings.DEFAULT_COUNTRY_REGION)
        except PhoneError as exc:
            raise SendError(str(exc)) from None
        if phone in phones:
            raise SendError(f"{phone} is listed twice; each recipient gets one message.")
        phones.append(phone)
    try:
        size = check_text(text, settings.SERWERSMS_MAX_PARTS)
    except TextError as exc:
        raise SendError(str(exc)) from None
    sender = _check_sender(sender, channel)
    return SendPlan(
        account=account,
        channel=str(channel),
        phones=phones,
        text=text,
        size=size,
        sender=sender,
        message_type=MessageType.FULL if sender else MessageType.ECO,
        unique_ids=_unique_ids(unique_id, len(phones)),
        text_digest=text_digest(text),
        given_unique_id=str(unique_id or "").strip(),
    )


def _existing(plan: SendPlan) -> list[Message] | None:
    """The messages of an earlier identical send, None if new; UniqueIdConflict if it differs."""
    found = {m.unique_id: m for m in Message.objects.filter(unique_id__in=plan.unique_ids)}
    # The given id used before for a send to a different number of recipients?
    other_shape = []
    if plan.given_unique_id:
        other_shape = unique_ids.other_shapes(plan.given_unique_id, len(plan.unique_ids))
    shapes = set(
        Message.objects.filter(unique_id__in=other_shape).values_list("unique_id", flat=True)
    )
    if not found and not (shapes and len(shapes) == len(other_shape)):
        return None
    if len(found) != len(plan.unique_ids):
        raise UniqueIdConflict(
            "This unique id was already used for a different list of recipients."
        )
    messages = [found[uid] for uid in plan.unique_ids]
    for message, phone in zip(messages, plan.phones, strict=True):
        differences = [
            label
            for label, same in (
                ("account", message.account_id == plan.account.pk),
                ("phone", message.phone == phone),
                ("text", message.text_digest == plan.text_digest),
                ("sender", message.sender == plan.sender),
            )
            if not same
        ]
        if differences:
            raise UniqueIdConflict(
                f"Unique id {message.unique_id!r} was already used for a message with a different"
                f" {', '.join(differences)}; use a new unique id."
            )
    return messages


def _event(message: Message, old: str, source: str, note: str = "", at=None) -> StatusEvent:
    return StatusEvent(
        message=message,
        source=source,
        old_status=old,
        new_status=message.status,
        note=note[:255],
        status_at=at,
    )


@transaction.atomic
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
            text=plan.text if settings.STORE_MESSAGE_TEXT else "",
            unicode=plan.size.unicode,
            parts=plan.size.parts,
            status=Status.SUBMITTING,
            created_at=now,
        )
        for unique_id, phone in zip(plan.unique_ids, plan.phones, strict=True)
    ]
    for message in messages:
        message.save()  # save() checks the ic; a handful of rows, so one at a time is fine
    StatusEvent.objects.bulk_create(
        [_event(m, "", EventSource.SEND, "written before the call", now) for m in messages]
    )
    return messages


def send_sms(
    account: ClientAccount | str,
    recipients: Iterable[str] | str,
    text: str,
    sender: str | None = None,
    channel: str = Channel.API_V2,
    unique_id: str | None = None,
) -> list[Message]:
    """Send one text to each recipient through `channel`; one Message per recipient, in order.

    Raises SendError (nothing written, nothing sent) for bad input or a reused unique id that
    does not match. SerwerSMS failures do not raise: they are recorded on the messages
    (`unsent` with the error when nothing was sent, else `submitting` with the error noted).
    """
    plan = prepare(account, recipients, text, sender, channel, unique_id)
    earlier = _existing(plan)
    if earlier is not None:
        return earlier
    try:
        messages = _create(plan, timezone.now())
    except IntegrityError:
        # A concurrent call with the same unique id won the race: answer as it did.
        earlier = _existing(plan)
        if earlier is None:
            raise
        return earlier
    client = client_for(plan.account, plan.channel)
    if plan.channel == Channel.EMAIL2SMS:
        _send_by_mail(client, plan, messages)
    else:
        _send_by_api(client, plan, messages)
    sent = [Message.objects.get(pk=m.pk) for m in messages]
    request_draft_refresh(sent)  # the money side: drafts follow the send answer
    return sent


def _send_by_api(client, plan: SendPlan, messages: list[Message]) -> None:
    utf = plan.size.unicode and plan.message_type == MessageType.FULL
    try:
        if plan.channel == Channel.API_V2:
            items = client.send_sms(
                plan.phones, plan.text, plan.sender or None, plan.unique_ids, utf=utf
            )
        else:
            items = client.send_sms(plan.phones, plan.text, plan.sender or None, plan.unique_ids)
    except SerwerSMSError as exc:
        _after_failed_call(client, messages, exc)
        return
    _record_send_items(messages, items)


def _send_by_mail(client, plan: SendPlan, messages: list[Message]) -> None:
    for message in messages:
        try:
            client.send(message.phone, plan.text, plan.sender or None)
        except SerwerSMSError as exc:
            if exc.may_have_been_sent:
                _note_errors([message], exc)  # no id to look up: a later poll matches phone/time
            else:
                _mark_unsent([message], exc)
            continue
        now = timezone.now()
        item = SendItem(phone=message.phone, status=Status.QUEUED, queued_at=now)
        _record_send_items([message], [item])


def _after_failed_call(client, messages: list[Message], exc: SerwerSMSError) -> None:
    if isinstance(exc, TransportError) and exc.may_have_been_sent:
        # It may have been sent: look it up, never send again; unknown stays submitting.
        _note_errors(messages, exc)
        resolve_submitting_many(messages, client=client)
        return
    if isinstance(exc, ServerError | MalformedResponse):
        # SerwerSMS answered, but not with a readable success: check before calling it unsent.
        _note_errors(messages, exc)
        found = resolve_submitting_many(messages, client=client)
        _mark_unsent([m for m in messages if found[m.pk] == Resolution.NOT_FOUND], exc)
        return
    _mark_unsent(messages, exc)


def _note_errors(messages: Sequence[Message], exc: SerwerSMSError) -> None:
    for message in messages:
        message.reason = str(exc.code)[:64]
        message.error_message = exc.message[:255]
    Message.objects.bulk_update(messages, ["reason", "error_message"])


@transaction.atomic
def _mark_unsent(messages: Sequence[Message], exc: SerwerSMSError) -> None:
    events = []
    for message in messages:
        old = message.status
        if decide(old, Status.UNSENT) != Outcome.APPLY:
            continue
        message.status = Status.UNSENT
        message.reason = str(exc.code)[:64]
        message.error_message = exc.message[:255]
        events.append(_event(message, old, EventSource.SEND, exc.describe()))
    Message.objects.bulk_update(messages, ["status", "reason", "error_message"])
    StatusEvent.objects.bulk_create(events)


@transaction.atomic
def _record_send_items(messages: Sequence[Message], items: Sequence[SendItem]) -> None:
    now = timezone.now()
    events = []
    for message, item in zip(messages, items, strict=True):
        old = message.status
        outcome = decide(old, item.status)
        if outcome == Outcome.APPLY:
            message.status = item.status
        if item.serwersms_id:
            message.serwersms_id = item.serwersms_id
            message.match_method = MatchMethod.SEND
        if item.parts:
            message.parts = item.parts
        if message.status == Status.UNSENT:
            message.reason = (item.error_code or "unsent")[:64]
            message.error_message = item.error_message[:255]
        elif message.status != Status.SUBMITTING:
            message.reason, message.error_message = "", ""
            message.queued_at = item.queued_at or now
            message.dispatched_at = message.queued_at
        note = item.error_message if outcome == Outcome.APPLY else f"{outcome}: {item.status}"
        events.append(
            StatusEvent(
                message=message,
                source=EventSource.SEND,
                old_status=old,
                new_status=item.status,
                applied=outcome == Outcome.APPLY,
                note=note[:255],
                status_at=item.queued_at or now,
            )
        )
    fields = ["status", "serwersms_id", "match_method", "parts", "reason", "error_message"]
    Message.objects.bulk_update(messages, fields + ["queued_at", "dispatched_at"])
    StatusEvent.objects.bulk_create(events)


class Resolution(enum.StrEnum):
    FOUND = "found"  # SerwerSMS has it: the message now carries its id and status
    NOT_FOUND = "not_found"  # SerwerSMS answered and does not know this unique id
    UNKNOWN = "unknown"  # the lookup failed, or the channel cannot look up (Email2SMS)
    NOT_NEEDED = "not_needed"  # the message is no longer submitting


def resolve_submitting(
    message: Message, *, client=None, source: str = EventSource.SEND
) -> Resolution:
    """Find one `submitting` message in SerwerSMS by its unique_id; never sends.

    API v2: `messages/reports` by unique_id; XML API: `sprawdz_sms` by usmsid. Email2SMS has no
    id to look up (the poll pass matches it by phone and time). Unknown stays `submitting`.
    """
    return resolve_submitting_many([message], client=client, source=source)[message.pk]


def resolve_submitting_many(
    messages: Sequence[Message], *, client=None, source: str = EventSource.SEND
) -> dict[int, Resolution]:
    """`resolve_submitting` for messages of one account and channel, in one lookup per batch."""
    results: dict[int, Resolution] = {}
    pending = []
    for message in messages:
        message.refresh_from_db()
        if message.status != Status.SUBMITTING:
            results[message.pk] = Resolution.NOT_NEEDED
        elif message.channel not in (Channel.API_V2, Channel.XML_API):
            results[message.pk] = Resolution.UNKNOWN
        else:
            pending.append(message)
    if not pending:
        return results
    if len({(m.account_id, m.channel) for m in pending}) > 1:
        raise ValueError("resolve_submitting_many takes messages of one account and channel.")
    first = pending[0]
    client = client or client_for(first.account, first.channel)
    try:
        if first.channel == Channel.API_V2:
            # messages/view by unique_id: report items carry no unique_id (serwersms-api.md §3).
            found = client.find_by_unique_ids([m.unique_id for m in pending])
            items = list(found.values())
        else:
            # The XML API has no lookup by usmsid (§4): numbers since the first was written.
            since = min(m.created_at for m in pending) - timedelta(minutes=5)
            phones = sorted({m.phone for m in pending})
            items = client.sprawdz_sms(phones=phones, date_from=since)
    except SerwerSMSError as exc:
        for message in pending:
            message.error_message = f"Lookup failed: {exc.describe()}"[:255]
            results[message.pk] = Resolution.UNKNOWN
        Message.objects.bulk_update(pending, ["error_message"])
        return results
    by_unique_id = {item.unique_id: item for item in items if item.unique_id}
    anonymous = [item for item in items if not item.unique_id]
    for message in pending:
        item = by_unique_id.get(message.unique_id)
        if item is None:
            # An answer that does not echo unique ids: accept a phone that matches only one.
            same = [i for i in anonymous if _same_phone(i.phone, message.phone)]
            rivals = [m for m in pending if _same_phone(message.phone, m.phone)]
            item = same[0] if len(same) == 1 and len(rivals) == 1 else None
        if item is None:
            results[message.pk] = Resolution.NOT_FOUND
        else:
            _apply_report(message, item, source)
            results[message.pk] = Resolution.FOUND
    return results


def _same_phone(answered: str, ours: str) -> bool:
    digits = "".join(ch for ch in answered if ch.isdigit())
    return bool(digits) and ours.lstrip("+").endswith(digits[-9:])


@transaction.atomic
def _apply_report(message: Message, item: ReportItem, source: str) -> None:
    old = message.status
    outcome = decide(old, item.status)
    message.serwersms_id = item.serwersms_id
    message.match_method = MatchMethod.UNIQUE_ID
    message.last_checked_at = timezone.now()
    if outcome == Outcome.APPLY:
        message.status = item.status
        message.queued_at = item.queued_at or message.queued_at
        message.sent_at = item.sent_at or message.sent_at
        message.delivered_at = item.delivered_at or message.delivered_at
        message.dispatched_at = message.sent_at or message.queued_at
        message.parts = item.parts or message.parts
        message.cost = item.cost if item.cost is not None else message.cost
        message.reason = item.reason[:64]
        message.error_message = ""
    message.save()
    StatusEvent.objects.create(
        message=message,
        source=source,
        old_status=old,
        new_status=item.status,
        applied=outcome == Outcome.APPLY,
        note=f"found by unique_id as SerwerSMS id {item.serwersms_id}"[:255],
        status_at=item.sent_at or item.queued_at,
    )
