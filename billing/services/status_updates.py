"""Applying SerwerSMS status reports to messages in bulk: the one path for poll and callbacks.

Every report goes through statuses.decide(); forward moves change the message and add an applied
StatusEvent, backward or unknown reports add one ignored event (once), duplicates change nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from billing.models import ClientAccount, Message, StatusEvent
from billing.services.statements import request_draft_refresh
from billing.serwersms.types import ReportItem
from billing.statuses import Outcome, Status, decide, parse_status

logger = logging.getLogger(__name__)

# Columns a status report may change; bulk_update writes exactly these.
UPDATED_FIELDS = [
    "status",
    "reason",
    "error_message",
    "parts",
    "cost",
    "queued_at",
    "sent_at",
    "delivered_at",
    "dispatched_at",
    "last_checked_at",
    "serwersms_id",
    "match_method",
]
BULK_BATCH_SIZE = 500


@dataclass
class ApplySummary:
    """What one application of reports did; summaries add up across batches and accounts."""

    checked: int = 0  # reports matched to a message
    changed: int = 0  # messages whose status moved forward
    ignored: int = 0  # backward or unknown reports (recorded, not applied)
    unmatched: int = 0  # reports naming no message of ours
    errors: int = 0
    by_status: Counter = field(default_factory=Counter)
    error_messages: list[str] = field(default_factory=list)

    def add(self, other: ApplySummary) -> ApplySummary:
        self.checked += other.checked
        self.changed += other.changed
        self.ignored += other.ignored
        self.unmatched += other.unmatched
        self.errors += other.errors
        self.by_status.update(other.by_status)
        self.error_messages.extend(other.error_messages)
        return self

    def as_line(self) -> str:
        statuses = ", ".join(f"{k}={v}" for k, v in sorted(self.by_status.items())) or "none"
        return (
            f"checked {self.checked}, changed {self.changed} ({statuses}), "
            f"ignored {self.ignored}, unmatched {self.unmatched}, errors {self.errors}"
        )


def _supports_update_from() -> bool:
    if connection.vendor == "postgresql":
        return True
    if connection.vendor == "sqlite":
        import sqlite3

        return sqlite3.sqlite_version_info >= (3, 33, 0)
    return False


def write_messages(messages: Sequence[Message], fields: Sequence[str] = UPDATED_FIELDS) -> None:
    """Save `fields` of many messages: one `UPDATE ... FROM (VALUES ...)` per batch.

    Django's bulk_update builds a CASE per column, which grows with the square of the batch;
    a VALUES list joins on the primary key instead. Other databases fall back to bulk_update.
    """
    if not messages:
        return
    if not _supports_update_from():
        Message.objects.bulk_update(messages, fields, batch_size=BULK_BATCH_SIZE)
        return
    model_fields = [Message._meta.get_field(name) for name in fields]
    table = connection.ops.quote_name(Message._meta.db_table)
    columns = ["id"] + [f.column for f in model_fields]
    postgres = connection.vendor == "postgresql"

    def cast(field, expression: str) -> str:
        # PostgreSQL types VALUES from the first row; cast so NULLs and strings land right.
        return f"CAST({expression} AS {field.db_type(connection)})" if postgres else expression

    quote = connection.ops.quote_name
    assignments = ", ".join(
        f"{quote(f.column)} = {cast(f, 'v.' + quote(f.column))}" for f in model_fields
    )
    id_cast = "CAST(v.id AS bigint)" if postgres else "v.id"
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(messages), BULK_BATCH_SIZE):
            chunk = messages[start : start + BULK_BATCH_SIZE]
            params = []
            for message in chunk:
                params.append(message.pk)
                for f in model_fields:
                    params.append(f.get_db_prep_save(getattr(message, f.attname), connection))
            cursor.execute(
                f"WITH v({quoted}) AS (VALUES {', '.join([row_sql] * len(chunk))}) "
                f"UPDATE {table} SET {assignments} FROM v WHERE {table}.id = {id_cast}",
                params,
            )


def _fill(message: Message, item: ReportItem) -> bool:
    """Copy times, parts, cost and reason from a report; True when anything changed."""
    before = (
        message.queued_at,
        message.sent_at,
        message.delivered_at,
        message.parts,
        message.cost,
        message.reason,
        message.dispatched_at,
    )
    if item.queued_at and not message.queued_at:
        message.queued_at = item.queued_at
    if item.sent_at and not message.sent_at:
        message.sent_at = item.sent_at
    if item.delivered_at and not message.delivered_at:
        message.delivered_at = item.delivered_at
    if item.parts:
        message.parts = item.parts
    if item.cost is not None:
        message.cost = item.cost
    if item.reason:
        message.reason = item.reason[:64]
    # The billing month follows the dispatch instant: sent time, else queued time.
    message.dispatched_at = message.sent_at or message.queued_at or message.dispatched_at
    after = (
        message.queued_at,
        message.sent_at,
        message.delivered_at,
        message.parts,
        message.cost,
        message.reason,
        message.dispatched_at,
    )
    return before != after


def _status_time(item: ReportItem, status: Status) -> datetime | None:
    if status == Status.DELIVERED or status == Status.UNDELIVERED:
        return item.delivered_at or item.sent_at
    if status == Status.SENT:
        return item.sent_at
    return item.queued_at


def apply_to_messages(
    pairs: Sequence[tuple[Message, ReportItem]],
    source: str,
    *,
    now: datetime | None = None,
    touched: Iterable[Message] = (),
) -> ApplySummary:
    """Apply reports to messages the caller has already loaded (and locked) in this transaction.

    `touched` are extra messages to save with the same bulk write (e.g. newly matched ids or
    last_checked_at of messages that got no report).
    """
    now = now or timezone.now()
    summary = ApplySummary()
    dirty: dict[int, Message] = {m.pk: m for m in touched}
    billed: list[Message] = []  # status, parts, cost or times changed: drafts must follow
    events: list[StatusEvent] = []
    ignored_candidates: list[tuple[Message, ReportItem, Outcome]] = []

    for message, item in pairs:
        summary.checked += 1
        outcome = decide(message.status, item.status)
        if outcome == Outcome.APPLY:
            new = parse_status(item.status)
            old = message.status
            message.status = new.value
            _fill(message, item)
            events.append(
                StatusEvent(
                    message=message,
                    source=source,
                    old_status=old,
                    new_status=new.value,
                    applied=True,
                    status_at=_status_time(item, new),
                    note=(item.reason or "")[:255],
                    created_at=now,
                )
            )
            summary.changed += 1
            summary.by_status[new.value] += 1
            dirty[message.pk] = message
            billed.append(message)
        elif outcome == Outcome.SAME:
            # The same status again: only blanks (times, cost) may be filled, never an event.
            if _fill(message, item):
                dirty[message.pk] = message
                billed.append(message)
        else:
            ignored_candidates.append((message, item, outcome))
        if source != "callback" or message.pk in dirty:
            message.last_checked_at = now
            dirty[message.pk] = message

    if ignored_candidates:
        # An ignored report is recorded once: a repeated backward report changes nothing.
        already = set(
            StatusEvent.objects.filter(
                message_id__in={m.pk for m, _, _ in ignored_candidates}, applied=False
            ).values_list("message_id", "old_status", "new_status")
        )
        for message, item, outcome in ignored_candidates:
            key = (message.pk, message.status, str(item.status)[:32])
            if key in already:
                continue
            already.add(key)
            summary.ignored += 1
            events.append(
                StatusEvent(
                    message=message,
                    source=source,
                    old_status=message.status,
                    new_status=str(item.status)[:32],
                    applied=False,
                    status_at=_status_time(item, parse_status(item.status) or Status.SENT),
                    note=f"ignored: {outcome.value} report",
                    created_at=now,
                )
            )

    if dirty:
        write_messages(list(dirty.values()))
    if events:
        StatusEvent.objects.bulk_create(events, batch_size=BULK_BATCH_SIZE)
    # The one hook of the money side: draft statements follow every applied batch.
    request_draft_refresh(billed)
    return summary


def apply_reports(
    account: ClientAccount,
    items: Sequence[ReportItem],
    source: str,
    *,
    now: datetime | None = None,
) -> ApplySummary:
    """Apply reports naming SerwerSMS ids (or our unique_ids) of one account's messages."""
    now = now or timezone.now()
    ids = {item.serwersms_id for item in items if item.serwersms_id}
    unique_ids = {item.unique_id for item in items if item.unique_id}
    with transaction.atomic():
        # Lock in primary-key order so concurrent appliers cannot deadlock each other.
        messages = list(
            Message.objects.select_for_update()
            .filter(account=account, serwersms_id__in=ids)
            .order_by("pk")
        )
        by_id = {m.serwersms_id: m for m in messages}
        by_unique = {}
        missing_unique = unique_ids - {m.unique_id for m in messages}
        if missing_unique:
            for m in (
                Message.objects.select_for_update()
                .filter(account=account, unique_id__in=missing_unique)
                .order_by("pk")
            ):
                by_unique[m.unique_id] = m
        pairs = []
        touched = []
        unmatched = 0
        for item in items:
            message = by_id.get(item.serwersms_id) or by_unique.get(item.unique_id)
            if message is None:
                unmatched += 1
                continue
            if not message.serwersms_id and item.serwersms_id:
                # Found by our unique_id (e.g. a send whose answer was lost): learn its id.
                message.serwersms_id = item.serwersms_id
                message.match_method = "unique_id"
                by_id[item.serwersms_id] = message
                touched.append(message)
            pairs.append((message, item))
        summary = apply_to_messages(pairs, source, now=now, touched=touched)
    summary.unmatched += unmatched
    return summary
