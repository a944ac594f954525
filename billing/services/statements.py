"""Monthly statements: build or rebuild a month's draft, priced in one SQL statement.

A draft follows every change of what it bills: services/derived.py queues, on commit of the
writer's transaction, a task that rebuilds the affected drafts (`refresh_draft_statements`).
What a draft carries from closed months (adjustments, a credit) comes from late_changes.py;
closing is statement_closing.py's, payouts payouts.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from billing.commission import (
    BILLING_ZONE,
    ZERO,
    Terms,
    amount_sql,
    format_period,
    month_bounds_utc,
    next_month,
    present_statement,
    rate_sql,
    vat_split,
)
from billing.models import (
    Adjustment,
    AuditAction,
    AuditEntry,
    Message,
    Partner,
    Statement,
    StatementDay,
    StatementItem,
    StatementLine,
    StatementStatus,
)
from billing.selectors import AgreementVersions, agreement_versions
from billing.services import late_changes
from billing.statuses import COUNTED, NEVER_COUNTED, PENDING, PROVEN, IcProof, Status

CHUNK_SIZE = 5000
AUDIT_DETAIL_LIMIT = 200  # adjustments listed one by one in an audit entry; the rest summed
Progress = Callable[[int], None]


class StatementError(Exception):
    """A statement operation that cannot be done; the message says why."""


@dataclass
class BuildResult:
    statement: Statement
    skipped_closed: bool = False
    adjustments: int = 0


def build_statements(
    period: date, *, partner: Partner | None = None, actor: str, progress: Progress | None = None
) -> list[BuildResult]:
    """Build or rebuild the draft statements of a month (one partner, or every partner)."""
    if partner is not None:
        partners = [partner]
    else:
        month_traffic = Message.objects.filter(partner_id=OuterRef("pk")).in_billing_month(period)
        partners = Partner.objects.filter(
            Q(is_active=True) | Exists(month_traffic) | Q(statements__period=period)
        ).distinct()
    return [build_statement(p, period, actor=actor, progress=progress) for p in partners]


def build_statement(
    partner: Partner, period: date, *, actor: str, progress: Progress | None = None
) -> BuildResult:
    """Build or rebuild one draft statement (priced_month_sql); a closed one is left as it is."""
    period = period.replace(day=1)
    with transaction.atomic():
        Statement.objects.get_or_create(partner=partner, period=period)
        statement = Statement.objects.select_for_update().get(partner=partner, period=period)
        if statement.is_closed:
            return BuildResult(statement, skipped_closed=True)
        # Rebuilding starts from nothing: the same messages give the same statement. (The items
        # are rewritten where they differ: see priced_month_sql.)
        for model in (StatementDay, StatementLine, Adjustment):
            model.objects.filter(statement=statement).delete()

        start, end = month_bounds_utc(period)
        queue = late_changes.late_change_queue(partner)
        billed = late_changes.billed_on_closed(queue, start, end)
        lines, forecast = _price_in_database(
            statement, agreement_versions(partner, start, end), billed, progress
        )
        carried_from = late_changes.closed_months_carried_by(statement)
        adjustments = late_changes.adjustments_for(statement, carried_from, queue)
        Adjustment.objects.bulk_create(adjustments, batch_size=CHUNK_SIZE)
        credit_from, opening_credit = late_changes.opening_credit(statement, carried_from)
        StatementLine.objects.bulk_create(lines, batch_size=CHUNK_SIZE)

        statement.currency = settings.BILLING_CURRENCY
        for name in (
            "counted_messages",
            "counted_parts",
            "pending_messages",
            "unsent_messages",
            "unconfirmed_messages",
            "unconfirmed_parts",
        ):
            setattr(statement, name, sum(getattr(line, name) for line in lines))
        for name in ("commission", "unconfirmed_commission"):
            setattr(statement, name, sum((getattr(line, name) for line in lines), ZERO))
        statement.forecast_commission = forecast
        statement.adjustments_total = sum((a.amount for a in adjustments), ZERO)
        # The rounding line, credit carried forward, payable total and VAT, as the document prints.
        shown = present_statement(
            [line.commission for line in lines], [a.amount for a in adjustments], opening_credit
        )
        statement.printed_commission = sum(shown.lines, ZERO)
        statement.printed_adjustments = sum(shown.adjustments, ZERO)
        for name in ("opening_credit", "rounding", "carried_forward", "total"):
            setattr(statement, name, getattr(shown, name))
        statement.opening_credit_from = credit_from
        statement.vat_rate = statement.partner.vat_rate
        split = vat_split(shown.total, statement.vat_rate)
        statement.vat, statement.gross = split.vat, split.gross
        # One number per partner and month, e.g. PP/5001/2026/10.
        statement.number = f"PP/{statement.partner.ic}/{statement.period:%Y/%m}"
        statement.checksum = ""
        statement.built_at = timezone.now()
        statement.save()
        _audit_build(statement, actor, adjustments)
    return BuildResult(statement, adjustments=len(adjustments))


# --- the month priced in PostgreSQL ------------------------------------------------------------


def _version_sql(versions: AgreementVersions) -> tuple[str, list]:
    """The agreement id valid at billing_at (VersionPicker.at: versions never overlap)."""
    whens, params = [], []
    for span in versions.picker.spans:
        condition, condition_params = "billing_at >= %s", [span.start]
        if span.end is not None:
            condition += " AND billing_at < %s"
            condition_params.append(span.end)
        whens.append(f"WHEN {condition} THEN CAST(%s AS bigint)")
        params += [*condition_params, span.terms.ref]
    if not whens:
        return "CAST(NULL AS bigint)", []
    return f"CASE {' '.join(whens)} END", params


def _by_version_sql(
    versions: AgreementVersions, expression: Callable[[Terms], tuple[str, list]]
) -> tuple[str, list]:
    """CASE agreement_id WHEN <version> THEN expression(terms) ... ELSE 0 (no agreement)."""
    whens, params = [], []
    for span in versions.picker.spans:
        sql, sql_params = expression(span.terms)
        whens.append(f"WHEN agreement_id = CAST(%s AS bigint) THEN {sql}")
        params += [span.terms.ref, *sql_params]
    if not whens:
        return "0", []
    return f"CASE {' '.join(whens)} ELSE 0 END", params


class _Params:
    """Named parameters for a statement put together from pieces: `q(sql, params)` returns the
    piece with each `%s` renamed `%(pN)s` and keeps its value, so pieces can be written in
    any order."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def __call__(self, sql: str, params: Iterable = ()) -> str:
        pieces = sql.split("%s")
        named = [pieces[0]]
        for value, piece in zip(params, pieces[1:], strict=True):  # one parameter per %s
            name = f"p{len(self.values)}"
            self.values[name] = value
            named += [f"%({name})s", piece]
        return "".join(named)


def priced_month_sql(
    statement_id: int,
    partner_id: int,
    period: date,
    versions: AgreementVersions,
    billed: Iterable[int],
) -> tuple[str, dict]:
    """The one statement that prices a month in PostgreSQL and writes the StatementItems that
    differ; returns (sql, params). How and why it is built so: docs/scale.md, "What is
    set-based". Pending and reported-but-unconfirmed messages rank after the counted ones and
    are never in the items. Rows: (kind, is_line, account, type, agreement, day, messages,
    parts, amount, delivered, undelivered); kind "c" counted lines (is_line 1) and Warsaw days
    (is_line 0), "p" pending lines (amount: the forecast), "u" unsent, "r" unconfirmed lines."""
    start, end = month_bounds_utc(period)
    q = _Params()
    version_sql, version_params = _version_sql(versions)
    rate_case, rate_params = _by_version_sql(
        versions, lambda t: rate_sql(t, ordinal="ordinal", message_type="message_type")
    )
    amount_case, amount_params = _by_version_sql(
        versions, lambda t: (amount_sql(t.basis, rate="rate", parts="parts", cost="cost"), [])
    )
    messages = connection.ops.quote_name(Message._meta.db_table)
    items = connection.ops.quote_name(StatementItem._meta.db_table)

    def month(statuses, proofs=frozenset(IcProof)) -> str:
        """The month's messages of these statuses and ic proofs (statuses.billing_class)."""
        values = sorted(s.value for s in statuses)
        proof_values = sorted(p.value for p in proofs)
        return q(
            "partner_id = %s AND billing_at >= %s AND billing_at < %s "
            f"AND status IN ({', '.join(['%s'] * len(values))}) "
            f"AND ic_proof IN ({', '.join(['%s'] * len(proof_values))})",
            [partner_id, start, end, *values, *proof_values],
        )

    def version() -> str:
        return q(version_sql, version_params)

    def priced(ranked: str) -> str:
        rate = q(rate_case, rate_params)
        rated = f"(SELECT ranked.*, {rate} AS rate FROM {ranked} ranked)"
        return f"SELECT rated.*, {q(amount_case, amount_params)} AS amount FROM {rated} rated"

    def after_counted(statuses, proofs) -> str:
        """These messages priced as ranking after the counted ones."""
        return priced(
            f"""(
            SELECT account_id, message_type, parts, cost, {version()} AS agreement_id,
                   (SELECT count(*) FROM priced)
                   + row_number() OVER (ORDER BY billing_at, id) AS ordinal
            FROM {messages} WHERE {month(statuses, proofs)}
        )"""
        )

    counted = f"""(
            SELECT id, account_id, message_type, parts, cost, status, billing_at,
                   {version()} AS agreement_id,
                   row_number() OVER (ORDER BY billing_at, id) AS ordinal
            FROM {messages}
            WHERE {month(COUNTED, PROVEN)}
              AND id <> ALL(CAST({q("%s", [sorted(billed)])} AS bigint[]))
        )"""
    counted_priced = priced(counted)
    pending_priced = after_counted(PENDING, set(IcProof) - {IcProof.REFUTED})
    unconfirmed_priced = after_counted(COUNTED, {IcProof.REPORTED})
    sql = f"""
    WITH priced AS ({counted_priced}),
    pending AS ({pending_priced}),
    unconfirmed AS ({unconfirmed_priced}),
    old AS (
        SELECT id, message_id, agreement_id, status, parts, rate, cost, amount
        FROM {items} WHERE statement_id = {q("%s", [statement_id])}
    ),
    -- A rebuild writes only the items that differ (every part sees the items as they were).
    differ AS (
        SELECT o.id AS item_id, p.id AS message_id, p.agreement_id, p.status, p.parts, p.rate,
               p.cost, p.amount, p.ordinal
        FROM priced p FULL JOIN old o ON o.message_id = p.id
        WHERE o.id IS NULL OR p.id IS NULL
           OR (o.agreement_id, o.status, o.parts, o.rate, o.cost, o.amount)
              IS DISTINCT FROM (p.agreement_id, p.status, p.parts, p.rate, p.cost, p.amount)
    ),
    removed AS (
        DELETE FROM {items}
        WHERE id = ANY(ARRAY(SELECT item_id FROM differ WHERE message_id IS NULL))
    ),
    changed AS (
        UPDATE {items} i
        SET agreement_id = d.agreement_id, status = d.status, parts = d.parts, rate = d.rate,
            cost = d.cost, amount = d.amount
        FROM differ d
        WHERE i.id = d.item_id AND d.message_id IS NOT NULL
          AND i.id = ANY(ARRAY(
              SELECT item_id FROM differ WHERE item_id IS NOT NULL AND message_id IS NOT NULL
          ))
    ),
    added AS (
        INSERT INTO {items}
            (statement_id, message_id, agreement_id, status, parts, rate, cost, amount)
        SELECT {q("%s", [statement_id])}, message_id, agreement_id, status, parts, rate, cost,
               amount
        FROM differ WHERE item_id IS NULL ORDER BY ordinal
    )
    SELECT 'c', GROUPING(day), account_id, message_type, agreement_id, day,
           count(*), sum(parts), sum(amount),
           count(*) FILTER (WHERE status = {q("%s", [Status.DELIVERED.value])}),
           count(*) FILTER (WHERE status = {q("%s", [Status.UNDELIVERED.value])})
    FROM (
        SELECT account_id, message_type, agreement_id, parts, amount, status,
               CAST(billing_at AT TIME ZONE {q("%s", [BILLING_ZONE.key])} AS date) AS day
        FROM priced
    ) figures
    GROUP BY GROUPING SETS ((account_id, message_type, agreement_id), (day))
    UNION ALL
    SELECT 'p', 1, account_id, message_type, agreement_id, NULL, count(*), 0, sum(amount), 0, 0
    FROM pending GROUP BY account_id, message_type, agreement_id
    UNION ALL
    SELECT 'r', 1, account_id, message_type, agreement_id, NULL, count(*), sum(parts),
           sum(amount), 0, 0
    FROM unconfirmed GROUP BY account_id, message_type, agreement_id
    UNION ALL
    SELECT 'u', 1, account_id, message_type, agreement_id, NULL, count(*), 0, 0, 0, 0
    FROM (
        SELECT account_id, message_type, {version()} AS agreement_id
        FROM {messages} WHERE {month(NEVER_COUNTED)}
    ) unsent
    GROUP BY account_id, message_type, agreement_id
    """
    return sql, q.values


def _price_in_database(
    statement: Statement, versions: AgreementVersions, billed: set[int], progress: Progress | None
) -> tuple[list[StatementLine], Decimal]:
    """Price the month with priced_month_sql and write its days; returns the lines (unsaved,
    in order) and the pending forecast."""
    sql, params = priced_month_sql(
        statement.pk, statement.partner_id, statement.period, versions, billed
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    lines: dict[tuple, StatementLine] = {}
    days, counted_total, forecast = [], 0, ZERO
    for row in rows:
        kind, is_line, account_id, message_type, agreement_id, day, n, parts, amount = row[:9]
        if not is_line:
            days.append(
                StatementDay(statement=statement, day=day, counted_messages=n, commission=amount)
            )
            continue
        key = (account_id, message_type, agreement_id)
        if key not in lines:
            lines[key] = StatementLine(
                statement=statement,
                account_id=account_id,
                message_type=message_type,
                agreement_id=agreement_id,
                commission=ZERO,
                unconfirmed_commission=ZERO,
            )
        line = lines[key]
        if kind == "c":
            line.counted_messages += n
            line.counted_parts += parts
            line.commission += amount
            line.delivered_messages += row[9]
            line.undelivered_messages += row[10]
            counted_total += n
        elif kind == "p":
            line.pending_messages += n
            forecast += amount
        elif kind == "r":
            line.unconfirmed_messages += n
            line.unconfirmed_parts += parts
            line.unconfirmed_commission += amount
        else:
            line.unsent_messages += n
    StatementDay.objects.bulk_create(sorted(days, key=lambda d: d.day))
    if progress:
        progress(counted_total)
    ordered = sorted(lines, key=lambda key: (key[0], key[1], key[2] or 0))
    return [lines[key] for key in ordered], forecast


def _audit_build(statement: Statement, actor: str, adjustments: list[Adjustment]) -> None:
    entry = {"partner_id": statement.partner_id, "statement": statement, "actor": actor}
    entries = [
        AuditEntry(
            **entry,
            action=AuditAction.BUILD,
            detail={
                "period": format_period(statement.period),
                "counted_messages": statement.counted_messages,
                "commission": str(statement.printed_commission),
                "adjustments_total": str(statement.printed_adjustments),
                "total": str(statement.total),
            },
        )
    ]
    if adjustments:
        listed = [
            {
                "message_id": a.message_id,
                "original_period": format_period(a.original_period),
                "old_status": a.old_status,
                "new_status": a.new_status,
                "amount": str(a.amount),
            }
            for a in adjustments[:AUDIT_DETAIL_LIMIT]
        ]
        total = str(statement.adjustments_total)
        entries.append(
            AuditEntry(
                **entry,
                action=AuditAction.ADJUST,
                detail={"count": len(adjustments), "total": total, "adjustments": listed},
            )
        )
    AuditEntry.objects.bulk_create(entries)


def refresh_draft_statements(
    partner: Partner, periods: Iterable[date], *, requested_at: datetime | None = None
) -> list[Statement]:
    """Rebuild the partner's drafts for these months and every other open draft it has (late
    changes of closed months land there). Drafts built after `requested_at` are skipped.
    Closed months are left alone. Safe to run twice or concurrently (build locks the row)."""
    statuses = dict(Statement.objects.filter(partner=partner).values_list("period", "status"))
    wanted = {p for p, status in statuses.items() if status == StatementStatus.DRAFT}
    for period in {p.replace(day=1) for p in periods}:
        # A change in a closed month lands on the first open month after it: make sure it exists.
        while statuses.get(period) == StatementStatus.CLOSED:
            period = next_month(period)
        wanted.add(period)
    fresh = Statement.objects.none()  # built after `requested_at`: nothing to redo
    if requested_at is not None:
        fresh = Statement.objects.filter(partner=partner, built_at__gte=requested_at)
    rebuilt = []
    for period in sorted(wanted):
        if fresh.filter(period=period).exists():  # asked month by month: builds go on meanwhile
            continue
        # A month closed meanwhile is left alone by build_statement itself.
        result = build_statement(partner, period, actor="system")
        if not result.skipped_closed:
            rebuilt.append(result.statement)
    return rebuilt
