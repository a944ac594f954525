"""Sending SMS through an outbox: `send_sms` writes, the send task (`deliver`) calls SerwerSMS.

`send_sms` validates and writes one `submitting` Message per recipient; the send task is queued
when that transaction commits, and beat's `resume_sends` queues it again for any message left
`submitting` with no worker on it (a crash between commit and queueing, a killed worker), so
the rows themselves are the durable outbox. `deliver` is idempotent by unique_id: it claims the
messages with a lease, and before sending again it looks up every message whose earlier call
may have reached SerwerSMS, at `settle_times` (past the client timeout, then over a window), and
sends it again only when none of those look-ups found it. The one retry policy
(serwersms/retry.py) paces the attempts until SERWERSMS_SEND_DEADLINE_SECONDS; only SerwerSMS's
definite refusal, or the deadline passing with SerwerSMS surely not having the message, makes it
unsent. Every status change goes through status_updates.apply_status_changes.

Idempotency: sending again with the same `unique_id` writes nothing and answers the first
messages; the same id with another phone, text or sender is refused. Ids are per client
account, as SerwerSMS scopes them: another account's use of an id is no concern of this one.
With several recipients and one given `unique_id`, recipient n (1-based) gets `<unique_id>-<n>`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from billing import log_context
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
from billing.services import derived
from billing.services.status_updates import StatusChange, apply_status_changes
from billing.serwersms import client_for, unique_ids
from billing.serwersms.errors import SerwerSMSError
from billing.serwersms.retry import (
    Disposition,
    SettleFirst,
    disposition,
    limited_client,
    policy,
    throttle,
)
from billing.serwersms.types import ReportItem, SendItem
from billing.sms_text import TextError, TextSize, check_text
from billing.statuses import Status

logger = logging.getLogger(__name__)

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


def normalized_text(text: str) -> str:
    """The text as SerwerSMS reports it back: line ends as LF, no surrounding blanks."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def text_digest(text: str) -> str:
    """sha256 of the normalized text: the idempotency check and the Email2SMS match key."""
    return hashlib.sha256(normalized_text(text).encode("utf-8")).hexdigest()


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


def _each_unique_id(given: Sequence[str], count: int) -> list[str]:
    """One given id per recipient, each in SerwerSMS's alphabet, none twice."""
    given = list(given)
    if len(given) != count:
        raise SendError(f"Give one unique id per recipient: {len(given)} ids for {count}.")
    try:
        checked = [unique_ids.check_unique_id(value) for value in given]
    except unique_ids.UniqueIdError as exc:
        raise SendError(str(exc)) from None
    if len(set(checked)) != len(checked):
        raise SendError("Each recipient needs its own unique id; one is given twice.")
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
    """Validate everything; SendError with a clear message on the first problem.

    `unique_ids` gives each recipient its own id (instead of one `unique_id` for all)."""
    if not isinstance(recipients, str):
        recipients = list(recipients or [])
    if unique_ids is not None and unique_id:
        raise SendError("Give one unique_id for the send or one per recipient, not both.")
    texts = [text, sender, unique_id, getattr(account, "name", account), *(unique_ids or [])]
    texts += [recipients] if isinstance(recipients, str) else recipients
    if any(isinstance(t, str) and "\x00" in t for t in texts):
        raise SendError("NUL characters are not allowed in a message, phone, sender or id.")
    if not isinstance(text, str):
        raise SendError("The text must be a string.")
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
        unique_ids=(
            _each_unique_id(unique_ids, len(phones))
            if unique_ids is not None
            else _unique_ids(unique_id, len(phones))
        ),
        text_digest=text_digest(text),
        given_unique_id=str(unique_id or "").strip(),
    )


def _existing(plan: SendPlan) -> list[Message] | None:
    """The messages of an earlier identical send, None if new; UniqueIdConflict if it differs."""
    # unique_ids are per client account, as SerwerSMS scopes them: another account's are not ours.
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
        differences = [
            label
            for label, same in (
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


def _queue_send_task(message_ids: list[int]) -> None:
    from billing import tasks

    tasks.deliver_messages.delay(message_ids)


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
    """Write one `submitting` Message per recipient and queue their send; in order.

    The rows and the queued task are one transaction (the task is queued on commit; beat's
    `resume_sends` queues it again if that was lost). Returns the messages as stored: still
    `submitting` unless `wait` seconds were given and a worker finished sooner (then `queued`,
    or `unsent` with the reason). Raises SendError (nothing written, nothing sent) for bad input
    or a reused unique id that does not match; a repeated identical call returns the first
    messages and queues nothing new. SerwerSMS failures never raise here. `unique_ids` gives
    each recipient its own id (the HTTP API's per-recipient ids), instead of `unique_id`.
    """
    plan = prepare(account, recipients, text, sender, channel, unique_id, unique_ids=unique_ids)
    earlier = _existing(plan)
    if earlier is not None:
        return _wait_for(earlier, wait)
    try:
        with transaction.atomic():
            messages = _create(plan, timezone.now())
            ids = [m.pk for m in messages]
            transaction.on_commit(lambda: _queue_send_task(ids))
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
        pending = any(m.status == Status.SUBMITTING for m in current)
        if not pending or time.monotonic() >= deadline:
            return current
        time.sleep(0.2)


# --- the send task's work --------------------------------------------------------------------


@dataclass
class DeliverySummary:
    claimed: int = 0
    busy: int = 0  # held by another worker, or already settled
    settled: int = 0  # no longer submitting at the end


def _lease_seconds() -> float:
    """How long a claim holds: longer than one attempt (look-up, pause, send) can take."""
    return (
        3 * settings.SERWERSMS_TIMEOUT + settings.SERWERSMS_RETRY_MAX_SECONDS + _settle_gap() + 30
    )


def _claim(pks: Sequence[int], token: str) -> list[Message]:
    """Take (or renew) the lease on those still `submitting` that no other worker holds."""
    now = timezone.now()
    Message.objects.filter(pk__in=pks, status=Status.SUBMITTING).filter(
        Q(send_claim="") | Q(send_claimed_until__lt=now) | Q(send_claim=token)
    ).update(send_claim=token, send_claimed_until=now + timedelta(seconds=_lease_seconds()))
    return list(
        Message.objects.select_related("account__partner")
        .filter(pk__in=pks, status=Status.SUBMITTING, send_claim=token)
        .order_by("pk")
    )


def _release(pks: Sequence[int], token: str) -> None:
    """Free the messages; one still `submitting` is queued again by `resume_sends` later."""
    Message.objects.filter(pk__in=pks, send_claim=token).update(
        send_claim="", send_claimed_until=timezone.now() + _resume_after()
    )


def _resume_after() -> timedelta:
    return timedelta(seconds=settings.OUTBOX_RESUME_AFTER_SECONDS)


def deliver(message_ids: Sequence[int], *, sleep=time.sleep) -> DeliverySummary:
    """Send (or finish sending) these messages: the body of the send task. Safe to repeat.

    Messages another worker holds, or no longer `submitting`, are left alone. Returns when every
    claimed message is settled, or when the retry policy gave up for now (the message stays
    `submitting` and `resume_sends` brings it back).
    """
    token = uuid.uuid4().hex
    log_context.bind_messages(message_ids)
    summary = DeliverySummary()
    claimed = _claim(list(message_ids), token)
    summary.claimed = len(claimed)
    summary.busy = len(set(message_ids)) - len(claimed)
    # One call sends one text: a task may carry messages of several sends (resume_sends
    # groups the outbox by account), and each send's messages go in calls of their own.
    groups: dict[tuple, list[int]] = {}
    for message in claimed:
        same_call = (
            message.account_id,
            message.channel,
            message.text_digest,
            message.sender,
            message.unicode,
        )
        groups.setdefault(same_call, []).append(message.pk)
    try:
        for pks in groups.values():
            try:
                _deliver_group(pks, token, sleep=sleep)
            except Exception as exc:  # the policy gave up for now: the outbox keeps them
                logger.warning("send of messages %s left for later: %s", pks, exc)
    finally:
        _release([m.pk for m in claimed], token)
        if not settings.STORE_MESSAGE_TEXT:
            # Personal data: the text is kept only while the message may still be sent.
            Message.objects.filter(pk__in=[m.pk for m in claimed]).exclude(
                status=Status.SUBMITTING
            ).update(text="")
    summary.settled = (
        Message.objects.filter(pk__in=[m.pk for m in claimed])
        .exclude(status=Status.SUBMITTING)
        .count()
    )
    return summary


def _deadline(messages: Sequence[Message]) -> datetime:
    oldest = min(m.created_at for m in messages)
    return oldest + timedelta(seconds=settings.SERWERSMS_SEND_DEADLINE_SECONDS)


def _deliver_group(pks: list[int], token: str, *, sleep) -> None:
    """One account and channel: attempts under the retry policy until settled or given up."""
    first = Message.objects.select_related("account__partner").get(pk=pks[0])
    account, channel = first.account, first.channel
    log_context.bind_account(account)
    client = limited_client(client_for(account, channel), f"account:{account.pk}")
    key = f"account:{account.pk}"
    deadline = _deadline(Message.objects.filter(pk__in=pks))
    # Look-ups may go on a little past the deadline; sending never does (see _attempt).
    within = (deadline - timezone.now()).total_seconds() + _lease_seconds()

    def renew() -> set[int]:
        return {m.pk for m in _claim(pks, token)}

    def attempt() -> None:
        pending = _claim(pks, token)
        if pending:
            _attempt(client, key, channel, pending, deadline, token, sleep=sleep, renew=renew)

    policy(within=max(within, 0.0), sleep=sleep)(attempt)


def _attempt(
    client, key: str, channel: str, pending: list[Message], deadline, token: str, *, sleep, renew
) -> None:
    """Settle what may have been sent, then send the rest once; raise to be tried again."""
    uncertain = [m for m in pending if m.send_attempted_at is not None]
    if uncertain:
        absent = _settle(client, key, channel, uncertain, sleep=sleep, renew=renew)
        # SerwerSMS surely has none of these: they may be sent again, under the same unique_id.
        Message.objects.filter(
            pk__in=[m.pk for m in absent], status=Status.SUBMITTING, send_claim=token
        ).update(send_attempted_at=None)
    pending = list(
        Message.objects.filter(
            pk__in=[m.pk for m in pending],
            status=Status.SUBMITTING,
            send_claim=token,
            send_attempted_at__isnull=True,
        ).order_by("pk")
    )
    if not pending:
        return
    if timezone.now() >= deadline:
        _give_up(pending)
        return
    if channel == Channel.EMAIL2SMS:
        _send_mails(client, key, pending)
        return
    # Write-ahead: from here on a crash means "may have been sent", to be looked up first.
    Message.objects.filter(pk__in=[m.pk for m in pending]).update(
        send_attempted_at=timezone.now(), send_attempts=F("send_attempts") + 1
    )
    try:
        changes = _send(client, channel, pending)
    except SerwerSMSError as exc:
        _after_failed_send(pending, exc)
        return
    apply_status_changes(changes, EventSource.SEND)
    answered = {c.message_id for c in changes}
    unanswered = [m for m in pending if m.pk not in answered]
    if unanswered:
        raise SettleFirst(f"no answer item for {len(unanswered)} message(s)")


def _send_mails(client, key: str, pending: list[Message]) -> None:
    """Email2SMS: one mail per message, each written ahead and settled on its own."""
    text = _text_of(pending[0])
    failures: list[tuple[Message, SerwerSMSError]] = []
    for message in pending:
        throttle(key)
        Message.objects.filter(pk=message.pk).update(
            send_attempted_at=timezone.now(), send_attempts=F("send_attempts") + 1
        )
        try:
            client.send(message.phone, text, message.sender or None)
        except SerwerSMSError as exc:
            failures.append((message, exc))
            continue
        # Handed over; SerwerSMS's reports name it later (email2sms_matching), else unsent.
        # (send_attempted_at stays: a crash before the next line must look it up, not resend.)
        item = ReportItem(
            serwersms_id="", phone=message.phone, status="queued", queued_at=timezone.now()
        )
        apply_status_changes([StatusChange(message.pk, item)], EventSource.SEND)
    retry: SerwerSMSError | None = None
    for message, exc in failures:
        try:
            _after_failed_send([message], exc)
        except (SettleFirst, SerwerSMSError) as again:
            retry = again if retry is None or isinstance(again, SettleFirst) else retry
    if retry is not None:
        raise retry


def _after_failed_send(pending: list[Message], exc: SerwerSMSError) -> None:
    kind = disposition(exc)
    pks = [m.pk for m in pending]
    note = exc.describe()[:255]
    if kind == Disposition.REFUSED:
        apply_status_changes(
            [
                StatusChange(m.pk, _unsent_item(m, str(exc.code)), error_message=exc.message)
                for m in pending
            ],
            EventSource.SEND,
        )
        return
    if kind == Disposition.NOT_TAKEN:
        Message.objects.filter(pk__in=pks).update(send_attempted_at=None, error_message=note)
        raise exc
    # It may have been taken: looked up (settle_times), never sent again before that is sure.
    times = Message.objects.filter(pk__in=pks, send_attempted_at__isnull=False)
    attempted = max(times.values_list("send_attempted_at", flat=True), default=timezone.now())
    until = settle_times(attempted)[-1]
    Message.objects.filter(pk__in=pks).update(error_message=_checking_note(until, note))
    raise SettleFirst(note) from exc


def _give_up(pending: list[Message]) -> None:
    """The deadline passed and SerwerSMS surely has none of these: unsent, never counted."""
    minutes = settings.SERWERSMS_SEND_DEADLINE_SECONDS // 60
    apply_status_changes(
        [
            StatusChange(
                m.pk,
                _unsent_item(m, NOT_SENT_IN_TIME),
                error_message=(
                    f"Not sent: SerwerSMS could not be reached within {minutes} min"
                    f" ({m.send_attempts} attempts; last: {m.error_message or 'none'})"
                ),
            )
            for m in pending
        ],
        EventSource.SEND,
    )


NOT_SENT_IN_TIME = "not_sent_in_time"


def _unsent_item(message: Message, reason: str) -> ReportItem:
    return ReportItem(
        serwersms_id="", phone=message.phone, status=Status.UNSENT.value, reason=reason[:64]
    )


def _send(client, channel: str, pending: list[Message]) -> list[StatusChange]:
    """One API v2 or XML API send call; the answer as status changes."""
    first = pending[0]
    text = _text_of(first)
    phones = [m.phone for m in pending]
    unique_ids = [m.unique_id for m in pending]
    sender = first.sender or None
    if channel == Channel.API_V2:
        utf = first.unicode and first.message_type == MessageType.FULL
        items = client.send_sms(phones, text, sender, unique_ids, utf=utf)
    else:
        items = client.send_sms(phones, text, sender, unique_ids)
    return _answer_changes(pending, items)


def _text_of(message: Message) -> str:
    text = message.text
    if not text:
        raise SerwerSMSError("no_text", "The message text is not available to send.")
    return text


def _answer_changes(pending: list[Message], items: Sequence[SendItem]) -> list[StatusChange]:
    """Pair answer items with messages by unique_id, else by a phone only one of them has."""
    changes = []
    free = list(items)
    for message in pending:
        item = next((i for i in free if i.unique_id and i.unique_id == message.unique_id), None)
        if item is None:
            same = [i for i in free if not i.unique_id and _same_phone(i.phone, message.phone)]
            rivals = [m for m in pending if _same_phone(message.phone, m.phone)]
            item = same[0] if len(same) == 1 and len(rivals) == 1 else None
        if item is None:
            continue
        free.remove(item)
        report = ReportItem(
            serwersms_id=item.serwersms_id or "",
            phone=item.phone or message.phone,
            status=item.status,
            queued_at=item.queued_at or (timezone.now() if item.status == "queued" else None),
            parts=item.parts,
            reason=(item.error_code or "")[:64] if item.status == "unsent" else "",
        )
        changes.append(
            StatusChange(
                message.pk,
                report,
                identify=bool(item.serwersms_id),
                match_method=MatchMethod.SEND,
                error_message=item.error_message,
            )
        )
    return changes


def _same_phone(answered: str, ours: str) -> bool:
    digits = "".join(ch for ch in answered or "" if ch.isdigit())
    return bool(digits) and ours.lstrip("+").endswith(digits[-9:])


def settle_times(attempted_at: datetime) -> list[datetime]:
    """When to look up a send that may have reached SerwerSMS (attempted at `attempted_at`).

    The first look-up comes once the call could no longer be running on our side
    (SERWERSMS_TIMEOUT) plus SERWERSMS_SETTLE_MARGIN_SECONDS; SERWERSMS_SETTLE_LOOKUPS of them are
    spread evenly over the SERWERSMS_SETTLE_WINDOW_SECONDS that follow, for a SerwerSMS that
    takes a message late. Only the last one may conclude that SerwerSMS does not have it.
    """
    first = attempted_at + timedelta(
        seconds=settings.SERWERSMS_TIMEOUT + settings.SERWERSMS_SETTLE_MARGIN_SECONDS
    )
    window = max(0.0, float(settings.SERWERSMS_SETTLE_WINDOW_SECONDS))
    count = max(1, int(settings.SERWERSMS_SETTLE_LOOKUPS))
    if count == 1 or window == 0:
        return [first + timedelta(seconds=window)]
    step = window / (count - 1)
    return [first + timedelta(seconds=step * n) for n in range(count)]


def _settle_gap() -> float:
    """The longest wait between two steps of `_settle` (the lease must outlast it)."""
    window = max(0.0, float(settings.SERWERSMS_SETTLE_WINDOW_SECONDS))
    count = max(1, int(settings.SERWERSMS_SETTLE_LOOKUPS))
    first = settings.SERWERSMS_TIMEOUT + settings.SERWERSMS_SETTLE_MARGIN_SECONDS
    return max(first, window / (count - 1) if count > 1 else window)


CHECKING = "Checking with SerwerSMS"  # the note of a message waiting on look-ups


def _checking_note(until: datetime, last_error: str) -> str:
    """The message's error text while it waits: users see it is pending, and until when."""
    return (
        f"{CHECKING} whether it took the message; not sent again before"
        f" {until.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC. Last attempt: {last_error}"
    )[:255]


def _settle(client, key: str, channel: str, uncertain: list[Message], *, sleep, renew):
    """Look up messages whose send may have reached SerwerSMS, at `settle_times`; apply what
    is found. Returns those SerwerSMS surely does not have: nothing found by the look-ups, the
    last of them made after the last settle time. Never sends. Raises SettleFirst when that is
    not yet sure (another worker took the messages over, a sleep ended early) and the look-up's
    own error when a look-up fails: the retry policy comes back, and the times stay the same.
    """
    attempted = max(m.send_attempted_at for m in uncertain)
    times = settle_times(attempted)
    now = timezone.now()
    upcoming = [at for at in times if at > now]
    # A worker coming back after some of the times (a crash, a failed look-up) looks up at once.
    plan = ([now] if len(upcoming) < len(times) else []) + upcoming
    remaining = list(uncertain)
    looked_at = None
    for at in plan:
        pause = (at - timezone.now()).total_seconds()
        if pause > 0:
            sleep(pause)
        held = renew()
        remaining = [m for m in remaining if m.pk in held]
        if not remaining:
            raise SettleFirst("the messages were taken over by another worker")
        looked_at = timezone.now()
        remaining = _look_up(client, key, channel, remaining)
        if not remaining:
            return []
        if at is plan[0]:  # e.g. after a crash mid-call: say why it waits
            Message.objects.filter(pk__in=[m.pk for m in remaining]).exclude(
                error_message__startswith=CHECKING
            ).update(error_message=_checking_note(times[-1], "no answer (the worker stopped)"))
    if looked_at is None or looked_at < times[-1]:
        raise SettleFirst("SerwerSMS may still take the message: look it up again later")
    return remaining


def _look_up(client, key: str, channel: str, uncertain: list[Message]) -> list[Message]:
    """Find messages whose send may have reached SerwerSMS; apply what is found.

    Returns the messages SerwerSMS surely does not have (its answer named none of them).
    Raises on a failed look-up (the retry policy asks again). Never sends.
    """
    if channel == Channel.EMAIL2SMS:
        from billing.services.email2sms_matching import match_messages

        api = limited_client(client_for(uncertain[0].account, Channel.API_V2), key)
        # One read per attempt: the send's own retry policy asks again.
        changes = match_messages(uncertain[0].account, uncertain, client=api, within=0)
        apply_status_changes(changes, EventSource.SEND)
        found = {c.message_id for c in changes}
        return [m for m in uncertain if m.pk not in found]
    if channel == Channel.API_V2:
        # messages/reports filtered by one unique_id at a time (serwersms-api.md §3, C): its
        # items echo no unique_id, so each call answers for exactly one of ours.
        found = client.find_by_unique_ids({m.unique_id: m.phone for m in uncertain})
        changes = [
            StatusChange(
                m.pk, found[m.unique_id], identify=True, match_method=MatchMethod.UNIQUE_ID
            )
            for m in uncertain
            if m.unique_id in found
        ]
    else:
        changes = _look_up_xml(client, uncertain)
    if changes:
        apply_status_changes(changes, EventSource.SEND)
    found_ids = {c.message_id for c in changes}
    return [m for m in uncertain if m.pk not in found_ids]


def _look_up_xml(client, uncertain: list[Message]) -> list[StatusChange]:
    """The XML API has no look-up by our usmsid (§4): the numbers' messages since the first
    was written, each SerwerSMS id not yet carried by a message of the account, earliest first."""
    since = min(m.created_at for m in uncertain) - timedelta(minutes=5)
    items = client.sprawdz_sms(phones=sorted({m.phone for m in uncertain}), date_from=since)
    account_id = uncertain[0].account_id
    taken = set(
        Message.objects.filter(
            account_id=account_id, serwersms_id__in=[i.serwersms_id for i in items]
        ).values_list("serwersms_id", flat=True)
    )
    free = sorted(
        (i for i in items if i.serwersms_id not in taken),
        key=lambda i: (i.queued_at or timezone.now(), i.serwersms_id),
    )
    changes = []
    for message in sorted(uncertain, key=lambda m: (m.created_at, m.pk)):
        low = message.created_at - timedelta(minutes=1)
        item = next(
            (
                i
                for i in free
                if _same_phone(i.phone, message.phone)
                and (i.queued_at is None or i.queued_at >= low)
            ),
            None,
        )
        if item is None:
            continue
        free.remove(item)
        changes.append(
            StatusChange(message.pk, item, identify=True, match_method=MatchMethod.PHONE_TIME)
        )
    return changes


def messages_to_resume(*, now: datetime | None = None) -> list[list[int]]:
    """Take the outbox messages to queue again, in groups of one account and channel.

    A message still `submitting` is queued again when the lease of the worker that held it ran
    out (it died), when a task gave up on it for now (released), or when no worker ever took it
    OUTBOX_RESUME_AFTER_SECONDS after it was written (its task never reached a broker). Each
    taken message is reserved for that long, so a queue that is merely slow is not flooded with
    copies (a copy would do no harm: the claim lets one task at a time send).
    """
    now = now or timezone.now()
    due = Message.objects.filter(status=Status.SUBMITTING).filter(
        Q(send_claimed_until__lt=now)
        | Q(send_claimed_until__isnull=True, created_at__lte=now - _resume_after())
    )
    groups: dict[tuple[int, str], list[int]] = {}
    with transaction.atomic():
        rows = list(
            due.select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", "account_id", "channel")[:MAX_RESUMED]
        )
        Message.objects.filter(pk__in=[r[0] for r in rows]).update(
            send_claim="", send_claimed_until=now + _resume_after()
        )
    for pk, account_id, channel in rows:
        groups.setdefault((account_id, channel), []).append(pk)
    batch = 100
    return [pks[i : i + batch] for pks in groups.values() for i in range(0, len(pks), batch)]


MAX_RESUMED = 10_000  # per beat tick; the rest waits for the next one
