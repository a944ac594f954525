"""Bench traffic generated inside PostgreSQL: the same shape as `data.generate_messages`, at
the speed of `INSERT ... SELECT FROM generate_series` (10M messages in minutes, where the
Python row generator needs hours on a 2-core machine).

The weighted choices of data.py (partner, account, channel, type, parts, status) become lookup
arrays of buckets and CASE expressions over `random()` (seeded with `setseed`), so the shares
are the same as the Python generator's; only the random stream differs. Status events follow
the same history per status (`data._events_for`).
"""

from __future__ import annotations

import datetime as dt
import itertools

from django.db import connection, models, transaction

from billing.commission import month_bounds_utc
from billing.models import Message, StatusEvent
from billing.statuses import COUNTED, values

from . import data

# Dispatched: the statuses that count (statuses.py), as SQL.
DISPATCHED = "status IN (" + ", ".join(f"'{s}'" for s in values(COUNTED)) + ")"

PARTNER_BUCKETS = 10_000
ACCOUNT_BUCKETS = 1_000
CHUNK = 500_000
BULK_LOAD_FROM = 1_000_000


def _buckets(weights: list[float], buckets: int) -> list[int]:
    """Index i of `weights` for each of `buckets` equal slices of [0, 1)."""
    total = sum(weights)
    cumulative = list(itertools.accumulate(w / total for w in weights))
    result, index = [], 0
    for b in range(buckets):
        point = (b + 0.5) / buckets
        while index < len(cumulative) - 1 and point >= cumulative[index]:
            index += 1
        result.append(index)
    return result


def _case(variable: str, table: data._Table) -> tuple[str, list]:
    """CASE over a uniform random `variable` giving table.values with table's weights."""
    total = table.cum[-1]
    parts, params = [], []
    for value, upper in zip(table.values[:-1], table.cum[:-1], strict=True):
        parts.append(f"WHEN {variable} < %s THEN %s")
        params += [upper / total, value]
    params.append(table.values[-1])
    return f"(CASE {' '.join(parts)} ELSE %s END)", params


def _defaults(model: type[models.Model]) -> dict:
    writer = data._Writer(model)
    return writer.defaults


def _insert_messages(
    world: data.BenchWorld,
    first_id: int,
    start: dt.datetime,
    span: float,
    offset: int,
    count: int,
    n: int,
    partner_pick,
    account_pick,
) -> None:
    fields = [f for f in Message._meta.concrete_fields if not getattr(f, "generated", False)]
    channel, channel_params = _case("r_channel", data.CHANNELS)
    mtype, type_params = _case("r_type", data.TYPES)
    parts, parts_params = _case("r_parts", data.PARTS)
    recent, recent_params = _case("r_status", data.RECENT_STATUSES)
    old, old_params = _case("r_status", data.OLD_STATUSES)
    price = (
        "(CASE message_type "
        + " ".join(f"WHEN '{t}' THEN {p}" for t, p in data.PRICE.items())
        + " END)"
    )
    match = (
        "(CASE channel "
        + " ".join(f"WHEN '{c}' THEN '{m}'" for c, m in data.MATCH.items())
        + " END)"
    )
    dispatched = DISPATCHED
    expressions = {
        "id": "id",
        "partner_id": "partner_id",
        "account_id": "account_id",
        "ic": "ic",
        "channel": "channel",
        "serwersms_id": "'b' || lpad(id::text, 11, '0')",
        "unique_id": "'bench-' || id",
        "phone": "'+48' || (500000000 + floor(r_phone * 400000000))::bigint",
        "sender": "CASE WHEN message_type = 'eco' THEN '' ELSE 'SHOP' END",
        "message_type": "message_type",
        "text_length": "20 + floor(r_len * (150 * parts - 20))::int",
        "parts": "parts",
        "cost": f"{price} * parts",
        "status": "status",
        "reason": "CASE status WHEN 'undelivered' THEN 'absent_subscriber' "
        "WHEN 'unsent' THEN 'number_blocked' ELSE '' END",
        "match_method": match,
        "created_at": "created_at",
        "queued_at": "created_at + interval '1 second'",
        "sent_at": f"CASE WHEN {dispatched} THEN created_at + interval '5 seconds' END",
        "delivered_at": "CASE WHEN status = 'delivered' "
        "THEN created_at + interval '40 seconds' END",
        "dispatched_at": f"CASE WHEN {dispatched} THEN created_at + interval '5 seconds' "
        "ELSE created_at + interval '1 second' END",
        "last_checked_at": "CASE WHEN status = 'delivered' THEN created_at + interval '40 seconds' "
        f"WHEN {dispatched} THEN created_at + interval '5 seconds' END",
    }
    defaults = _defaults(Message)
    select, select_params = [], []
    for f in fields:
        if f.attname in expressions:
            select.append(expressions[f.attname])
        else:
            select.append("%s")
            select_params.append(f.get_db_prep_save(defaults.get(f.attname), connection))
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    recent_since = world.now - dt.timedelta(hours=data.RECENT_HOURS)
    sql = f"""
        WITH s AS (
            SELECT %s + g AS id,
                   %s::timestamptz + make_interval(secs => %s * (g + %s + random()) / %s)
                       AS created_at,
                   random() AS r_partner, random() AS r_account, random() AS r_channel,
                   random() AS r_type, random() AS r_parts, random() AS r_status,
                   random() AS r_phone, random() AS r_len
            FROM generate_series(0, %s - 1) AS g
        ), t AS (
            SELECT s.*, (%s::int[])[floor(r_partner * {PARTNER_BUCKETS})::int + 1] AS p_idx,
                   {channel} AS channel, {mtype} AS message_type, {parts} AS parts,
                   CASE WHEN created_at >= %s THEN {recent} ELSE {old} END AS status
            FROM s
        ), u AS (
            SELECT t.*, (%s::bigint[])[p_idx + 1] AS partner_id,
                   (%s::bigint[])[p_idx + 1] AS ic,
                   (%s::bigint[])[p_idx * {ACCOUNT_BUCKETS}
                                  + floor(r_account * {ACCOUNT_BUCKETS})::int + 1] AS account_id
            FROM t
        )
        INSERT INTO {Message._meta.db_table} ({columns})
        SELECT {", ".join(select)} FROM u
    """
    params = [first_id + offset, start, span, offset, count, n]
    params += [partner_pick]
    params += channel_params + type_params + parts_params
    params += [recent_since] + recent_params + old_params
    params += [
        [p.pk for p in world.partners],
        [p.ic for p in world.partners],
        account_pick,
    ]
    params += select_params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _insert_events(low: int, high: int) -> None:
    """Each message's history as data._events_for writes it, for ids in [low, high)."""
    table = Message._meta.db_table
    steps = [
        ("TRUE", "send", "submitting", "queued", "queued_at"),
        (DISPATCHED, "poll", "queued", "sent", "sent_at"),
        ("status = 'delivered'", "callback", "sent", "delivered", "delivered_at"),
        ("status = 'undelivered'", "callback", "sent", "undelivered", "sent_at"),
        ("status = 'unsent'", "poll", "queued", "unsent", "queued_at"),
        ("status = 'in_progress'", "poll", "queued", "in_progress", "queued_at"),
    ]
    fields = [
        f
        for f in StatusEvent._meta.concrete_fields
        if not getattr(f, "generated", False) and f.attname != "id"
    ]
    defaults = _defaults(StatusEvent)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        for condition, source, old, new, at in steps:
            values = {
                "message_id": "id",
                "source": f"'{source}'",
                "old_status": f"'{old}'",
                "new_status": f"'{new}'",
                "applied": "TRUE",
                "status_at": at,
                "created_at": at,
            }
            select, params = [], []
            for f in fields:
                if f.attname in values:
                    select.append(values[f.attname])
                else:
                    select.append("%s")
                    params.append(f.get_db_prep_save(defaults.get(f.attname), connection))
            cursor.execute(
                f"INSERT INTO {StatusEvent._meta.db_table} ({columns}) "
                f"SELECT {', '.join(select)} FROM {table} "
                f"WHERE id >= %s AND id < %s AND {condition}",
                params + [low, high],
            )


def generate_messages(world: data.BenchWorld, total: int, *, seed: int = 13, progress=None):
    """Write `total` messages and their events in PostgreSQL, oldest first (ids follow time)."""
    partner_pick = _buckets(data._partner_weights(), PARTNER_BUCKETS)
    account_pick = []
    for partner in world.partners:
        accounts = world.accounts[partner.pk]
        chosen = _buckets([1 / (n + 1) for n in range(len(accounts))], ACCOUNT_BUCKETS)
        account_pick += [accounts[i].pk for i in chosen]
    first_id = data._next_id(Message)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(seed % 1000) / 1000])
    month_counts = data._month_counts(total, world.months, world.now)
    for period, count in zip(world.months, month_counts, strict=True):
        start, end = month_bounds_utc(period)
        end = min(end, world.now)
        span = (end - start).total_seconds()
        for offset in range(0, count, CHUNK):
            n = min(CHUNK, count - offset)
            with transaction.atomic():
                _insert_messages(
                    world, first_id, start, span, offset, count, n, partner_pick, account_pick
                )
                _insert_events(first_id + offset, first_id + offset + n)
            if progress:
                progress(n)
        first_id += count
    data._reset_sequence(Message)
    data._reset_sequence(StatusEvent)
    data.count_rollups(world)
