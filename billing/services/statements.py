"""Monthly statements: build or rebuild drafts, carry late changes as adjustments, close.

A closed statement never changes (model guards and database triggers); a late status change of
one of its messages becomes an Adjustment on the partner's next open (draft) statement, and a
negative balance becomes a credit the next statement opens with. Drafts follow every status
change: status services call `request_draft_refresh`, a task rebuilds the affected drafts.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import (
    Exists,
    Max,
    OuterRef,
    Q,
)
from django.template.loader import render_to_string
from django.utils import timezone, translation

from billing.commission import (
    BILLING_ZONE,
    ZERO,
    Rates,
    Terms,
    Tier,
    VersionPicker,
    VersionSpan,
    amount_sql,
    billing_instant,
    billing_month,
    can_close,
    date_range_utc,
    format_period,
    message_amount,
    month_bounds_utc,
    next_month,
    present_statement,
    rate_sql,
    review_window_end,
    vat_split,
)
from billing.models import (
    Adjustment,
    Agreement,
    AuditAction,
    AuditEntry,
    LateChange,
    Message,
    Partner,
    Payout,
    PayoutStatus,
    StaffRole,
    Statement,
    StatementDay,
    StatementItem,
    StatementLine,
    StatementStatus,
)
from billing.statuses import (
    COUNTED,
    NEVER_COUNTED,
    PENDING,
    PROVEN,
    BillingClass,
    IcProof,
    Status,
    billing_class,
)

logger = logging.getLogger(__name__)

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


@dataclass
class _Line:
    counted_messages: int = 0
    counted_parts: int = 0
    pending_messages: int = 0
    unsent_messages: int = 0
    delivered_messages: int = 0  # of the counted, by status at the build (closed months' pages)
    undelivered_messages: int = 0
    commission: Decimal = ZERO
    forecast: Decimal = ZERO
    # Reported, dispatched, ic not yet confirmed: apart, never in the billed figures above.
    unconfirmed_messages: int = 0
    unconfirmed_parts: int = 0
    unconfirmed_commission: Decimal = ZERO


@dataclass
class _Versions:
    picker: VersionPicker
    terms: dict[int, Terms] = field(default_factory=dict)


def terms_of(agreement: Agreement) -> Terms:
    """An Agreement (with its tiers) as the pure commission terms."""
    return Terms(
        basis=agreement.basis,
        rates=Rates.of(agreement),
        tiers=tuple(Tier(t.from_volume, Rates.of(t)) for t in agreement.tiers.all()),
        ref=agreement.pk,
    )


def _versions(partner: Partner, start: datetime, end: datetime) -> _Versions:
    """The agreement versions of a partner valid at some point of [start, end)."""
    spans, terms = [], {}
    agreements = Agreement.objects.filter(partner=partner).prefetch_related("tiers")
    for agreement in agreements:
        span_start, span_end = date_range_utc(agreement.valid_from, agreement.valid_to)
        if span_start >= end or (span_end is not None and span_end <= start):
            continue
        version = terms_of(agreement)
        spans.append(VersionSpan(span_start, span_end, version))
        terms[agreement.pk] = version
    return _Versions(VersionPicker(spans), terms)


def _billed_on_closed_statement():
    return StatementItem.objects.filter(
        message_id=OuterRef("pk"), statement__status=StatementStatus.CLOSED
    )


def partners_for_period(period: date):
    month_traffic = Message.objects.filter(partner_id=OuterRef("pk")).in_billing_month(period)
    return Partner.objects.filter(
        Q(is_active=True) | Exists(month_traffic) | Q(statements__period=period)
    ).distinct()


def build_statements(
    period: date, *, partner: Partner | None = None, actor: str, progress: Progress | None = None
) -> list[BuildResult]:
    """Build or rebuild the draft statements of a month (one partner, or every partner)."""
    partners = [partner] if partner is not None else list(partners_for_period(period))
    return [build_statement(p, period, actor=actor, progress=progress) for p in partners]


def build_statement(
    partner: Partner,
    period: date,
    *,
    actor: str,
    progress: Progress | None = None,
) -> BuildResult:
    """Build or rebuild one draft statement; a closed statement is left as it is.

    The month is priced by one SQL statement: ranked, priced, its items written and its lines
    and days summed without a row passing through Python.
    """
    period = period.replace(day=1)
    with transaction.atomic():
        Statement.objects.get_or_create(partner=partner, period=period)
        statement = Statement.objects.select_for_update().get(partner=partner, period=period)
        if statement.is_closed:
            return BuildResult(statement, skipped_closed=True)
        # Rebuilding starts from nothing: the same messages give the same statement. (The items
        # are rewritten where they differ: see priced_month_sql.)
        StatementDay.objects.filter(statement=statement).delete()
        StatementLine.objects.filter(statement=statement).delete()
        Adjustment.objects.filter(statement=statement).delete()

        start, end = month_bounds_utc(period)
        versions = _versions(partner, start, end)
        queue = _late_change_queue(partner)
        billed = _billed_on_closed(queue, start, end)
        lines: dict[tuple, _Line] = defaultdict(_Line)
        _price_in_database(statement, partner, period, versions, lines, billed, progress)
        carried_from = _closed_months_carried_by(statement)
        adjustments = _adjustments(statement, carried_from, queue)
        Adjustment.objects.bulk_create(adjustments, batch_size=CHUNK_SIZE)
        credit_from, opening_credit = _opening_credit(statement, carried_from)

        StatementLine.objects.bulk_create(
            [
                StatementLine(
                    statement=statement,
                    account_id=account_id,
                    message_type=message_type,
                    agreement_id=agreement_id,
                    counted_messages=line.counted_messages,
                    counted_parts=line.counted_parts,
                    pending_messages=line.pending_messages,
                    unsent_messages=line.unsent_messages,
                    delivered_messages=line.delivered_messages,
                    undelivered_messages=line.undelivered_messages,
                    commission=line.commission,
                    unconfirmed_messages=line.unconfirmed_messages,
                    unconfirmed_parts=line.unconfirmed_parts,
                    unconfirmed_commission=line.unconfirmed_commission,
                )
                for (account_id, message_type, agreement_id), line in sorted(
                    lines.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)
                )
            ],
            batch_size=CHUNK_SIZE,
        )
        values = list(lines.values())
        statement.currency = settings.BILLING_CURRENCY
        statement.counted_messages = sum(v.counted_messages for v in values)
        statement.counted_parts = sum(v.counted_parts for v in values)
        statement.pending_messages = sum(v.pending_messages for v in values)
        statement.unsent_messages = sum(v.unsent_messages for v in values)
        statement.commission = sum((v.commission for v in values), ZERO)
        statement.forecast_commission = sum((v.forecast for v in values), ZERO)
        statement.unconfirmed_messages = sum(v.unconfirmed_messages for v in values)
        statement.unconfirmed_parts = sum(v.unconfirmed_parts for v in values)
        statement.unconfirmed_commission = sum((v.unconfirmed_commission for v in values), ZERO)
        statement.adjustments_total = sum((a.amount for a in adjustments), ZERO)
        _set_printed_figures(
            statement,
            [v.commission for v in values],
            [a.amount for a in adjustments],
            opening_credit,
            credit_from,
        )
        statement.checksum = ""
        statement.built_at = timezone.now()
        statement.save()
        _audit_build(statement, actor, adjustments)
    return BuildResult(statement, adjustments=len(adjustments))


def statement_number(partner: Partner, period: date) -> str:
    """The statement's number: one per partner and month, e.g. PP/5001/2026/10."""
    return f"PP/{partner.ic}/{period:%Y/%m}"


def _set_printed_figures(statement, line_amounts, adjustment_amounts, opening, credit_from):
    """Rounding line, credit carried forward, payable total and VAT, as the document prints."""
    shown = present_statement(line_amounts, adjustment_amounts, opening)
    statement.printed_commission = sum(shown.lines, ZERO)
    statement.printed_adjustments = sum(shown.adjustments, ZERO)
    statement.opening_credit = shown.opening_credit
    statement.opening_credit_from = credit_from
    statement.rounding = shown.rounding
    statement.carried_forward = shown.carried_forward
    statement.total = shown.total
    statement.vat_rate = statement.partner.vat_rate
    split = vat_split(shown.total, statement.vat_rate)
    statement.vat, statement.gross = split.vat, split.gross
    statement.number = statement_number(statement.partner, statement.period)


def _opening_credit(draft: Statement, carried_from: list[Statement]):
    """The credit (negative balance) of closed months this draft follows, not yet used up.

    A closed month's credit lands once, on the next open statement (like its adjustments); a
    statement that opened with a credit used up every credit of the months before its source.
    """
    used_up = Statement.objects.filter(
        partner_id=draft.partner_id,
        status=StatementStatus.CLOSED,
        opening_credit_from__isnull=False,
    ).aggregate(last=Max("opening_credit_from__period"))["last"]
    sources = [
        s
        for s in carried_from
        if s.carried_forward > ZERO and (used_up is None or s.period > used_up)
    ]
    if not sources:
        return None, ZERO
    return sources[-1], -sum((s.carried_forward for s in sources), ZERO)


# --- the month priced in PostgreSQL ------------------------------------------------------------


def _version_sql(versions: _Versions) -> tuple[str, list]:
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
    versions: _Versions, expression: Callable[[Terms], tuple[str, list]]
) -> tuple[str, list]:
    """CASE agreement_id WHEN <version> THEN expression(terms) ... ELSE 0 (no agreement)."""
    whens, params = [], []
    for ref, terms in versions.terms.items():
        sql, sql_params = expression(terms)
        whens.append(f"WHEN agreement_id = CAST(%s AS bigint) THEN {sql}")
        params += [ref, *sql_params]
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
        values = list(params)
        if len(values) != len(pieces) - 1:
            raise ValueError("one parameter per %s")
        named = [pieces[0]]
        for value, piece in zip(values, pieces[1:], strict=True):
            name = f"p{len(self.values)}"
            self.values[name] = value
            named += [f"%({name})s", piece]
        return "".join(named)


def priced_month_sql(
    statement_id: int, partner_id: int, period: date, versions: _Versions, billed: Iterable[int]
) -> tuple[str, dict]:
    """The one statement that prices a month in PostgreSQL; returns (sql, params).

    Ranks the counted messages by (billing_at, id) (the tier ordinal, as commission.rate_for
    counts), pending ones after them, and apart the reported dispatched messages whose ic
    SerwerSMS has not confirmed yet (after the counted ones: what they would earn once
    confirmed; never in the items or the billed lines); picks the agreement version by
    billing_at and the rate and amount with commission.rate_sql / amount_sql; writes the
    StatementItems (a rebuild deletes, updates and inserts only the items that differ; new
    ones in billing order). Returns rows
    (kind, is_line, account, type, agreement, day, messages, parts, amount): kind "c" counted
    lines (is_line 1) and Warsaw days (is_line 0), "p" pending lines (amount: the forecast),
    "u" unsent lines, "r" reported-not-yet-confirmed lines.

    Each class of message is its own index range scan with its status list, so that the
    planner knows how many rows each step has (a CTE filtered on a computed class is
    estimated at a few rows, and then joined by nested loops)."""
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

    counted = f"""(
            SELECT id, account_id, message_type, parts, cost, status, billing_at,
                   {version()} AS agreement_id,
                   row_number() OVER (ORDER BY billing_at, id) AS ordinal
            FROM {messages}
            WHERE {month(COUNTED, PROVEN)}
              AND id <> ALL(CAST({q("%s", [sorted(billed)])} AS bigint[]))
        )"""
    counted_priced = priced(counted)
    pending = f"""(
            SELECT account_id, message_type, parts, cost, {version()} AS agreement_id,
                   (SELECT count(*) FROM priced)
                   + row_number() OVER (ORDER BY billing_at, id) AS ordinal
            FROM {messages} WHERE {month(PENDING, set(IcProof) - {IcProof.REFUTED})}
        )"""
    pending_priced = priced(pending)
    unconfirmed = f"""(
            SELECT account_id, message_type, parts, cost, {version()} AS agreement_id,
                   (SELECT count(*) FROM priced)
                   + row_number() OVER (ORDER BY billing_at, id) AS ordinal
            FROM {messages} WHERE {month(COUNTED, {IcProof.REPORTED})}
        )"""
    unconfirmed_priced = priced(unconfirmed)
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
    statement: Statement,
    partner: Partner,
    period: date,
    versions: _Versions,
    lines: dict[tuple, _Line],
    billed: set[int],
    progress: Progress | None,
) -> int:
    """Price the month with priced_month_sql: nothing per message passes through Python."""
    sql, params = priced_month_sql(statement.pk, partner.pk, period, versions, billed)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    days, counted_total = [], 0
    for row in rows:
        kind, is_line, account_id, message_type, agreement_id, day, n, parts, amount = row[:9]
        if not is_line:
            days.append(
                StatementDay(statement=statement, day=day, counted_messages=n, commission=amount)
            )
            continue
        line = lines[(account_id, message_type, agreement_id)]
        if kind == "c":
            line.counted_messages += n
            line.counted_parts += parts
            line.commission += amount
            line.delivered_messages += row[9]
            line.undelivered_messages += row[10]
            counted_total += n
        elif kind == "p":
            line.pending_messages += n
            line.forecast += amount
        elif kind == "r":
            line.unconfirmed_messages += n
            line.unconfirmed_parts += parts
            line.unconfirmed_commission += amount
        else:
            line.unsent_messages += n
    StatementDay.objects.bulk_create(sorted(days, key=lambda d: d.day))
    if progress:
        progress(counted_total)
    return counted_total


# --- the late-change queue and adjustments ------------------------------------------------------


def _late_change_queue(partner: Partner) -> dict[date, set[int]]:
    """The partner's late-change queue: closed month -> ids of messages changed since it closed.

    Written by database triggers (models.LateChange); small by nature (changes after a month's
    review window), so it is read whole, in one query on its (partner, period) index."""
    queue: dict[date, set[int]] = defaultdict(set)
    for period, message_id in LateChange.objects.filter(partner=partner).values_list(
        "period", "message_id"
    ):
        queue[period].add(message_id)
    return queue


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), CHUNK_SIZE):
        yield ordered[start : start + CHUNK_SIZE]


def _billed_on_closed(queue: dict[date, set[int]], start: datetime, end: datetime) -> set[int]:
    """Messages now billed in [start, end) that a closed statement already billed: they moved
    here after it closed, so they are queued; only the queue's ids are probed (no anti-join)."""
    queued = set().union(*queue.values()) if queue else set()
    billed: set[int] = set()
    for chunk in _chunks(queued):
        billed.update(
            StatementItem.objects.filter(
                message_id__in=chunk,
                statement__status=StatementStatus.CLOSED,
                message__billing_at__gte=start,
                message__billing_at__lt=end,
            ).values_list("message_id", flat=True)
        )
    return billed


def _closed_months_carried_by(draft: Statement) -> list[Statement]:
    """Closed months whose late changes land on this draft: those with no open month between."""
    earlier = Statement.objects.filter(partner_id=draft.partner_id, period__lt=draft.period)
    open_periods = sorted(
        earlier.filter(status=StatementStatus.DRAFT).values_list("period", flat=True)
    )
    closed = earlier.filter(status=StatementStatus.CLOSED).order_by("period")
    return [c for c in closed if not any(c.period < p for p in open_periods)]


def _adjustments(
    draft: Statement, carried_from: list[Statement], queue: dict[date, set[int]]
) -> list[Adjustment]:
    """The late changes of the closed months this draft carries: only the months with queued
    messages or earlier adjustments are looked at, and in them only those messages."""
    if not carried_from:
        return []
    prior: dict[date, list[tuple[int, Decimal, str]]] = defaultdict(list)
    earlier = Adjustment.objects.filter(
        message__partner_id=draft.partner_id,
        original_period__in=[c.period for c in carried_from],
        statement__status=StatementStatus.CLOSED,
    ).order_by("created_at", "id")
    for period, message_id, amount, new_status in earlier.values_list(
        "original_period", "message_id", "amount", "new_status"
    ):
        prior[period].append((message_id, amount, new_status))
    result: list[Adjustment] = []
    for closed in carried_from:
        if queue.get(closed.period) or prior.get(closed.period):
            result += _late_changes(
                draft, closed, queue.get(closed.period, set()), prior.get(closed.period, [])
            )
    return result


def _late_changes(
    draft: Statement,
    closed: Statement,
    queued: set[int],
    prior: list[tuple[int, Decimal, str]],
) -> list[Adjustment]:
    """What changed in a closed month since it was billed (its items plus earlier adjustments).

    Only messages of the queue (changed since the month closed) or adjusted before can differ
    from what was billed: a message on the closed statement changed since (status, parts,
    cost), a message counted there only now, a message adjusted before and no longer billable.
    """
    billed_adjustments: dict[int, Decimal] = defaultdict(lambda: ZERO)
    last_status: dict[int, str] = {}
    for message_id, amount, new_status in prior:
        billed_adjustments[message_id] += amount
        last_status[message_id] = new_status
    candidates = queued | set(billed_adjustments)

    def adjustment(message_id, old_status, new_status, billed, current, reason) -> Adjustment:
        return Adjustment(
            statement=draft,
            message_id=message_id,
            original_period=closed.period,
            old_status=last_status.get(message_id, old_status),
            new_status=new_status,
            old_amount=billed,
            new_amount=current,
            amount=current - billed,
            reason=reason,
        )

    result: list[Adjustment] = []
    seen: set[int] = set()
    # 1. Messages on the closed statement whose status, parts or cost changed (or were adjusted).
    items = []
    for chunk in _chunks(candidates):
        items += StatementItem.objects.filter(statement=closed, message_id__in=chunk).values_list(
            "id",
            "message_id",
            "status",
            "parts",
            "cost",
            "rate",
            "amount",
            "agreement__basis",
            "message__status",
            "message__parts",
            "message__cost",
            "message__ic_proof",
        )
    for row in sorted(items):  # in billing order, as the items were written
        _item_id, message_id, old_status, old_parts, old_cost, rate, amount, basis = row[:8]
        status, parts, cost, ic_proof = row[8:]
        counted = billing_class(status, ic_proof) == BillingClass.COUNTED
        if (
            counted
            and (status, parts, cost) == (old_status, old_parts, old_cost)
            and (message_id not in billed_adjustments)
        ):
            continue
        seen.add(message_id)
        current = message_amount(basis, rate, parts, cost) if basis and counted else ZERO
        billed = amount + billed_adjustments.get(message_id, ZERO)
        if current != billed:
            reason = f"late change of a message billed in {format_period(closed.period)}"
            result.append(adjustment(message_id, old_status, status, billed, current, reason))

    # 2. Messages of the closed month that were not counted at close and are counted now.
    start, end = month_bounds_utc(closed.period)
    versions = _versions(closed.partner, start, end)
    late = []
    for chunk in _chunks(candidates):
        late += (
            Message.objects.filter(partner_id=closed.partner_id, pk__in=chunk)
            .in_billing_month(closed.period)
            .counted()
            .exclude(Exists(_billed_on_closed_statement()))
            .values_list("billing_at", "id", "message_type", "parts", "cost", "status")
        )
    ordinal = closed.counted_messages  # late messages rank after those billed at close
    for billing_at, message_id, message_type, parts, cost, status in sorted(late):
        seen.add(message_id)
        ordinal += 1
        terms = versions.picker.at(billing_at)
        current = (
            message_amount(terms.basis, terms.rate(message_type, ordinal), parts, cost)
            if terms
            else ZERO
        )
        billed = billed_adjustments.get(message_id, ZERO)
        if current != billed:
            reason = f"counted after {format_period(closed.period)} was closed"
            result.append(adjustment(message_id, "pending", status, billed, current, reason))

    # 3. Messages adjusted in earlier but no longer counted there (e.g. moved to another month).
    rest = [m for m, total in billed_adjustments.items() if m not in seen and total != ZERO]
    for message_id, status in Message.objects.filter(pk__in=rest).values_list("id", "status"):
        billed = billed_adjustments[message_id]
        reason = f"no longer billable in {format_period(closed.period)}"
        result.append(adjustment(message_id, "", status, billed, ZERO, reason))
    return result


# --- audit, checksum, closing --------------------------------------------------------------


def _audit_build(statement: Statement, actor: str, adjustments: list[Adjustment]) -> None:
    entries = [
        AuditEntry(
            partner_id=statement.partner_id,
            statement=statement,
            action=AuditAction.BUILD,
            actor=actor,
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
        entries.append(
            AuditEntry(
                partner_id=statement.partner_id,
                statement=statement,
                action=AuditAction.ADJUST,
                actor=actor,
                detail={
                    "count": len(adjustments),
                    "total": str(sum((a.amount for a in adjustments), ZERO)),
                    "adjustments": [
                        {
                            "message_id": a.message_id,
                            "original_period": format_period(a.original_period),
                            "old_status": a.old_status,
                            "new_status": a.new_status,
                            "amount": str(a.amount),
                        }
                        for a in adjustments[:AUDIT_DETAIL_LIMIT]
                    ],
                },
            )
        )
    AuditEntry.objects.bulk_create(entries)


def _canonical(value) -> str:
    # Databases hand decimals back with differing exponents: fix them at the stored places.
    if isinstance(value, Decimal):
        return f"{value:.12f}"
    return str(value)


def statement_checksum(statement: Statement) -> str:
    """sha256 over the statement's lines, adjustments and totals in a fixed order."""
    digest = hashlib.sha256()
    digest.update(
        f"S|{statement.partner.ic}|{format_period(statement.period)}|{statement.currency}\n".encode()
    )
    lines = statement.lines.order_by("account_id", "message_type", "agreement_id").values_list(
        "account_id",
        "message_type",
        "agreement_id",
        "counted_messages",
        "counted_parts",
        "pending_messages",
        "unsent_messages",
        "commission",
    )
    for row in lines:
        digest.update(("L|" + "|".join(_canonical(v) for v in row) + "\n").encode())
    adjustments = statement.adjustments.order_by("message_id", "original_period", "id")
    for row in adjustments.values_list(
        "message_id", "original_period", "old_status", "new_status", "amount"
    ):
        digest.update(("A|" + "|".join(_canonical(v) for v in row) + "\n").encode())
    totals = (
        statement.commission,
        statement.adjustments_total,
        statement.opening_credit,
        statement.rounding,
        statement.carried_forward,
        statement.total,
        statement.vat,
        statement.gross,
    )
    digest.update(("T|" + "|".join(_canonical(Decimal(v)) for v in totals) + "\n").encode())
    digest.update(f"N|{statement.number}|{statement.vat_rate}\n".encode())
    if statement.unconfirmed_messages:  # statements closed before this share existed: unchanged
        unconfirmed = (
            statement.unconfirmed_messages,
            statement.unconfirmed_parts,
            Decimal(statement.unconfirmed_commission),
        )
        digest.update(("U|" + "|".join(_canonical(v) for v in unconfirmed) + "\n").encode())
    return digest.hexdigest()


@dataclass
class CloseResult:
    statement: Statement
    changed: bool


def close_statement(
    partner: Partner, period: date, *, actor: str, now: datetime | None = None
) -> CloseResult:
    """Rebuild the draft with the latest statuses, then freeze it with a checksum.

    Refused before the review window past the month's end; closing a closed month does nothing.
    """
    period = period.replace(day=1)
    now = now or timezone.now()
    existing = Statement.objects.filter(partner=partner, period=period).first()
    if existing is not None and existing.is_closed:
        return CloseResult(existing, changed=False)
    days = settings.STATEMENT_REVIEW_WINDOW_DAYS
    if not can_close(period, now, days):
        opens = timezone.localtime(review_window_end(period, days))
        raise StatementError(
            f"{format_period(period)} cannot be closed yet: late statuses may still arrive. "
            f"It can be closed from {opens:%Y-%m-%d %H:%M} (review window {days} days)."
        )
    with transaction.atomic():
        _lock_month_against_changes(partner, period)
        result = build_statement(partner, period, actor=actor)
        statement = result.statement
        if result.skipped_closed:  # closed meanwhile by someone else
            return CloseResult(statement, changed=False)
        statement.checksum = statement_checksum(statement)
        statement.status = StatementStatus.CLOSED
        statement.closed_at = now
        statement.closed_by = actor
        statement.save()
        AuditEntry.objects.create(
            partner=partner,
            statement=statement,
            action=AuditAction.CLOSE,
            actor=actor,
            detail={
                "period": format_period(period),
                "number": statement.number,
                "total": str(statement.total),
                "checksum": statement.checksum,
            },
        )
        statement_id = statement.pk
        transaction.on_commit(lambda: notify_billing_managers(statement_id))
    return CloseResult(statement, changed=True)


def _lock_month_against_changes(partner: Partner, period: date) -> None:
    """PostgreSQL: wait for status changes of this month still in flight, and make those that
    start meanwhile queue themselves (the late-change triggers of migration 0010 hold the
    shared side of this lock). Without it a change committed while the month closes could be
    on neither the closed statement nor the queue."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(billing_month_lock_key(%s, %s))", [partner.pk, period]
        )


def billing_manager_emails(partner: Partner) -> list[str]:
    return sorted(
        {
            email
            for email in partner.staff.filter(
                role=StaffRole.BILLING_MANAGER, user__is_active=True
            ).values_list("user__email", flat=True)
            if email
        }
    )


def notify_billing_managers(statement_id: int) -> int:
    """E-mail the partner's billing managers that a statement was closed; returns how many.

    Written in the portal's default language (Polish). A mail failure is logged and recorded,
    never undoes the closing. Safe to call twice (sends twice: callers call it once, on commit).
    """
    statement = Statement.objects.select_related("partner").get(pk=statement_id)
    recipients = billing_manager_emails(statement.partner)
    if not recipients:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        context = {"statement": statement, "base_url": settings.PUBLIC_BASE_URL.rstrip("/")}
        subject = render_to_string("billing/statement_closed_subject.txt", context).strip()
        body = render_to_string("billing/statement_closed_email.txt", context)
    from billing.mail import portal_connection  # mail to people, never via Email2SMS

    try:
        send_mail(
            subject,
            body,
            settings.DEFAULT_FROM_EMAIL,
            recipients,
            connection=portal_connection(),
        )
        outcome = {"recipients": recipients}
    except Exception as exc:  # noqa: BLE001 - any mail failure is reported, the close stands
        logger.warning("statement %s: closing mail not sent: %s", statement.pk, exc)
        outcome = {"recipients": recipients, "error": str(exc)[:200]}
    AuditEntry.objects.create(
        partner=statement.partner,
        statement=statement,
        action=AuditAction.NOTIFY,
        actor="system",
        detail=outcome,
    )
    return 0 if "error" in outcome else len(recipients)


# --- payouts -----------------------------------------------------------------------------------


def set_payout(
    statement: Statement,
    *,
    status: str,
    actor: str,
    invoiced_on: date | None = None,
    paid_on: date | None = None,
    invoice_number: str = "",
) -> Payout:
    """Record that a closed statement was invoiced or paid (operators, in the admin).

    Raises StatementError for a draft, an unknown state or missing/contradicting dates; a
    second call with the same values changes nothing but the audit trail.
    """
    if not statement.is_closed:
        raise StatementError("Only a closed statement can be invoiced or paid.")
    if status not in PayoutStatus.values:
        raise StatementError(f"Unknown payout state {status!r}.")
    if status == PayoutStatus.INVOICED and invoiced_on is None:
        raise StatementError("An invoiced statement needs the invoice date.")
    if status == PayoutStatus.PAID and paid_on is None:
        raise StatementError("A paid statement needs the payment date.")
    if invoiced_on and paid_on and paid_on < invoiced_on:
        raise StatementError("The payment date is before the invoice date.")
    with transaction.atomic():
        payout, _created = Payout.objects.update_or_create(
            statement=statement,
            defaults={
                "status": status,
                "invoiced_on": invoiced_on,
                "paid_on": paid_on,
                "invoice_number": invoice_number,
                "updated_by": actor,
                "updated_at": timezone.now(),
            },
        )
        AuditEntry.objects.create(
            partner_id=statement.partner_id,
            statement=statement,
            action=AuditAction.PAYOUT,
            actor=actor,
            detail={
                "status": status,
                "invoiced_on": invoiced_on.isoformat() if invoiced_on else "",
                "paid_on": paid_on.isoformat() if paid_on else "",
                "invoice_number": invoice_number,
            },
        )
    return payout


# --- fresh drafts ------------------------------------------------------------------------------


def request_draft_refresh(messages: Iterable[Message]) -> None:
    """Have the drafts these messages touch rebuilt once the caller's transaction commits.

    The one hook status services call after applying a batch of status changes (poll pass,
    callback, send answer). Queues one task per partner; the task skips drafts already built
    after the request, so a burst of batches costs one rebuild.
    """
    periods: dict[int, set[str]] = defaultdict(set)
    for message in messages:
        instant = billing_instant(message.dispatched_at, message.created_at)
        periods[message.partner_id].add(format_period(billing_month(instant)))
    if not periods:
        return
    requested_at = timezone.now().isoformat()

    def enqueue() -> None:
        from billing import tasks

        for partner_id, months in periods.items():
            try:
                tasks.refresh_draft_statements.delay(partner_id, sorted(months), requested_at)
            except Exception:  # noqa: BLE001 - the broker being down must not fail a status change
                logger.exception("could not queue the draft refresh of partner %s", partner_id)

    transaction.on_commit(enqueue)


def refresh_draft_statements(
    partner: Partner, periods: Iterable[date], *, requested_at: datetime | None = None
) -> list[Statement]:
    """Rebuild the partner's drafts for these months and every other open draft it has (late
    changes of closed months land there). Drafts built after `requested_at` are skipped.
    Closed months are left alone. Safe to run twice or concurrently (build locks the row)."""
    closed = set(
        Statement.objects.filter(partner=partner, status=StatementStatus.CLOSED).values_list(
            "period", flat=True
        )
    )
    wanted = set()
    for period in {p.replace(day=1) for p in periods}:
        # A change in a closed month lands on the first open month after it: make sure it exists.
        while period in closed:
            period = next_month(period)
        wanted.add(period)
    wanted |= set(
        Statement.objects.filter(partner=partner, status=StatementStatus.DRAFT).values_list(
            "period", flat=True
        )
    )
    rebuilt = []
    for period in sorted(wanted):
        existing = Statement.objects.filter(partner=partner, period=period).first()
        if existing is not None and existing.is_closed:
            continue
        if (
            existing is not None
            and requested_at is not None
            and existing.built_at is not None
            and existing.built_at >= requested_at
        ):
            continue
        result = build_statement(partner, period, actor="system")
        if not result.skipped_closed:
            rebuilt.append(result.statement)
    return rebuilt


def agreements_of(statement: Statement) -> list[Agreement]:
    """The agreement versions that priced a statement (from its lines)."""
    ids = statement.lines.exclude(agreement=None).values_list("agreement_id", flat=True)
    return list(Agreement.objects.filter(pk__in=ids.distinct()).order_by("valid_from"))
