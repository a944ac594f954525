"""The poll pass: ask SerwerSMS for the status of messages not yet final, apply changes in bulk.

Per client account, messages not final and younger than STATUS_POLL_MAX_AGE_DAYS are asked for in
batches (API v2 `messages/reports` by id, XML `sprawdz_sms` for XML API messages, reports by
phone and date for Email2SMS, by unique_id for sends that got no answer). SerwerSMS is called
outside any transaction; each batch is then applied in a short transaction that locks the rows
(skip_locked) and decides on their fresh status, so concurrent or repeated passes never
double-apply a change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from billing.models import Channel, ClientAccount, EventSource, MatchMethod, Message
from billing.services.status_updates import ApplySummary, apply_to_messages
from billing.serwersms.types import ReportItem
from billing.statuses import Status

logger = logging.getLogger(__name__)

NEVER_RECEIVED_REASON = "never_received"
NEVER_RECEIVED_NOTE = (
    "SerwerSMS never received this message: the send got no answer and SerwerSMS knows no "
    "message with its unique_id"
)


class ReportsSource(Protocol):
    """What a poll pass needs from SerwerSMS, for one client account."""

    def reports_by_ids(self, ids: Sequence[str]) -> Iterable[ReportItem]: ...

    def reports_by_unique_ids(self, unique_ids: Sequence[str]) -> Iterable[ReportItem]: ...

    def reports_by_phones(
        self, phones: Sequence[str], date_from: datetime, date_to: datetime
    ) -> Iterable[ReportItem]: ...

    def xml_check(self, ids: Sequence[str]) -> Iterable[ReportItem]: ...


def _source_for(account: ClientAccount) -> ReportsSource:
    from billing.services.reports_source import ClientReportsSource

    return ClientReportsSource(account)


def _batches(values: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _lock_for_write() -> None:
    """SQLite has no row locks: take its write lock first so the rows read next are current."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {Message._meta.db_table} SET id = id WHERE 0")


def _claim(pks: Sequence[int]) -> list[Message]:
    """Lock the batch's rows still not final; rows another worker holds are skipped."""
    _lock_for_write()
    return list(
        Message.objects.select_for_update(skip_locked=True)
        .filter(pk__in=pks)
        .pollable()
        .order_by("pk")
    )


def pollable(account: ClientAccount, now: datetime):
    """Messages of the account still worth asking about."""
    cutoff = now - timedelta(days=settings.STATUS_POLL_MAX_AGE_DAYS)
    return Message.objects.filter(account=account).pollable(created_since=cutoff)


def _poll_known_ids(
    pks: Sequence[int], fetch: Callable[[Sequence[str]], Iterable[ReportItem]], now: datetime
) -> ApplySummary:
    """One batch of messages whose SerwerSMS id we know."""
    ids = list(Message.objects.filter(pk__in=pks).values_list("serwersms_id", flat=True))
    items = list(fetch(ids))
    by_id: dict[str, list[ReportItem]] = {}
    for item in items:
        by_id.setdefault(str(item.serwersms_id), []).append(item)
    with transaction.atomic():
        messages = _claim(pks)
        pairs = [(m, item) for m in messages for item in by_id.get(m.serwersms_id, [])]
        reported = {m.pk for m, _ in pairs}
        unreported = [m for m in messages if m.pk not in reported]
        for message in unreported:
            message.last_checked_at = now
        return apply_to_messages(pairs, EventSource.POLL, now=now, touched=unreported)


def _resolve_submitting(source: ReportsSource, pks: Sequence[int], now: datetime) -> ApplySummary:
    """Sends that got no answer: find them by our unique_id; unknown after the grace -> unsent."""
    rows = dict(Message.objects.filter(pk__in=pks).values_list("unique_id", "pk"))
    items = list(source.reports_by_unique_ids(list(rows)))
    by_unique = {item.unique_id: item for item in items if item.unique_id}
    grace = timedelta(seconds=settings.STATUS_SUBMITTING_GRACE_SECONDS)
    with transaction.atomic():
        messages = [m for m in _claim(pks) if m.status == Status.SUBMITTING]
        taken = set(
            Message.objects.filter(
                account_id__in={m.account_id for m in messages},
                serwersms_id__in=[i.serwersms_id for i in by_unique.values()],
            ).values_list("serwersms_id", flat=True)
        )
        pairs, touched, never = [], [], []
        for message in messages:
            item = by_unique.get(message.unique_id)
            if item is not None and item.serwersms_id not in taken:
                message.serwersms_id = item.serwersms_id
                message.match_method = MatchMethod.UNIQUE_ID
                touched.append(message)
                pairs.append((message, item))
            elif message.created_at <= now - grace:
                message.error_message = NEVER_RECEIVED_NOTE[:255]
                never.append((message, _never_received(message)))
            else:
                message.last_checked_at = now
                touched.append(message)
        return apply_to_messages(pairs + never, EventSource.POLL, now=now, touched=touched)


def _never_received(message: Message) -> ReportItem:
    return ReportItem(
        serwersms_id=message.serwersms_id or "",
        phone=message.phone,
        status=Status.UNSENT.value,
        unique_id=message.unique_id,
        reason=NEVER_RECEIVED_REASON,
    )


def _match_email2sms(source: ReportsSource, pks: Sequence[int], now: datetime) -> ApplySummary:
    """Email2SMS carries no id back: pair each mail with the nearest unclaimed report item."""
    window = timedelta(minutes=settings.STATUS_EMAIL2SMS_MATCH_MINUTES)
    rows = list(Message.objects.filter(pk__in=pks).values("phone", "created_at", "account_id"))
    if not rows:
        return ApplySummary()
    phones = sorted({r["phone"] for r in rows})
    date_from = min(r["created_at"] for r in rows) - window
    date_to = max(r["created_at"] for r in rows) + window
    items = [i for i in source.reports_by_phones(phones, date_from, date_to) if i.serwersms_id]
    with transaction.atomic():
        messages = [m for m in _claim(pks) if not m.serwersms_id]
        taken = set(
            Message.objects.filter(
                account_id=rows[0]["account_id"],
                serwersms_id__in=[i.serwersms_id for i in items],
            ).values_list("serwersms_id", flat=True)
        )
        pairs, touched = [], []
        # Earliest mails first, each taking the free report item nearest in time.
        for message in sorted(messages, key=lambda m: (m.created_at, m.pk)):
            best, best_gap = None, None
            for item in items:
                if item.serwersms_id in taken or item.phone != message.phone:
                    continue
                at = item.queued_at or item.sent_at
                if at is None:
                    continue
                gap = abs(at - message.created_at)
                if gap <= window and (best_gap is None or gap < best_gap):
                    best, best_gap = item, gap
            message.last_checked_at = now
            touched.append(message)
            if best is not None:
                taken.add(best.serwersms_id)
                message.serwersms_id = best.serwersms_id
                message.match_method = MatchMethod.PHONE_TIME
                pairs.append((message, best))
        return apply_to_messages(pairs, EventSource.POLL, now=now, touched=touched)


def poll_account(
    account: ClientAccount,
    *,
    now: datetime | None = None,
    source: ReportsSource | None = None,
    progress: Callable[[int], None] | None = None,
) -> ApplySummary:
    """One pass over one account. Errors of a batch are counted and logged; the pass goes on."""
    now = now or timezone.now()
    source = source or _source_for(account)
    batch = settings.SERWERSMS_REPORTS_BATCH
    base = pollable(account, now)
    with_id = base.filter(serwersms_id__isnull=False).order_by("pk")
    submit_delay = timedelta(seconds=settings.STATUS_SUBMITTING_MIN_AGE_SECONDS)
    work: list[tuple[str, list[int], Callable[[Sequence[int]], ApplySummary]]] = [
        (
            "reports",
            list(with_id.exclude(channel=Channel.XML_API).values_list("pk", flat=True)),
            lambda pks: _poll_known_ids(pks, source.reports_by_ids, now),
        ),
        (
            "xml",
            list(with_id.filter(channel=Channel.XML_API).values_list("pk", flat=True)),
            lambda pks: _poll_known_ids(pks, source.xml_check, now),
        ),
        (
            "submitting",
            list(
                base.filter(
                    serwersms_id__isnull=True,
                    status=Status.SUBMITTING,
                    created_at__lte=now - submit_delay,
                )
                .exclude(channel=Channel.EMAIL2SMS)
                .order_by("pk")
                .values_list("pk", flat=True)
            ),
            lambda pks: _resolve_submitting(source, pks, now),
        ),
        (
            "email2sms",
            list(
                base.filter(Q(serwersms_id__isnull=True), channel=Channel.EMAIL2SMS)
                .order_by("pk")
                .values_list("pk", flat=True)
            ),
            lambda pks: _match_email2sms(source, pks, now),
        ),
    ]
    summary = ApplySummary()
    for kind, pks, run in work:
        for chunk in _batches(pks, batch):
            try:
                summary.add(run(chunk))
            except Exception as exc:  # one failing batch must not stop the pass
                logger.exception("poll %s batch of account %s failed", kind, account.name)
                summary.errors += 1
                summary.error_messages.append(f"{account.name}: {kind}: {exc}")
            if progress:
                progress(len(chunk))
    return summary


def pollable_count(accounts: Iterable[ClientAccount], now: datetime | None = None) -> int:
    now = now or timezone.now()
    return sum(pollable(account, now).count() for account in accounts)


def active_accounts(name: str | None = None):
    accounts = ClientAccount.objects.filter(is_active=True, partner__is_active=True)
    if name:
        accounts = accounts.filter(name=name)
    return accounts.order_by("pk")


def poll_all_accounts(
    *,
    now: datetime | None = None,
    account_name: str | None = None,
    progress: Callable[[int], None] | None = None,
    source_factory: Callable[[ClientAccount], ReportsSource] | None = None,
) -> ApplySummary:
    """One pass over every active account, in this process; a failing account is counted."""
    now = now or timezone.now()
    summary = ApplySummary()
    for account in active_accounts(account_name):
        try:
            source = (source_factory or _source_for)(account)
            summary.add(poll_account(account, now=now, source=source, progress=progress))
        except Exception as exc:
            logger.exception("poll of account %s failed", account.name)
            summary.errors += 1
            summary.error_messages.append(f"{account.name}: {exc}")
    return summary
