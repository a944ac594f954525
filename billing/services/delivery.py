"""The delivery worker: the send task's work (`deliver`), handing outbox messages to SerwerSMS.

Idempotent by unique_id: claim with a lease, look up whatever may have reached SerwerSMS before
sending it again; only a definite refusal or the send deadline makes a message unsent.
docs/status.md ("Sending", "Never sent twice") tells the whole of it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from billing import log_context
from billing.models import Channel, EventSource, MatchMethod, Message, MessageType
from billing.services.email2sms_matching import match_messages
from billing.services.status_updates import StatusChange, apply_status_changes
from billing.serwersms import client_for
from billing.serwersms.errors import SerwerSMSError
from billing.serwersms.matching import ends_with_number
from billing.serwersms.retry import (
    Disposition,
    SettleFirst,
    disposition,
    limited_client,
    policy,
    throttle,
)
from billing.serwersms.types import ReportItem, SendItem
from billing.statuses import Status

logger = logging.getLogger(__name__)


@dataclass
class DeliverySummary:
    claimed: int = 0
    busy: int = 0  # held by another worker, or already settled
    settled: int = 0  # no longer submitting at the end


def _lease_seconds() -> float:
    """How long a claim holds: longer than one attempt (look-up, pause, send) can take."""
    first, window, count = _settle_spacing()
    settle_gap = max(first, window / (count - 1) if count > 1 else window)  # _settle's longest wait
    return 3 * settings.SERWERSMS_TIMEOUT + settings.SERWERSMS_RETRY_MAX_SECONDS + settle_gap + 30


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
    """Send (or finish sending) these messages: the send task's body; safe to repeat. Messages
    held elsewhere or settled are left alone; one given up on for now waits for `resume_sends`."""
    token = uuid.uuid4().hex
    log_context.bind_messages(message_ids)
    claimed = _claim(list(message_ids), token)
    claimed_pks = [m.pk for m in claimed]
    # One call sends one text: a task may carry messages of several sends (resume_sends
    # groups the outbox by account), and each send's messages go in calls of their own.
    groups: dict[tuple, list[Message]] = {}
    for m in claimed:
        same_call = (m.account_id, m.channel, m.text_digest, m.sender, m.unicode)
        groups.setdefault(same_call, []).append(m)
    done = Message.objects.filter(pk__in=claimed_pks).exclude(status=Status.SUBMITTING)
    try:
        for group in groups.values():
            try:
                _deliver_group(group, token, sleep=sleep)
            except Exception as exc:  # the policy gave up for now: the outbox keeps them
                logger.warning("send of messages %s left for later: %s", [m.pk for m in group], exc)
    finally:
        _release(claimed_pks, token)
        if not settings.STORE_MESSAGE_TEXT:
            # Personal data: the text is kept only while the message may still be sent.
            done.update(text="")
    busy = len(set(message_ids)) - len(claimed)
    return DeliverySummary(claimed=len(claimed), busy=busy, settled=done.count())


def _deliver_group(group: list[Message], token: str, *, sleep) -> None:
    """One account and channel: attempts under the retry policy until settled or given up."""
    pks = [m.pk for m in group]
    account, channel = group[0].account, group[0].channel
    log_context.bind_account(account)
    key = f"account:{account.pk}"
    client = limited_client(client_for(account, channel), key)
    oldest = min(m.created_at for m in group)
    deadline = oldest + timedelta(seconds=settings.SERWERSMS_SEND_DEADLINE_SECONDS)
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
    _write_ahead([m.pk for m in pending])
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


def _write_ahead(pks: list[int]) -> None:
    """From here on a crash means "may have been sent", to be looked up first."""
    Message.objects.filter(pk__in=pks).update(
        send_attempted_at=timezone.now(), send_attempts=F("send_attempts") + 1
    )


def _send_mails(client, key: str, pending: list[Message]) -> None:
    """Email2SMS: one mail per message, each written ahead and settled on its own."""
    text = _text_of(pending[0])
    retry: SerwerSMSError | None = None
    for message in pending:
        throttle(key)
        _write_ahead([message.pk])
        try:
            client.send(message.phone, text, message.sender or None)
        except SerwerSMSError as exc:
            try:
                _after_failed_send([message], exc)
            except (SettleFirst, SerwerSMSError) as again:
                retry = again if retry is None or isinstance(again, SettleFirst) else retry
            continue
        # Handed over; SerwerSMS's reports name it later (email2sms_matching), else unsent.
        # (send_attempted_at stays: a crash before the next line must look it up, not resend.)
        item = ReportItem(
            serwersms_id="", phone=message.phone, status="queued", queued_at=timezone.now()
        )
        apply_status_changes([StatusChange(message.pk, item)], EventSource.SEND)
    if retry is not None:
        raise retry


def _after_failed_send(pending: list[Message], exc: SerwerSMSError) -> None:
    kind = disposition(exc)
    pks = [m.pk for m in pending]
    note = exc.describe()[:255]
    if kind == Disposition.REFUSED:
        _make_unsent(pending, str(exc.code), lambda m: exc.message)
        return
    if kind == Disposition.NOT_TAKEN:
        Message.objects.filter(pk__in=pks).update(send_attempted_at=None, error_message=note)
        raise exc
    # It may have been taken: looked up (settle_times), never sent again before that is sure.
    attempted = Message.objects.filter(pk__in=pks).aggregate(at=Max("send_attempted_at"))["at"]
    until = settle_times(attempted or timezone.now())[-1]
    Message.objects.filter(pk__in=pks).update(error_message=_checking_note(until, note))
    raise SettleFirst(note) from exc


def _give_up(pending: list[Message]) -> None:
    """The deadline passed and SerwerSMS surely has none of these: unsent, never counted."""
    minutes = settings.SERWERSMS_SEND_DEADLINE_SECONDS // 60
    _make_unsent(
        pending,
        NOT_SENT_IN_TIME,
        lambda m: (
            f"Not sent: SerwerSMS could not be reached within {minutes} min"
            f" ({m.send_attempts} attempts; last: {m.error_message or 'none'})"
        ),
    )


NOT_SENT_IN_TIME = "not_sent_in_time"


def _make_unsent(pending: list[Message], reason: str, note: Callable[[Message], str]) -> None:
    apply_status_changes(
        [StatusChange(m.pk, _unsent_item(m, reason), error_message=note(m)) for m in pending],
        EventSource.SEND,
    )


def _unsent_item(message: Message, reason: str) -> ReportItem:
    return ReportItem(
        serwersms_id="", phone=message.phone, status=Status.UNSENT.value, reason=reason[:64]
    )


def _send(client, channel: str, pending: list[Message]) -> list[StatusChange]:
    """One API v2 or XML API send call; the answer as status changes."""
    first = pending[0]
    options = {}
    if channel == Channel.API_V2:
        options["utf"] = first.unicode and first.message_type == MessageType.FULL
    phones = [m.phone for m in pending]
    unique_ids = [m.unique_id for m in pending]
    items = client.send_sms(phones, _text_of(first), first.sender or None, unique_ids, **options)
    return _answer_changes(pending, items)


def _text_of(message: Message) -> str:
    if not message.text:
        raise SerwerSMSError("no_text", "The message text is not available to send.")
    return message.text


def _answer_changes(pending: list[Message], items: Sequence[SendItem]) -> list[StatusChange]:
    """Pair answer items with messages by unique_id, else by a phone only one of them has."""
    changes = []
    free = list(items)
    for message in pending:
        item = next((i for i in free if i.unique_id and i.unique_id == message.unique_id), None)
        if item is None:
            same = [i for i in free if not i.unique_id and ends_with_number(i.phone, message.phone)]
            rivals = [m for m in pending if ends_with_number(message.phone, m.phone)]
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


def _settle_spacing() -> tuple[float, float, int]:
    """Seconds from an attempt to the first look-up (once the call cannot be running on our
    side any more), the window after it for a SerwerSMS that takes a message late, the look-ups."""
    first = settings.SERWERSMS_TIMEOUT + settings.SERWERSMS_SETTLE_MARGIN_SECONDS
    window = max(0.0, float(settings.SERWERSMS_SETTLE_WINDOW_SECONDS))
    return first, window, max(1, int(settings.SERWERSMS_SETTLE_LOOKUPS))


def settle_times(attempted_at: datetime) -> list[datetime]:
    """When to look up a send that may have reached SerwerSMS: spread evenly over the window.
    Only the last look-up may conclude that SerwerSMS does not have it."""
    first, window, count = _settle_spacing()
    start = attempted_at + timedelta(seconds=first)
    if count == 1 or window == 0:
        return [start + timedelta(seconds=window)]
    step = window / (count - 1)
    return [start + timedelta(seconds=step * n) for n in range(count)]


CHECKING = "Checking with SerwerSMS"  # the note of a message waiting on look-ups


def _checking_note(until: datetime, last_error: str) -> str:
    """The message's error text while it waits: users see it is pending, and until when."""
    return (
        f"{CHECKING} whether it took the message; not sent again before"
        f" {until.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC. Last attempt: {last_error}"
    )[:255]


def _settle(client, key: str, channel: str, uncertain: list[Message], *, sleep, renew):
    """Look up, at `settle_times`, messages whose send may have reached SerwerSMS; apply what
    is found. Never sends. Returns those SerwerSMS surely does not have (the last look-up made
    after the last time); raises SettleFirst while that is not sure, or a failed look-up's error.
    """
    times = settle_times(max(m.send_attempted_at for m in uncertain))
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
    """One look-up; apply what is found. Returns the messages SerwerSMS's answer did not name.
    Raises on a failed look-up (the retry policy asks again). Never sends."""
    if channel == Channel.EMAIL2SMS:
        api = limited_client(client_for(uncertain[0].account, Channel.API_V2), key)
        # One read per attempt: the send's own retry policy asks again.
        changes = match_messages(uncertain[0].account, uncertain, client=api)
    elif channel == Channel.API_V2:
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
    apply_status_changes(changes, EventSource.SEND)  # nothing found: no query
    found_ids = {c.message_id for c in changes}
    return [m for m in uncertain if m.pk not in found_ids]


def _look_up_xml(client, uncertain: list[Message]) -> list[StatusChange]:
    """The XML API has no look-up by our usmsid (§4): the numbers' messages since the first
    was written, each SerwerSMS id not yet carried by a message of the account, earliest first."""
    since = min(m.created_at for m in uncertain) - timedelta(minutes=5)
    items = client.sprawdz_sms(phones=sorted({m.phone for m in uncertain}), date_from=since)
    taken = set(
        Message.objects.filter(
            account_id=uncertain[0].account_id, serwersms_id__in=[i.serwersms_id for i in items]
        ).values_list("serwersms_id", flat=True)
    )
    free = sorted(
        (i for i in items if i.serwersms_id not in taken),
        key=lambda i: (i.queued_at or timezone.now(), i.serwersms_id),
    )
    changes = []
    for message in sorted(uncertain, key=lambda m: (m.created_at, m.pk)):
        low = message.created_at - timedelta(minutes=1)
        for item in free:
            if ends_with_number(item.phone, message.phone) and (
                item.queued_at is None or item.queued_at >= low
            ):
                free.remove(item)
                changes.append(
                    StatusChange(
                        message.pk, item, identify=True, match_method=MatchMethod.PHONE_TIME
                    )
                )
                break
    return changes


def messages_to_resume(*, now: datetime | None = None) -> list[list[int]]:
    """Take the outbox messages to queue again (docs/status.md), in groups of one account and
    channel; each is reserved OUTBOX_RESUME_AFTER_SECONDS, so a slow queue is not flooded with
    copies (a copy would do no harm: the claim lets one task at a time send)."""
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
