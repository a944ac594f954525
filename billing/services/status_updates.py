"""Applying SerwerSMS status reports to messages in bulk: the one status path (docs/status.md,
"One status path": what a report may change, and the statements a batch costs)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from billing import figures
from billing.models import Channel, ClientAccount, EventSource, Message, MessageType, StatusEvent
from billing.services import derived
from billing.serwersms.types import ReportItem
from billing.statuses import DELIVERY_REPORTED, WITH_REASON, Outcome, Status, decide, parse_status

# Columns a status report may change; write_messages writes exactly these.
UPDATED_FIELDS = [
    "status",
    "reason",
    "error_message",
    "message_type",
    "parts",
    "cost",
    "queued_at",
    "sent_at",
    "delivered_at",
    "dispatched_at",
    "last_checked_at",
    "serwersms_id",
    "match_method",
    "serwersms_figures_at",
]


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

    def add(self, other: ApplySummary) -> None:
        for name in ("checked", "changed", "ignored", "unmatched", "errors"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.by_status.update(other.by_status)
        self.error_messages.extend(other.error_messages)

    def as_line(self) -> str:
        statuses = ", ".join(f"{k}={v}" for k, v in sorted(self.by_status.items())) or "none"
        return (
            f"checked {self.checked}, changed {self.changed} ({statuses}), "
            f"ignored {self.ignored}, unmatched {self.unmatched}, errors {self.errors}"
        )


def _json_value(value):
    """A value JSON has no type for, as json_populate_recordset reads it (by the column's type)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not written by the status path")


def _execute_on_rows(model, objects: Sequence, fields: Sequence, statement: str) -> None:
    """Run `WITH v AS (...) statement`, v holding the `fields` of `objects` as rows (ONE JSON
    parameter read by json_populate_recordset: docs/status.md)."""
    if not objects:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    rows = [{f.column: getattr(o, f.attname) for f in fields} for o in objects]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v AS (SELECT * FROM json_populate_recordset(NULL::{table}, %s)) {statement}",
            [json.dumps(rows, default=_json_value)],
        )


def write_messages(messages: Sequence[Message], fields: Sequence[str] = UPDATED_FIELDS) -> None:
    """Save `fields` of many messages with one `UPDATE ... FROM` a row set, joined on the primary
    key (Django's bulk_update builds a CASE per column: it grows with the square of the batch)."""
    quote = connection.ops.quote_name
    table = quote(Message._meta.db_table)
    pk = quote(Message._meta.pk.column)
    model_fields = [Message._meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in model_fields)
    _execute_on_rows(
        Message,
        messages,
        [Message._meta.pk, *model_fields],
        f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{pk} = v.{pk}",
    )


def insert_events(events: Sequence[StatusEvent]) -> None:
    """Write status events with ONE multi-row INSERT."""
    fields = [f for f in StatusEvent._meta.concrete_fields if not f.primary_key]
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(StatusEvent._meta.db_table)
    _execute_on_rows(
        StatusEvent, events, fields, f"INSERT INTO {table} ({names}) SELECT {names} FROM v"
    )


@dataclass(frozen=True)
class StatusChange:
    """One report about one message, from any source, for `apply_status_changes`. With `identify`
    it first names the message in SerwerSMS (send answer, look-up, Email2SMS match): its id, match
    method and parts are learnt. `error_message` explains an unsent decided on our side."""

    message_id: int
    item: ReportItem
    identify: bool = False
    match_method: str = ""
    error_message: str = ""


def _life_start(message: Message) -> datetime:
    """Its creation, or for a reported message (sent before we recorded it) SerwerSMS's queue
    time once known, else the API's own age limit."""
    if message.channel != Channel.REPORTED:
        return message.created_at
    if message.queued_at is not None and message.serwersms_figures_at is not None:
        return message.queued_at
    return message.created_at - timedelta(days=settings.API_REPORTED_MAX_AGE_DAYS)


def _refusal(message: Message, item: ReportItem, now: datetime, identify: bool) -> str:
    """Why a report cannot be true of this message (empty when it can): values no message can
    have, times outside its life (a clock error or a forged report), another SerwerSMS id."""
    problem = figures.cost_problem(item.cost) or figures.parts_problem(item.parts)
    if problem:
        return f"refused: {problem}"
    texts = (item.serwersms_id or "", item.status or "", item.reason or "", item.phone or "")
    if any("\x00" in str(t) for t in texts):
        return "refused: a NUL character in the report"
    if len(item.serwersms_id or "") > 64:
        return "refused: a SerwerSMS id longer than 64 characters"
    outside = figures.times_problems(
        life_start=_life_start(message),
        now=now,
        skew=timedelta(seconds=settings.STATUS_REPORT_TIME_SLACK_SECONDS),
        queued=item.queued_at,
        sent=item.sent_at,
        delivered=item.delivered_at,
        known_queued=message.queued_at,
        known_sent=message.sent_at,
    )
    if outside:
        return "refused: time outside the sane window of the message's life: " + "; ".join(outside)
    if identify and message.serwersms_id and message.serwersms_id != item.serwersms_id:
        return (
            f"refused: SerwerSMS id {item.serwersms_id} but the message has {message.serwersms_id}"
        )
    return ""


# What a callback may fill: never a figure that prices the message (type, parts, cost, dispatch
# time: SerwerSMS's record's), only the delivery time.
CALLBACK_FILLS = frozenset({"delivered_at"})


def _fill(
    message: Message, item: ReportItem, *, moves: bool, callback: bool = False
) -> tuple[bool, list[str]]:
    """Copy a report's data: times only into blanks; type, parts and cost only with a move.

    `moves`: a forward move, or the report that first names the message in SerwerSMS or first
    gives its figures: SerwerSMS's type, parts and cost replace our estimate. A callback fills
    only CALLBACK_FILLS. Returns (changed, disagreements with values already set)."""
    changed, disagreements = False, []
    message_type = item.message_type if item.message_type in MessageType.values else None
    for field_name, value in (
        ("queued_at", item.queued_at),
        ("sent_at", item.sent_at),
        ("delivered_at", item.delivered_at),
        ("message_type", message_type),
        ("parts", item.parts or None),
        ("cost", item.cost),
    ):
        current = getattr(message, field_name)
        if value is None or current == value:
            continue
        settable = current is None or (moves and field_name in ("message_type", "parts", "cost"))
        if settable and not (callback and field_name not in CALLBACK_FILLS):
            setattr(message, field_name, value)
            changed = True
        elif current is not None:
            disagreements.append(f"{field_name} {current} != {value}")
    dispatched = message.sent_at or message.queued_at or message.dispatched_at
    if dispatched != message.dispatched_at:
        # The billing month follows the dispatch instant: sent time, else queued time.
        message.dispatched_at = dispatched
        changed = True
    return changed, disagreements


def _status_time(item: ReportItem, status: Status) -> datetime | None:
    if status in DELIVERY_REPORTED:
        return item.delivered_at or item.sent_at
    if status == Status.SENT:
        return item.sent_at
    return item.queued_at


def apply_status_changes(
    changes: Sequence[StatusChange],
    source: str,
    *,
    now: datetime | None = None,
    checked: Iterable[int] = (),
) -> ApplySummary:
    """Apply status reports to messages in one transaction: THE one path for every status change
    (docs/status.md). `checked`: ids asked about without a report (their last_checked_at is set).
    Safe to repeat."""
    now = now or timezone.now()
    callback = source == EventSource.CALLBACK
    summary = ApplySummary()
    ids = {c.message_id for c in changes} | set(checked)
    if not ids:
        return summary
    with transaction.atomic():
        messages = {
            m.pk: m for m in Message.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        }
        before = derived.snapshot(messages.values())  # status, parts, cost, billing time
        # Every message asked about is checked now (a callback was not asked for).
        dirty: dict[int, Message] = {} if callback else dict(messages)
        for message in dirty.values():
            message.last_checked_at = now
        events: list[StatusEvent] = []
        ignored: list[tuple[Message, str, str, datetime | None]] = []
        for change in changes:
            message = messages.get(change.message_id)
            if message is None:
                summary.unmatched += 1
                continue
            item = change.item
            summary.checked += 1
            reported = str(item.status).replace("\x00", "\\x00")[:32]
            identify = change.identify and bool(item.serwersms_id)
            refusal = _refusal(message, item, now, identify)
            if refusal:
                ignored.append((message, reported, refusal, None))
                continue
            outcome = decide(message.status, item.status)
            new = parse_status(item.status)
            if (
                callback
                and message.channel == Channel.REPORTED
                and message.serwersms_figures_at is None
                and outcome == Outcome.APPLY
            ):
                # SerwerSMS has not given this reported message's figures yet: a callback can
                # never make it count. Recorded; the move waits for SerwerSMS's own report.
                held = "held: waits for SerwerSMS's report of this reported message"
                ignored.append((message, reported, held, _status_time(item, new)))
                continue
            if outcome not in (Outcome.APPLY, Outcome.SAME):
                at = _status_time(item, new or Status.SENT)
                ignored.append((message, reported, f"ignored: {outcome.value} report", at))
                continue
            learns = identify and not message.serwersms_id
            if learns:
                message.serwersms_id = item.serwersms_id
                message.match_method = change.match_method or message.match_method
            first_figures = not callback and message.serwersms_figures_at is None
            if first_figures:
                message.serwersms_figures_at = now
            moves = learns or outcome == Outcome.APPLY or first_figures
            filled, disagreements = _fill(message, item, moves=moves, callback=callback)
            if moves or filled:
                dirty[message.pk] = message
            for disagreement in disagreements:
                ignored.append((message, reported, f"disagrees: {disagreement}", None))
            if outcome == Outcome.SAME:
                continue
            old = message.status
            message.status = new.value
            fallback = (message.reason or new.value) if new in WITH_REASON else ""
            message.reason = (item.reason or fallback)[:64]
            message.error_message = change.error_message[:255] if new == Status.UNSENT else ""
            events.append(
                StatusEvent(
                    message=message,
                    source=source,
                    old_status=old,
                    new_status=new.value,
                    applied=True,
                    status_at=_status_time(item, new),
                    note=(change.error_message or item.reason or "")[:255],
                    created_at=now,
                )
            )
            summary.changed += 1
            summary.by_status[new.value] += 1
        events.extend(_ignored_events(ignored, source, now, summary))
        write_messages(list(dirty.values()))
        derived.messages_changed(before, dirty.values())  # in the same transaction
        insert_events(events)
    return summary


def _ignored_events(
    ignored: list[tuple[Message, str, str, datetime | None]],
    source: str,
    now: datetime,
    summary: ApplySummary,
) -> list[StatusEvent]:
    """One ignored event per (message, stored status, reported status, note): repeats add none."""
    already = set(
        StatusEvent.objects.filter(
            message_id__in={m.pk for m, _, _, _ in ignored}, applied=False
        ).values_list("message_id", "old_status", "new_status", "note")
    )
    events = []
    for message, reported, note, at in ignored:
        key = (message.pk, message.status, reported, note[:255])
        if key in already:
            continue
        already.add(key)
        summary.ignored += 1
        events.append(
            StatusEvent(
                message=message,
                source=source,
                old_status=message.status,
                new_status=reported,
                applied=False,
                status_at=at,
                note=note[:255],
                created_at=now,
            )
        )
    return events


def _can_be_ours(key: str | None) -> bool:
    """Whether an id may name a message: no NUL (PostgreSQL refuses it in a query), at most the
    columns' 64 characters."""
    return "\x00" not in (key or "") and len(key or "") <= 64


def apply_reports(
    account: ClientAccount,
    items: Sequence[ReportItem],
    source: str,
    *,
    now: datetime | None = None,
) -> ApplySummary:
    """Apply reports naming SerwerSMS ids (or our unique_ids) of one account's messages; one
    found by unique_id teaches the message its SerwerSMS id (a lost send answer)."""
    usable = [i for i in items if _can_be_ours(i.serwersms_id) and _can_be_ours(i.unique_id)]
    ids = {item.serwersms_id for item in usable if item.serwersms_id}
    unique_ids = {item.unique_id for item in usable if item.unique_id}
    by_id, by_unique = {}, {}
    # One look-up for both keys, whatever the number of reports (none without keys).
    for pk, serwersms_id, unique_id in Message.objects.filter(
        Q(serwersms_id__in=ids) | Q(unique_id__in=unique_ids), account=account
    ).values_list("pk", "serwersms_id", "unique_id"):
        if serwersms_id in ids:
            by_id[serwersms_id] = pk
        if unique_id in unique_ids:
            by_unique[unique_id] = pk
    changes, unmatched = [], len(items) - len(usable)
    for item in usable:
        pk = by_id.get(item.serwersms_id)
        if pk is not None:
            changes.append(StatusChange(pk, item))
        elif item.unique_id in by_unique:
            changes.append(
                StatusChange(
                    by_unique[item.unique_id], item, identify=True, match_method="unique_id"
                )
            )
        else:
            unmatched += 1
    summary = apply_status_changes(changes, source, now=now)
    summary.unmatched += unmatched
    return summary
