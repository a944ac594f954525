"""Daily rollups (models.DailyRollup) kept exact in the writer's own transaction: the arithmetic.

Writers do not call this module: services/derived.py (the one mechanism for derived data,
docs/derived-data.md) calls `record_changes` for them; `rebuild` and `differences` are the
repair and the check.

A rollup row counts the messages of one (partner, billing day, client account, message type,
status, ic proof), the billing day being the Europe/Warsaw date of Message.billing_at
(commission.billing_day), with their parts and known cost. derived.py snapshots the messages a
writer locked (`keyed`), and after the change calls `record_changes(before, messages)`; new
messages are those missing from `before`. The deltas (old key -1, new key +1, parts
and cost moved along) are written with ONE upsert per batch, keys sorted so that two writers
lock rows in the same order. `rebuild` and `differences` recompute from the messages
(`manage.py rollups --rebuild | --check`). Imports models and rules only, no services.

Rows of today's keys are hot: writers of one account's traffic queue on them until they commit,
which is what keeps them exact. A transaction writing two batches (reported messages carrying a
later status) can meet another writer in the opposite order; PostgreSQL then aborts one of the
two (a deadlock error), which the caller's retry covers (poll passes and API reports are safe to
repeat).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction

from billing.commission import (
    BILLING_ZONE,
    ZERO,
    billing_day,
    billing_instant,
    local_midnight_utc,
)
from billing.models import DailyRollup, Message, Partner

UPSERT_BATCH = 500  # rows per upsert statement (9 parameters each)
Progress = Callable[[int], None]
Days = tuple[date, date]  # an inclusive range of billing days


@dataclass(frozen=True, order=True)
class RollupKey:
    """A rollup row's key, in the order of its unique index (partner, day, ...)."""

    partner_id: int
    day: date
    account_id: int
    message_type: str
    status: str
    ic_proof: str  # with the status, the counting rule's class (statuses.billing_class)


@dataclass(frozen=True)
class Keyed:
    """What a message adds to its rollup row: one message, its parts, its cost (0 unknown)."""

    key: RollupKey
    parts: int
    cost: Decimal


@dataclass
class Totals:
    messages: int = 0
    parts: int = 0
    cost: Decimal = ZERO

    def add(self, keyed: Keyed, sign: int) -> None:
        self.messages += sign
        self.parts += sign * keyed.parts
        self.cost += sign * keyed.cost

    @property
    def is_zero(self) -> bool:
        return self.messages == 0 and self.parts == 0 and self.cost == ZERO

    def as_tuple(self) -> tuple[int, int, Decimal]:
        return (self.messages, self.parts, Decimal(self.cost).quantize(Decimal("0.0001")))


def keyed(message: Message) -> Keyed:
    """The rollup row a message (saved or not) counts in, from its current attribute values.

    The day follows commission.billing_instant (dispatched_at, else created_at), never the
    instance's billing_at, which the database computes and a changed instance does not know."""
    instant = billing_instant(message.dispatched_at, message.created_at)
    key = RollupKey(
        partner_id=message.partner_id,
        day=billing_day(instant),
        account_id=message.account_id,
        message_type=str(message.message_type),
        status=str(message.status),
        ic_proof=str(message.ic_proof),
    )
    cost = Decimal(message.cost) if message.cost is not None else ZERO
    return Keyed(key, int(message.parts or 0), cost)


def snapshot(messages: Iterable[Message]) -> dict[int, Keyed]:
    """The keyed values of messages about to change, by primary key: take it after locking them."""
    return {message.pk: keyed(message) for message in messages}


def record_changes(before: Mapping[int, Keyed], messages: Iterable[Message]) -> int:
    """Move changed messages between rollup rows: the snapshot's row -1, the current row +1.

    Call in the transaction that writes the messages. A message missing from `before` is taken
    as new. Returns the number of rollup rows written."""
    deltas: dict[RollupKey, Totals] = defaultdict(Totals)
    for message in messages:
        old, new = before.get(message.pk), keyed(message)
        if old == new:
            continue
        if old is not None:
            deltas[old.key].add(old, -1)
        deltas[new.key].add(new, +1)
    return apply_deltas(deltas)


def record_created(messages: Iterable[Message]) -> int:
    """Count newly written messages (or unsaved stand-ins with the same values) in their rows."""
    deltas: dict[RollupKey, Totals] = defaultdict(Totals)
    for message in messages:
        new = keyed(message)
        deltas[new.key].add(new, +1)
    return apply_deltas(deltas)


def apply_deltas(deltas: Mapping[RollupKey, Totals]) -> int:
    """Add the deltas to their rows: `INSERT ... ON CONFLICT (key) DO UPDATE SET messages =
    r.messages + EXCLUDED.messages, ...`, one statement per batch, keys in index order."""
    rows = sorted((key, totals) for key, totals in deltas.items() if not totals.is_zero)
    if not rows:
        return 0
    quote = connection.ops.quote_name
    table = quote(DailyRollup._meta.db_table)
    key_columns = ["partner_id", "day", "account_id", "message_type", "status", "ic_proof"]
    value_columns = ["messages", "parts", "cost"]
    day_field = DailyRollup._meta.get_field("day")
    cost_field = DailyRollup._meta.get_field("cost")
    row_sql = "(" + ", ".join(["%s"] * (len(key_columns) + len(value_columns))) + ")"
    updates = ", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in value_columns)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), UPSERT_BATCH):
            chunk = rows[start : start + UPSERT_BATCH]
            params: list = []
            for key, totals in chunk:
                params += [
                    key.partner_id,
                    day_field.get_db_prep_save(key.day, connection),
                    key.account_id,
                    key.message_type,
                    key.status,
                    key.ic_proof,
                    totals.messages,
                    totals.parts,
                    cost_field.get_db_prep_save(totals.cost, connection),
                ]
            cursor.execute(
                f"INSERT INTO {table} AS r ({', '.join(key_columns + value_columns)}) "
                f"VALUES {', '.join([row_sql] * len(chunk))} "
                f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {updates}",
                params,
            )
    return len(rows)


# --- the fresh aggregate: rebuild and check -----------------------------------------------------


def _zone_name() -> str:
    return BILLING_ZONE.key


def _bounds(days: Days | None):
    """[start, end) in UTC of an inclusive range of billing days."""
    if days is None:
        return None
    first, last = days
    return local_midnight_utc(first), local_midnight_utc(last + timedelta(days=1))


def _fresh_sql(partner_id: int, days: Days | None) -> tuple[str, list]:
    """PostgreSQL: the messages of one partner summed per rollup key (commission.billing_day in
    SQL: the date of billing_at in the billing zone)."""
    where, params = "partner_id = %s", [partner_id]
    bounds = _bounds(days)
    if bounds is not None:
        where += " AND billing_at >= %s AND billing_at < %s"
        params += list(bounds)
    sql = (
        "SELECT partner_id, (billing_at AT TIME ZONE %s)::date AS day, account_id, message_type,"
        " status, ic_proof, count(*) AS messages, sum(parts) AS parts,"
        " coalesce(sum(cost), 0) AS cost"
        f" FROM {Message._meta.db_table} WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6"
    )
    return sql, [_zone_name(), *params]


def fresh_totals(partner: Partner, days: Days | None = None) -> dict[RollupKey, Totals]:
    """The partner's messages summed per rollup key, computed now (optionally some days only)."""
    result: dict[RollupKey, Totals] = {}
    sql, params = _fresh_sql(partner.pk, days)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for partner_id, day, account_id, message_type, status, proof, n, parts, cost in cursor:
            key = RollupKey(partner_id, day, account_id, message_type, status, proof)
            result[key] = Totals(n, int(parts), Decimal(cost))
    return result


def stored_totals(partner: Partner, days: Days | None = None) -> dict[RollupKey, Totals]:
    """The partner's rollup rows (rows that add nothing are left out)."""
    rows = DailyRollup.objects.filter(partner=partner).order_by()
    if days is not None:
        rows = rows.filter(day__gte=days[0], day__lte=days[1])
    result = {}
    for row in rows.values_list(
        "partner_id",
        "day",
        "account_id",
        "message_type",
        "status",
        "ic_proof",
        "messages",
        "parts",
        "cost",
    ):
        totals = Totals(row[6], row[7], row[8])
        if not totals.is_zero:
            result[RollupKey(*row[:6])] = totals
    return result


def _partners(partner: Partner | None) -> list[Partner]:
    return [partner] if partner is not None else list(Partner.objects.order_by("pk"))


def _lock_rollups() -> None:
    """Keep writers out while one partner's rows are replaced. A writer that changed messages
    before the rebuild's snapshot and applies its deltas after waits here and then moves the
    fresh rows: the result is exact either way."""
    table = connection.ops.quote_name(DailyRollup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")


def rebuild(
    partner: Partner | None = None,
    *,
    days: Days | None = None,
    progress: Progress | None = None,
) -> int:
    """Replace the rollup rows of a partner (or of every partner, one transaction each) by a
    fresh aggregate of its messages; `days` limits it to an inclusive range of billing days.
    Returns the number of rows written. Safe to run at any time and twice."""
    written = 0
    for one in _partners(partner):
        with transaction.atomic():
            _lock_rollups()
            stale = DailyRollup.objects.filter(partner=one)
            if days is not None:
                stale = stale.filter(day__gte=days[0], day__lte=days[1])
            stale.delete()
            written += _insert_fresh(one, days)
        if progress:
            progress(1)
    return written


def _insert_fresh(partner: Partner, days: Days | None) -> int:
    sql, params = _fresh_sql(partner.pk, days)
    table = connection.ops.quote_name(DailyRollup._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (partner_id, day, account_id, message_type, status,"
            f" ic_proof, messages, parts, cost) {sql}",
            params,
        )
        return cursor.rowcount


@dataclass(frozen=True)
class Difference:
    """A rollup row that disagrees with the messages: (messages, parts, cost) each way."""

    key: RollupKey
    expected: tuple[int, int, Decimal]  # a fresh aggregate of the messages
    stored: tuple[int, int, Decimal]  # the rollup row (zeros: no row)

    def __str__(self) -> str:
        k = self.key
        return (
            f"partner {k.partner_id} {k.day} account {k.account_id} {k.message_type} {k.status}"
            f" ({k.ic_proof}):"
            f" messages/parts/cost {_show(self.stored)} in rollups,"
            f" {_show(self.expected)} in messages"
        )


def _show(values: tuple[int, int, Decimal]) -> str:
    return "/".join(str(v) for v in values)


def differences(
    partner: Partner | None = None,
    *,
    days: Days | None = None,
    progress: Progress | None = None,
) -> list[Difference]:
    """Compare the rollups with a fresh aggregate of the messages; [] when they agree.

    Each partner is compared within one snapshot (PostgreSQL: one statement), so writers
    running meanwhile cannot make a false difference. Reads only."""
    found: list[Difference] = []
    for one in _partners(partner):
        found += _differences_sql(one, days)
        if progress:
            progress(1)
    return found


def _differences_sql(partner: Partner, days: Days | None) -> list[Difference]:
    fresh, params = _fresh_sql(partner.pk, days)
    table = connection.ops.quote_name(DailyRollup._meta.db_table)
    stored = f"SELECT * FROM {table} WHERE partner_id = %s"
    params.append(partner.pk)
    if days is not None:
        stored += " AND day >= %s AND day <= %s"
        params += list(days)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT partner_id, day, account_id, message_type, status, ic_proof,"
            f" coalesce(f.messages, 0), coalesce(f.parts, 0), coalesce(f.cost, 0),"
            f" coalesce(s.messages, 0), coalesce(s.parts, 0), coalesce(s.cost, 0)"
            f" FROM ({fresh}) f FULL OUTER JOIN ({stored}) s"
            f" USING (partner_id, day, account_id, message_type, status, ic_proof)"
            f" WHERE coalesce(f.messages, 0) <> coalesce(s.messages, 0)"
            f" OR coalesce(f.parts, 0) <> coalesce(s.parts, 0)"
            f" OR coalesce(f.cost, 0) <> coalesce(s.cost, 0)"
            f" ORDER BY 1, 2, 3, 4, 5, 6",
            params,
        )
        return [
            Difference(
                RollupKey(*row[:6]),
                Totals(row[6], int(row[7]), Decimal(row[8])).as_tuple(),
                Totals(row[9], int(row[10]), Decimal(row[11])).as_tuple(),
            )
            for row in cursor.fetchall()
        ]
