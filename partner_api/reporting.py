"""Record messages that partner software sent straight to SerwerSMS (channel `reported`).

Idempotent by (client account, SerwerSMS id): a message reported again answers as the first time;
the same id with another phone is refused. Each item is checked on its own: an item whose ic is not
the partner's or whose account is not the key's is refused with the reason, the others are taken.
Rows are written with one `INSERT ... ON CONFLICT DO NOTHING RETURNING` per batch, each with its
first StatusEvent, in one transaction; a status the item carries beyond `queued` goes through the
status-update service like any report. From then on the poll pass follows them like any message.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.models import (
    Channel,
    ClientAccount,
    EventSource,
    MatchMethod,
    Message,
    StatusEvent,
)
from billing.phones import PhoneError, normalize_phone
from billing.services.status_updates import apply_to_messages
from billing.serwersms.types import ReportItem
from billing.statuses import Status

from .rules import reported_time_problem

INSERT_BATCH = 1000
CREATED, EXISTING, REFUSED = "created", "existing", "refused"
REPORTED_NOTE = "reported by partner software"


@dataclass(frozen=True)
class Reported:
    """One message as partner software reports it (already type-checked by the API schema)."""

    serwersms_id: str
    phone: str
    ic: int
    sent_at: dt.datetime
    account: int | None = None
    message_type: str = "eco"
    parts: int = 1
    cost: Decimal | None = None
    unique_id: str | None = None
    sender: str = ""
    status: str = Status.QUEUED


@dataclass
class ItemResult:
    index: int
    serwersms_id: str
    outcome: str = CREATED
    message_id: int | None = None
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (field, code, message)

    def refuse(self, field_name: str, code: str, message: str) -> None:
        self.outcome = REFUSED
        self.errors.append((field_name, code, message))


def _check(item: Reported, result: ItemResult, account: ClientAccount, now: dt.datetime) -> str:
    """Refuse what breaks a rule; the phone in E.164 when the item may be written."""
    partner = account.partner
    if item.ic != partner.ic:
        result.refuse(
            "ic",
            "wrong_ic",
            f"ic {item.ic} is not your partner ic ({partner.ic}): this message earns you nothing"
            " and is not tracked.",
        )
    if item.account is not None and item.account != account.pk:
        result.refuse(
            "account",
            "wrong_account",
            f"Account {item.account} is not the account of this API key ({account.pk}); report"
            " it with that account's key.",
        )
    problem = reported_time_problem(item.sent_at, now, settings.API_REPORTED_MAX_AGE_DAYS)
    if problem:
        result.refuse("sent_at", "out_of_range", problem)
    try:
        return normalize_phone(item.phone, settings.DEFAULT_COUNTRY_REGION)
    except PhoneError as exc:
        result.refuse("phone", "invalid_phone", str(exc))
        return ""


def _new_row(item: Reported, phone: str, account: ClientAccount, now: dt.datetime) -> Message:
    first_status = Status.SAVED if item.status == Status.SAVED else Status.QUEUED
    return Message(
        partner_id=account.partner_id,
        account_id=account.pk,
        ic=item.ic,
        channel=Channel.REPORTED,
        serwersms_id=item.serwersms_id,
        unique_id=item.unique_id or uuid.uuid4().hex,
        phone=phone,
        sender=item.sender or "",
        message_type=item.message_type,
        parts=item.parts,
        cost=item.cost,
        status=first_status,
        match_method=MatchMethod.REPORTED,
        created_at=now,
        queued_at=item.sent_at,
        dispatched_at=item.sent_at,
    )


def _insert_ignoring_conflicts(rows: Sequence[Message]) -> dict[str, int]:
    """INSERT rows, skipping any that hits a unique constraint; {serwersms_id: new id}."""
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    table = quote(Message._meta.db_table)
    created: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_BATCH):
            chunk = rows[start : start + INSERT_BATCH]
            params = [
                f.get_db_prep_save(getattr(row, f.attname), connection)
                for row in chunk
                for f in fields
            ]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_sql] * len(chunk))} "
                f"ON CONFLICT DO NOTHING RETURNING id, {quote('serwersms_id')}",
                params,
            )
            created.update({serwersms_id: pk for pk, serwersms_id in cursor.fetchall()})
    return created


def record_reported_messages(
    *, account: ClientAccount, items: Sequence[Reported], now: dt.datetime | None = None
) -> list[ItemResult]:
    """Record `items` for `account` (the API key's); one result per item, in order.

    Safe to call again with the same items: they answer `existing` with the same ids.
    """
    now = now or timezone.now()
    results = [ItemResult(index=i, serwersms_id=item.serwersms_id) for i, item in enumerate(items)]
    phones: list[str] = []
    seen: set[str] = set()
    for item, result in zip(items, results, strict=True):
        phones.append(_check(item, result, account, now))
        if item.serwersms_id in seen:
            result.refuse(
                "serwersms_id", "duplicate", "This SerwerSMS id is listed twice in the request."
            )
        seen.add(item.serwersms_id)

    with transaction.atomic():
        pending = [r for r in results if r.outcome != REFUSED]
        _match_existing(account, items, phones, pending)
        _refuse_taken_unique_ids(items, [r for r in pending if r.outcome == CREATED])
        to_write = [r for r in pending if r.outcome == CREATED]
        rows = [_new_row(items[r.index], phones[r.index], account, now) for r in to_write]
        created = _insert_ignoring_conflicts(rows)
        lost_race = []
        for result, row in zip(to_write, rows, strict=True):
            row.pk = created.get(row.serwersms_id)
            if row.pk is None:
                lost_race.append(result)
            else:
                result.message_id = row.pk
        if lost_race:
            # Another request took these ids (or unique_ids) meanwhile: answer as it did.
            _match_existing(account, items, phones, lost_race)
            for result in lost_race:
                if result.outcome == CREATED:
                    result.refuse("unique_id", "conflict", "This unique_id is already used.")
        written = [row for row in rows if row.pk is not None]
        StatusEvent.objects.bulk_create(
            [
                StatusEvent(
                    message_id=row.pk,
                    source=EventSource.SEND,
                    old_status="",
                    new_status=row.status,
                    note=REPORTED_NOTE,
                    status_at=row.queued_at,
                    created_at=now,
                )
                for row in written
            ],
            batch_size=INSERT_BATCH,
        )
        _apply_carried_statuses(written, {r.message_id: items[r.index] for r in to_write}, now)
    return results


def _match_existing(account, items, phones, results: list[ItemResult]) -> None:
    """Items already recorded for this account: `existing`, or refused if the phone differs."""
    ids = [items[r.index].serwersms_id for r in results]
    known = {
        serwersms_id: (pk, phone)
        for pk, serwersms_id, phone in Message.objects.filter(
            account=account, serwersms_id__in=ids
        ).values_list("pk", "serwersms_id", "phone")
    }
    for result in results:
        found = known.get(items[result.index].serwersms_id)
        if found is None:
            continue
        pk, phone = found
        if phone != phones[result.index]:
            result.refuse(
                "serwersms_id",
                "conflict",
                "This SerwerSMS id is already recorded for this account with another phone.",
            )
        else:
            result.outcome, result.message_id = EXISTING, pk


def _refuse_taken_unique_ids(items, results: list[ItemResult]) -> None:
    given = {items[r.index].unique_id: r for r in results if items[r.index].unique_id}
    if not given:
        return
    for unique_id in Message.objects.filter(unique_id__in=list(given)).values_list(
        "unique_id", flat=True
    ):
        given[unique_id].refuse(
            "unique_id", "conflict", "This unique_id is already used by another message."
        )


def _apply_carried_statuses(rows: list[Message], items: dict, now: dt.datetime) -> None:
    """A status beyond the first one (in progress, unsent) goes through the one status path."""
    pairs = []
    for row in rows:
        item = items[row.pk]
        if item.status != row.status:
            report = ReportItem(
                serwersms_id=row.serwersms_id,
                phone=row.phone,
                status=item.status,
                queued_at=item.sent_at,
                parts=item.parts,
                cost=item.cost,
                reason=REPORTED_NOTE if item.status == Status.UNSENT else "",
            )
            pairs.append((row, report))
    if pairs:
        apply_to_messages(pairs, EventSource.SEND, now=now)
