"""The poll pass: ask SerwerSMS for the status of messages not yet final, apply changes in bulk.

Per client account, messages handed to SerwerSMS, not final and younger than
STATUS_POLL_MAX_AGE_DAYS are asked for in batches (API v2 `messages/reports` by id, XML
`sprawdz_sms` for XML API messages, Email2SMS mails matched one-to-one in the reports by phone,
text and time). SerwerSMS is called outside any transaction; each batch goes through the one
status path, which locks the rows and decides on their stored status, so concurrent or
repeated passes never apply a change twice. Messages still `submitting` belong to the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from billing.models import Channel, ClientAccount, EventSource, Message
from billing.services import email2sms_matching
from billing.services.status_updates import ApplySummary, StatusChange, apply_status_changes
from billing.serwersms.types import ReportItem
from billing.statuses import Status

logger = logging.getLogger(__name__)


class ReportsSource(Protocol):
    """What a poll pass needs from SerwerSMS, for one client account."""

    def reports_by_ids(self, ids: Sequence[str]) -> Iterable[ReportItem]: ...

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


def pollable(account: ClientAccount, now: datetime):
    """Messages of the account still worth asking about (the outbox's `submitting` excluded:
    the send task settles those)."""
    cutoff = now - timedelta(days=settings.STATUS_POLL_MAX_AGE_DAYS)
    return (
        Message.objects.filter(account=account)
        .pollable(created_since=cutoff)
        .exclude(status=Status.SUBMITTING)
    )


def _poll_known_ids(
    pks: Sequence[int], fetch: Callable[[Sequence[str]], Iterable[ReportItem]], now: datetime
) -> ApplySummary:
    """One batch of messages whose SerwerSMS id we know."""
    rows = dict(Message.objects.filter(pk__in=pks).values_list("serwersms_id", "pk"))
    items = list(fetch(list(rows)))
    changes = [StatusChange(rows[i.serwersms_id], i) for i in items if i.serwersms_id in rows]
    return apply_status_changes(changes, EventSource.POLL, now=now, checked=pks)


class _ReportsClient:
    """The source's phone/date read, shaped as the client call email2sms_matching makes."""

    def __init__(self, source: ReportsSource):
        self.source = source

    def reports(self, *, phones, date_from, date_to):
        return self.source.reports_by_phones(phones, date_from, date_to)


def _match_email2sms(
    account: ClientAccount, source: ReportsSource, pks: Sequence[int], now: datetime
) -> ApplySummary:
    """Mails handed over and not yet named by SerwerSMS: match them, or end them unsent."""
    messages = list(Message.objects.filter(pk__in=pks, serwersms_id__isnull=True))
    changes = email2sms_matching.match_messages(account, messages, client=_ReportsClient(source))
    matched = {c.message_id for c in changes}
    changes += email2sms_matching.no_report_changes(
        [m for m in messages if m.pk not in matched], now
    )
    return apply_status_changes(changes, EventSource.POLL, now=now, checked=pks)


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
            "email2sms",
            list(
                base.filter(serwersms_id__isnull=True, channel=Channel.EMAIL2SMS)
                .order_by("pk")
                .values_list("pk", flat=True)
            ),
            lambda pks: _match_email2sms(account, source, pks, now),
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
