"""Record messages that partner software sent straight to SerwerSMS (channel `reported`).

Idempotent by (client account, SerwerSMS id); each item taken or refused on its own. What the
partner declares is kept as the message's claim (claimed_*), never priced: SerwerSMS's record is
the billing record (docs/api.md, "What you report is your claim, never the bill").
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing import figures
from billing.models import Channel, ClientAccount, EventSource, MatchMethod, Message, StatusEvent
from billing.phones import PhoneError, normalize_phone
from billing.services import derived
from billing.statuses import IcProof, Status

INSERT_BATCH = 1000
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
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
    claim: dict | None = None  # the claim kept for the message (the stored one when existing)
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
    skew = dt.timedelta(seconds=settings.STATUS_REPORT_TIME_SLACK_SECONDS)
    problem = figures.reported_time_problem(
        item.sent_at, now, settings.API_REPORTED_MAX_AGE_DAYS, skew
    )
    if problem:
        result.refuse("sent_at", "out_of_range", problem)
    for name, problem in (
        ("cost", figures.cost_problem(item.cost)),
        ("parts", figures.parts_problem(item.parts)),
    ):
        if problem:  # the status path's own bound: such a figure could never be billed
            result.refuse(name, "out_of_range", problem)
    if E164.match(item.phone):
        # SerwerSMS already took this number (it has an id): one in E.164 is kept as it is;
        # only other spellings need parsing (and validating) into E.164.
        return item.phone
    try:
        return normalize_phone(item.phone, settings.DEFAULT_COUNTRY_REGION)
    except PhoneError as exc:
        result.refuse("phone", "invalid_phone", str(exc))
        return ""


CLAIMS = ["claimed_status", "claimed_type", "claimed_parts", "claimed_cost", "claimed_sent_at"]
# Columns that differ per reported message; every other column is one value for the whole batch.
VARYING = ["ic", "serwersms_id", "unique_id", "phone", "sender", "message_type", "status", *CLAIMS]
EVENT_VARYING = ["message_id", "new_status", "status_at"]


def _new_row(item: Reported, phone: str) -> dict:
    """The row of a new reported message: the partner's figures as its claim only.

    Pending until SerwerSMS reports it; its type is the claimed one until then (a label: a
    pending message earns nothing), its parts the default 1, its cost and times unknown."""
    first_status = Status.SAVED if item.status == Status.SAVED else Status.QUEUED
    return {
        "ic": item.ic,
        "serwersms_id": item.serwersms_id,
        "unique_id": item.unique_id or os.urandom(16).hex(),  # a random id, as uuid4().hex
        "phone": phone,
        "sender": item.sender or "",
        "message_type": item.message_type,
        "status": first_status.value,
        "claimed_status": str(item.status),
        "claimed_type": item.message_type,
        "claimed_parts": item.parts,
        "claimed_cost": item.cost,
        "claimed_sent_at": item.sent_at,
    }


def _claim(row: dict) -> dict:
    return {name.removeprefix("claimed_"): row[name] for name in CLAIMS}


def _constants(model, template, varying: list[str]) -> list[tuple]:
    """(field, value) of every other column, from an unsaved row with the model's defaults."""
    return [
        (f, getattr(template, f.attname))
        for f in model._meta.concrete_fields
        if not f.primary_key and not f.generated and f.attname not in varying
    ]


def copy_rows(rows: list[dict], account: ClientAccount, now: dt.datetime):
    """(columns, tuples) of exactly what the insert writes: for a COPY beside it (bench_ingest)."""
    constants = _constants(Message, _template(account, now), VARYING)
    fields = [f for f, _ in constants] + [Message._meta.get_field(name) for name in VARYING]
    values = [value for _, value in constants]
    return [f.column for f in fields], [values + [row[n] for n in VARYING] for row in rows]


def _template(account: ClientAccount, now: dt.datetime) -> Message:
    return Message(
        partner_id=account.partner_id,
        account_id=account.pk,
        channel=Channel.REPORTED,
        match_method=MatchMethod.REPORTED,
        ic_proof=IcProof.REPORTED,
        created_at=now,
    )


def _insert_ignoring_conflicts(
    rows: list[dict], account: ClientAccount, now: dt.datetime
) -> dict[str, int]:
    """INSERT the rows and their first StatusEvents, skipping any row that hits a unique
    constraint (a concurrent report); {serwersms_id: new id} of the rows written.

    One statement per batch: column arrays through unnest, the events from its RETURNING."""
    constants = _constants(Message, _template(account, now), VARYING)
    event_template = StatusEvent(
        source=EventSource.SEND, old_status="", note=REPORTED_NOTE, created_at=now
    )
    event_constants = _constants(StatusEvent, event_template, EVENT_VARYING)
    quote = connection.ops.quote_name
    fields = [Message._meta.get_field(name) for name in VARYING]
    table = quote(Message._meta.db_table)
    events = quote(StatusEvent._meta.db_table)
    columns = [quote(f.column) for f, _ in constants] + [quote(f.column) for f in fields]
    select = [f"CAST(%s AS {f.db_type(connection)})" for f, _ in constants] + [
        f"v.{quote(f.column)}" for f in fields
    ]
    arrays = ", ".join(f"CAST(%s AS {f.db_type(connection)}[])" for f in fields)
    names = ", ".join(quote(f.column) for f in fields)
    event_columns = [quote(f.column) for f, _ in event_constants]
    sql = (
        f"WITH ins AS (INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(select)} FROM unnest({arrays}) AS v({names}) "
        f"ON CONFLICT DO NOTHING RETURNING id, serwersms_id, status, queued_at), "
        f"ev AS (INSERT INTO {events} ({', '.join(event_columns)}, message_id, new_status, "
        f"status_at) SELECT {', '.join(['%s'] * len(event_constants))}, id, status, queued_at "
        f"FROM ins) SELECT id, serwersms_id FROM ins"
    )
    created: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_BATCH):
            chunk = rows[start : start + INSERT_BATCH]
            params = [f.get_db_prep_save(value, connection) for f, value in constants]
            params += [[row[name] for row in chunk] for name in VARYING]
            params += [f.get_db_prep_save(value, connection) for f, value in event_constants]
            cursor.execute(sql, params)
            created.update({serwersms_id: pk for pk, serwersms_id in cursor.fetchall()})
    return created


def record_reported_messages(
    *, account: ClientAccount, items: Sequence[Reported], now: dt.datetime | None = None
) -> list[ItemResult]:
    """Record `items` for `account` (the API key's); one result per item, in order. Safe to
    call again with the same items: they answer `existing` with the same ids."""
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
        _refuse_taken_unique_ids(account, items, [r for r in pending if r.outcome == CREATED])
        to_write = [r for r in pending if r.outcome == CREATED]
        rows = [_new_row(items[r.index], phones[r.index]) for r in to_write]
        created = _insert_ignoring_conflicts(rows, account, now)
        _record_derived(account, rows, created, now)
        for result, row in zip(to_write, rows, strict=True):
            result.message_id = created.get(row["serwersms_id"])
            result.claim = _claim(row)
        # Another request took these ids (or unique_ids) meanwhile: answer as it did.
        lost_race = [r for r in to_write if r.message_id is None]
        _match_existing(account, items, phones, lost_race)
        for result in lost_race:
            if result.outcome == CREATED:
                result.refuse("unique_id", "conflict", "This unique_id is already used.")
    return results


def _record_derived(
    account: ClientAccount, rows: list[dict], created: dict[str, int], now: dt.datetime
) -> None:
    """Derived data of the rows the insert wrote (not those a concurrent report took): pending
    in the month of their recording until SerwerSMS gives their dispatch time."""
    derived.messages_created(
        Message(
            pk=created[row["serwersms_id"]],
            partner_id=account.partner_id,
            account_id=account.pk,
            created_at=now,
            message_type=row["message_type"],
            status=row["status"],
            ic_proof=IcProof.REPORTED,
        )
        for row in rows
        if row["serwersms_id"] in created
    )


def _match_existing(account, items, phones, results: list[ItemResult]) -> None:
    """Items already recorded for this account: `existing`, or refused if the phone differs."""
    ids = [items[r.index].serwersms_id for r in results]
    known = {
        row["serwersms_id"]: row
        for row in Message.objects.filter(account=account, serwersms_id__in=ids).values(
            "pk", "serwersms_id", "phone", *CLAIMS
        )
    }
    for result in results:
        found = known.get(items[result.index].serwersms_id)
        if found is None:
            continue
        if found["phone"] != phones[result.index]:
            result.refuse(
                "serwersms_id",
                "conflict",
                "This SerwerSMS id is already recorded for this account with another phone.",
            )
        else:
            result.outcome, result.message_id = EXISTING, found["pk"]
            result.claim = _claim(found)


def _refuse_taken_unique_ids(account, items, results: list[ItemResult]) -> None:
    """unique_ids this account already uses (ids are per account, as SerwerSMS scopes them)."""
    given = {items[r.index].unique_id: r for r in results if items[r.index].unique_id}
    for unique_id in Message.objects.filter(account=account, unique_id__in=list(given)).values_list(
        "unique_id", flat=True
    ):
        given[unique_id].refuse(
            "unique_id", "conflict", "This unique_id is already used by another message."
        )
