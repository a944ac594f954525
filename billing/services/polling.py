"""The poll pass: ask SerwerSMS for the status of messages not yet final, apply changes in bulk
(docs/status.md). SerwerSMS is called outside any transaction; the status path locks the rows and
decides on their stored status, so concurrent or repeated passes never apply a change twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Protocol

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from billing import log_context
from billing.models import Channel, ClientAccount, EventSource, Message
from billing.services import email2sms_matching
from billing.services.reports_source import ClientReportsSource
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


def _batches(values: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def polled(messages, now: datetime):
    """The messages a pass asks about: named by SerwerSMS, or an Email2SMS mail to match."""
    cutoff = now - timedelta(days=settings.STATUS_POLL_MAX_AGE_DAYS)
    return (
        messages.pollable(created_since=cutoff)
        .exclude(status=Status.SUBMITTING)
        .filter(Q(serwersms_id__isnull=False) | Q(channel=Channel.EMAIL2SMS))
    )


@dataclass
class PollWork:
    """What one account's pass asks about, by the read that asks for it."""

    reports: list[tuple[int, str]] = field(default_factory=list)  # (pk, SerwerSMS id)
    xml: list[tuple[int, str]] = field(default_factory=list)  # XML API: sprawdz_sms
    email2sms: list[int] = field(default_factory=list)  # mails to match (no id yet)

    def add(self, pk: int, channel: str, serwersms_id: str | None) -> None:
        if serwersms_id is None:
            self.email2sms.append(pk)
        elif channel == Channel.XML_API:
            self.xml.append((pk, serwersms_id))
        else:
            self.reports.append((pk, serwersms_id))


def _work(messages, now: datetime) -> dict[int, PollWork]:
    """The work of a pass over `messages` by account pk, in ONE query; idle accounts left out."""
    work: dict[int, PollWork] = {}
    rows = (
        polled(messages, now)
        .order_by("account_id", "pk")
        .values_list("account_id", "pk", "channel", "serwersms_id")
    )
    for account_id, pk, channel, serwersms_id in rows:
        work.setdefault(account_id, PollWork()).add(pk, channel, serwersms_id)
    return work


def _read_known_ids(
    rows: Sequence[tuple[int, str]], fetch: Callable[[Sequence[str]], Iterable[ReportItem]]
) -> tuple[list[StatusChange], list[int]]:
    """Ask SerwerSMS about messages whose id the pass read (no query): (changes, asked pks)."""
    by_id = {serwersms_id: pk for pk, serwersms_id in rows}
    items = list(fetch(list(by_id)))
    changes = [StatusChange(by_id[i.serwersms_id], i) for i in items if i.serwersms_id in by_id]
    return changes, list(by_id.values())


@contextmanager
def _counted(
    summary: ApplySummary, what: str, log: str = "poll batch failed: %s"
) -> Iterator[None]:
    """A failing batch (or account) is logged and counted in the summary; the pass goes on."""
    try:
        yield
    except Exception as exc:
        logger.exception(log, what)
        summary.errors += 1
        summary.error_messages.append(f"{what}: {exc}")


class _Applier:
    """The reports a pass read, applied in batches of STATUS_APPLY_BATCH messages across reads and
    accounts: a fixed number of queries a batch."""

    def __init__(self, now: datetime, summary: ApplySummary):
        self.now, self.summary = now, summary
        self.size = max(settings.STATUS_APPLY_BATCH, 1)
        self.changes: list[StatusChange] = []
        self.checked: list[int] = []
        self.accounts: dict[str, None] = {}  # names, in order, for the error line

    def add(self, account: ClientAccount, changes: list[StatusChange], checked: list[int]):
        self.changes += changes
        self.checked += checked
        self.accounts[account.name] = None
        if len(self.checked) >= self.size:
            self.flush()

    def flush(self) -> None:
        changes, checked, names = self.changes, self.checked, ", ".join(self.accounts)
        self.changes, self.checked, self.accounts = [], [], {}
        if not checked:
            return
        with _counted(self.summary, f"{names}: apply"):
            self.summary.add(
                apply_status_changes(changes, EventSource.POLL, now=self.now, checked=checked)
            )


def _match_email2sms(
    account: ClientAccount, source: ReportsSource, pks: Sequence[int], now: datetime
) -> ApplySummary:
    """Mails handed over and not yet named by SerwerSMS: match them, or end them unsent."""
    messages = list(Message.objects.filter(pk__in=pks, serwersms_id__isnull=True))
    # The source's phone/date read, as the client call email2sms_matching makes; the source
    # retries it (match_messages tries once), so a SerwerSMS outage costs one read's deadline.
    client = SimpleNamespace(reports=source.reports_by_phones)
    changes = email2sms_matching.match_messages(account, messages, client=client)
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
    work: PollWork | None = None,
    applier: _Applier | None = None,
) -> ApplySummary:
    """One pass over one account. Errors of a batch are counted and logged; the pass goes on.

    `work` (read by one query when not given) and `applier` (else the account's own, flushed at
    the end) are the pass's, shared across accounts."""
    now = now or timezone.now()
    log_context.bind_account(account)
    if work is None:
        work = _work(Message.objects.filter(account=account), now).get(account.pk)
    summary = ApplySummary()
    if work is None:
        return summary
    source = source or ClientReportsSource(account)
    own = applier is None
    applier = applier or _Applier(now, summary)
    batch = settings.SERWERSMS_REPORTS_BATCH
    for kind, rows, fetch in (
        ("reports", work.reports, source.reports_by_ids),
        ("xml", work.xml, source.xml_check),
    ):
        for chunk in _batches(rows, batch):
            with _counted(summary, f"{account.name}: {kind}"):
                applier.add(account, *_read_known_ids(chunk, fetch))
            if progress:
                progress(len(chunk))
    for chunk in _batches(work.email2sms, batch):
        with _counted(summary, f"{account.name}: email2sms"):
            summary.add(_match_email2sms(account, source, chunk, now))
        if progress:
            progress(len(chunk))
    if own:
        applier.flush()
    return summary


def pollable_count(accounts, now: datetime | None = None) -> int:
    """How many messages a pass over `accounts` (a queryset) asks about: one query."""
    now = now or timezone.now()
    return polled(Message.objects.filter(account__in=accounts), now).count()


def active_accounts(name: str | None = None):
    accounts = ClientAccount.objects.filter(is_active=True, partner__is_active=True)
    if name:
        accounts = accounts.filter(name=name)
    return accounts.order_by("pk")


def accounts_to_poll(now: datetime | None = None) -> list[int]:
    """Pks of the active accounts a pass has work for (one query; idle accounts cost nothing)."""
    now = now or timezone.now()
    return list(
        polled(Message.objects.filter(account__in=active_accounts()), now)
        .order_by("account_id")
        .values_list("account_id", flat=True)
        .distinct()
    )


def poll_all_accounts(
    *,
    now: datetime | None = None,
    account_name: str | None = None,
    progress: Callable[[int], None] | None = None,
    source_factory: Callable[[ClientAccount], ReportsSource] | None = None,
    accounts=None,
) -> ApplySummary:
    """One pass over every active account (or `accounts`, a queryset), in this process: two
    queries find the work, idle accounts cost nothing else; a failing account is counted."""
    now = now or timezone.now()
    if accounts is None:
        accounts = active_accounts(account_name)
    summary = ApplySummary()
    work = _work(Message.objects.filter(account__in=accounts), now)
    if not work:
        return summary
    applier = _Applier(now, summary)
    # With its partner: the client carries the partner's ic (no query per account).
    busy = ClientAccount.objects.filter(pk__in=list(work)).select_related("partner")
    for account in busy.order_by("pk"):
        with _counted(summary, account.name, "poll of account %s failed"):
            summary.add(
                poll_account(
                    account,
                    now=now,
                    source=(source_factory or ClientReportsSource)(account),
                    progress=progress,
                    work=work[account.pk],
                    applier=applier,
                )
            )
    applier.flush()
    return summary
