"""Daily rollups (models.DailyRollup) kept exact in the writer's own transaction: the arithmetic.

Only services/derived.py calls `record_changes` (docs/derived-data.md); `rebuild` and
`differences` are the repair and the check. Imports models and rules only, no services.

The deltas are written with ONE upsert per batch, keys sorted so that two writers lock rows in
the same order. Rows of today's keys are hot: writers queue on them until they commit, which
keeps them exact. A transaction writing two batches can meet another writer in the opposite
order; PostgreSQL then aborts one (a deadlock error), which the caller's retry covers (poll
passes and API reports are safe to repeat).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import astuple, dataclass, fields
from datetime import date, timedelta
from decimal import Decimal

from django.db import connection, transaction

from billing.commission import BILLING_ZONE, ZERO, billing_day, billing_instant, local_midnight_utc
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


KEY_COLUMNS = tuple(f.name for f in fields(RollupKey))
VALUE_COLUMNS = ("messages", "parts", "cost")
COLUMNS = ", ".join(KEY_COLUMNS + VALUE_COLUMNS)


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
    """The rollup row a message (saved or not) counts in, from its current attribute values: the
    day follows commission.billing_instant, never the instance's billing_at, which the database
    computes and a changed instance does not know."""
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


def record_changes(changes: Iterable[tuple[Keyed | None, Keyed]]) -> int:
    """Move messages between rollup rows, old -1 and new +1 (old None: a new message), in the
    writer's transaction; returns the number of rollup rows written."""
    deltas: dict[RollupKey, Totals] = defaultdict(Totals)
    for old, new in changes:
        if old == new:
            continue
        if old is not None:
            deltas[old.key].add(old, -1)
        deltas[new.key].add(new, +1)
    return apply_deltas(deltas)


def apply_deltas(deltas: Mapping[RollupKey, Totals]) -> int:
    """Add the deltas to their rows: `INSERT ... ON CONFLICT (key) DO UPDATE SET messages =
    r.messages + EXCLUDED.messages, ...`, one statement per batch, keys in index order."""
    rows = sorted((key, totals) for key, totals in deltas.items() if not totals.is_zero)
    if not rows:
        return 0
    table = connection.ops.quote_name(DailyRollup._meta.db_table)
    row_sql = "(" + ", ".join(["%s"] * (len(KEY_COLUMNS) + len(VALUE_COLUMNS))) + ")"
    updates = ", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in VALUE_COLUMNS)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), UPSERT_BATCH):
            chunk = rows[start : start + UPSERT_BATCH]
            params: list = []
            for key, totals in chunk:
                params += [*astuple(key), totals.messages, totals.parts, totals.cost]
            cursor.execute(
                f"INSERT INTO {table} AS r ({COLUMNS}) "
                f"VALUES {', '.join([row_sql] * len(chunk))} "
                f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {updates}",
                params,
            )
    return len(rows)


def _fresh_sql(partner_id: int, days: Days | None) -> tuple[str, list]:
    """PostgreSQL: the messages of one partner summed per rollup key (commission.billing_day in
    SQL: the date of billing_at in the billing zone)."""
    where, params = "partner_id = %s", [partner_id]
    if days is not None:
        first, last = days
        where += " AND billing_at >= %s AND billing_at < %s"
        params += [local_midnight_utc(first), local_midnight_utc(last + timedelta(days=1))]
    sql = (
        "SELECT partner_id, (billing_at AT TIME ZONE %s)::date AS day, account_id, message_type,"
        " status, ic_proof, count(*) AS messages, sum(parts) AS parts,"
        " coalesce(sum(cost), 0) AS cost"
        f" FROM {Message._meta.db_table} WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6"
    )
    return sql, [BILLING_ZONE.key, *params]


def _partners(partner: Partner | None) -> list[Partner]:
    return [partner] if partner is not None else list(Partner.objects.order_by("pk"))


def rebuild(
    partner: Partner | None = None,
    *,
    days: Days | None = None,
    progress: Progress | None = None,
) -> int:
    """Replace a partner's (or each partner's, one transaction each) rollup rows, of `days` if
    given (inclusive billing days), by a fresh aggregate; returns the rows written. Safe twice."""
    written = 0
    table = connection.ops.quote_name(DailyRollup._meta.db_table)
    for one in _partners(partner):
        with transaction.atomic(), connection.cursor() as cursor:
            # Keep writers out while the rows are replaced. A writer that changed messages before
            # the fresh aggregate and applies its deltas after waits here and then moves the
            # fresh rows: the result is exact either way.
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            stale = DailyRollup.objects.filter(partner=one)
            if days is not None:
                stale = stale.filter(day__gte=days[0], day__lte=days[1])
            stale.delete()
            sql, params = _fresh_sql(one.pk, days)
            cursor.execute(f"INSERT INTO {table} ({COLUMNS}) {sql}", params)
            written += cursor.rowcount
        if progress:
            progress(1)
    return written


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
            f" messages/parts/cost {'/'.join(map(str, self.stored))} in rollups,"
            f" {'/'.join(map(str, self.expected))} in messages"
        )


def differences(
    partner: Partner | None = None, *, progress: Progress | None = None
) -> list[Difference]:
    """Compare the rollups with a fresh aggregate of the messages; [] when they agree. Each
    partner in one statement (one snapshot): writers meanwhile make no false difference."""
    table = connection.ops.quote_name(DailyRollup._meta.db_table)
    keys = ", ".join(KEY_COLUMNS)
    found: list[Difference] = []
    for one in _partners(partner):
        fresh, params = _fresh_sql(one.pk, None)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {keys},"
                " coalesce(f.messages, 0), coalesce(f.parts, 0), coalesce(f.cost, 0),"
                " coalesce(s.messages, 0), coalesce(s.parts, 0), coalesce(s.cost, 0)"
                f" FROM ({fresh}) f FULL OUTER JOIN (SELECT * FROM {table} WHERE partner_id = %s) s"
                f" USING ({keys})"
                " WHERE coalesce(f.messages, 0) <> coalesce(s.messages, 0)"
                " OR coalesce(f.parts, 0) <> coalesce(s.parts, 0)"
                " OR coalesce(f.cost, 0) <> coalesce(s.cost, 0)"
                " ORDER BY 1, 2, 3, 4, 5, 6",
                [*params, one.pk],
            )
            found += [
                Difference(
                    RollupKey(*row[:6]),
                    Totals(row[6], int(row[7]), Decimal(row[8])).as_tuple(),
                    Totals(row[9], int(row[10]), Decimal(row[11])).as_tuple(),
                )
                for row in cursor.fetchall()
            ]
        if progress:
            progress(1)
    return found
