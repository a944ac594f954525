"""Monthly statements: build or rebuild drafts, carry late changes as adjustments, close.

A closed statement never changes (model guards and database triggers); a late status change of
one of its messages becomes an Adjustment on the partner's next open (draft) statement.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.utils import timezone

from billing.commission import (
    ZERO,
    Rates,
    Terms,
    Tier,
    VersionPicker,
    VersionSpan,
    can_close,
    date_range_utc,
    forecast_amount,
    format_period,
    message_amount,
    month_bounds_utc,
    review_window_end,
    round_total,
)
from billing.models import (
    Adjustment,
    Agreement,
    AuditEntry,
    Message,
    Partner,
    Statement,
    StatementItem,
    StatementLine,
    StatementStatus,
)
from billing.statuses import COUNTED, PENDING, Status

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
    commission: Decimal = ZERO
    forecast: Decimal = ZERO


@dataclass
class _Versions:
    picker: VersionPicker
    terms: dict[int, Terms] = field(default_factory=dict)


def _versions(partner: Partner, start: datetime, end: datetime) -> _Versions:
    """The agreement versions of a partner valid at some point of [start, end)."""
    spans, terms = [], {}
    agreements = Agreement.objects.filter(partner=partner).prefetch_related("tiers")
    for agreement in agreements:
        span_start, span_end = date_range_utc(agreement.valid_from, agreement.valid_to)
        if span_start >= end or (span_end is not None and span_end <= start):
            continue
        version = Terms(
            basis=agreement.basis,
            rates=Rates.of(agreement),
            tiers=tuple(Tier(t.from_volume, Rates.of(t)) for t in agreement.tiers.all()),
            ref=agreement.pk,
        )
        spans.append(VersionSpan(span_start, span_end, version))
        terms[agreement.pk] = version
    return _Versions(VersionPicker(spans), terms)


def _agreement_expression(versions: _Versions):
    """SQL CASE giving the agreement id valid at a message's dispatch time (for aggregates)."""
    whens = []
    for span in versions.picker.spans:
        condition = Q(dispatched_at__gte=span.start)
        if span.end is not None:
            condition &= Q(dispatched_at__lt=span.end)
        whens.append(When(condition, then=Value(span.terms.ref)))
    if not whens:
        return Value(None, output_field=BigIntegerField())
    return Case(*whens, default=Value(None), output_field=BigIntegerField())


def _billed_on_closed_statement():
    return StatementItem.objects.filter(
        message_id=OuterRef("pk"), statement__status=StatementStatus.CLOSED
    )


def partners_for_period(period: date):
    start, end = month_bounds_utc(period)
    month_traffic = Message.objects.filter(
        partner_id=OuterRef("pk"), dispatched_at__gte=start, dispatched_at__lt=end
    )
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
    partner: Partner, period: date, *, actor: str, progress: Progress | None = None
) -> BuildResult:
    """Build or rebuild one draft statement; a closed statement is left as it is."""
    period = period.replace(day=1)
    with transaction.atomic():
        Statement.objects.get_or_create(partner=partner, period=period)
        statement = Statement.objects.select_for_update().get(partner=partner, period=period)
        if statement.is_closed:
            return BuildResult(statement, skipped_closed=True)
        # Rebuilding starts from nothing: the same messages give the same statement.
        StatementItem.objects.filter(statement=statement).delete()
        StatementLine.objects.filter(statement=statement).delete()
        Adjustment.objects.filter(statement=statement).delete()

        start, end = month_bounds_utc(period)
        versions = _versions(partner, start, end)
        lines: dict[tuple, _Line] = defaultdict(_Line)
        _add_counted(statement, partner, start, end, versions, lines, progress)
        _add_not_counted(partner, start, end, versions, lines)
        adjustments = _adjustments_for(statement)
        Adjustment.objects.bulk_create(adjustments, batch_size=CHUNK_SIZE)

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
                    commission=line.commission,
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
        statement.adjustments_total = sum((a.amount for a in adjustments), ZERO)
        statement.total = round_total(statement.commission + statement.adjustments_total)
        statement.checksum = ""
        statement.built_at = timezone.now()
        statement.save()
        _audit_build(statement, actor, adjustments)
    return BuildResult(statement, adjustments=len(adjustments))


def _add_counted(statement, partner, start, end, versions, lines, progress) -> None:
    """Stream the counted messages in dispatch order: tiers follow the month's running count."""
    rows = (
        Message.objects.filter(
            partner=partner,
            dispatched_at__gte=start,
            dispatched_at__lt=end,
            status__in=[s.value for s in COUNTED],
        )
        # A message already on another closed statement is billed; changes go via adjustments.
        .exclude(Exists(_billed_on_closed_statement()))
        .order_by("dispatched_at", "id")
        .values_list("id", "account_id", "message_type", "parts", "cost", "status", "dispatched_at")
    )
    ordinal = 0
    batch: list[StatementItem] = []
    for message_id, account_id, message_type, parts, cost, status, dispatched_at in rows.iterator(
        chunk_size=CHUNK_SIZE
    ):
        ordinal += 1
        terms = versions.picker.at(dispatched_at)
        if terms is None:
            rate, amount, agreement_id = ZERO, ZERO, None
        else:
            rate = terms.rate(message_type, ordinal)
            amount = message_amount(terms.basis, rate, parts, cost)
            agreement_id = terms.ref
        line = lines[(account_id, message_type, agreement_id)]
        line.counted_messages += 1
        line.counted_parts += parts
        line.commission += amount
        batch.append(
            StatementItem(
                statement=statement,
                message_id=message_id,
                agreement_id=agreement_id,
                status=status,
                parts=parts,
                rate=rate,
                cost=cost,
                amount=amount,
            )
        )
        if len(batch) >= CHUNK_SIZE:
            StatementItem.objects.bulk_create(batch)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        StatementItem.objects.bulk_create(batch)
        if progress:
            progress(len(batch))


def _add_not_counted(partner, start, end, versions, lines) -> None:
    """Pending (forecast) and unsent figures, aggregated in the database."""
    pending = Q(status__in=[s.value for s in PENDING])
    rows = (
        Message.objects.filter(partner=partner, dispatched_at__gte=start, dispatched_at__lt=end)
        .exclude(status__in=[s.value for s in COUNTED])
        .annotate(agreement_ref=_agreement_expression(versions))
        .order_by()
        .values("account_id", "message_type", "agreement_ref")
        .annotate(
            pending=Count("id", filter=pending),
            unsent=Count("id", filter=Q(status=Status.UNSENT)),
            pending_parts=Sum("parts", filter=pending),
            pending_cost=Sum("cost", filter=pending),
        )
    )
    for row in rows:
        line = lines[(row["account_id"], row["message_type"], row["agreement_ref"])]
        line.pending_messages += row["pending"]
        line.unsent_messages += row["unsent"]
        terms = versions.terms.get(row["agreement_ref"])
        if terms is not None and row["pending"]:
            line.forecast += forecast_amount(
                terms.basis,
                terms.rates.for_type(row["message_type"]),
                row["pending"],
                row["pending_parts"] or 0,
                row["pending_cost"],
            )


# --- adjustments ---------------------------------------------------------------------------


def _closed_months_carried_by(draft: Statement) -> list[Statement]:
    """Closed months whose late changes land on this draft: those with no open month between."""
    earlier = Statement.objects.filter(partner_id=draft.partner_id, period__lt=draft.period)
    open_periods = sorted(
        earlier.filter(status=StatementStatus.DRAFT).values_list("period", flat=True)
    )
    closed = earlier.filter(status=StatementStatus.CLOSED).order_by("period")
    return [c for c in closed if not any(c.period < p for p in open_periods)]


def _adjustments_for(draft: Statement) -> list[Adjustment]:
    adjustments: list[Adjustment] = []
    for closed in _closed_months_carried_by(draft):
        adjustments.extend(_late_changes(draft, closed))
    return adjustments


def _late_changes(draft: Statement, closed: Statement) -> list[Adjustment]:
    """What changed in a closed month since it was billed (its items plus earlier adjustments)."""
    counted = {s.value for s in COUNTED}
    prior = Adjustment.objects.filter(
        message__partner_id=closed.partner_id,
        original_period=closed.period,
        statement__status=StatementStatus.CLOSED,
    )
    billed_adjustments: dict[int, Decimal] = defaultdict(lambda: ZERO)
    last_status: dict[int, str] = {}
    for message_id, amount, new_status in prior.order_by("created_at", "id").values_list(
        "message_id", "amount", "new_status"
    ):
        billed_adjustments[message_id] += amount
        last_status[message_id] = new_status

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
    changed = (
        Q(message__parts__lt=F("parts"))
        | Q(message__parts__gt=F("parts"))
        | ~Q(message__status=F("status"))
        | Q(message__cost__isnull=True, cost__isnull=False)
        | Q(message__cost__isnull=False, cost__isnull=True)
        | Q(message__cost__lt=F("cost"))
        | Q(message__cost__gt=F("cost"))
        | Exists(prior.filter(message_id=OuterRef("message_id")))
    )
    items = (
        StatementItem.objects.filter(statement=closed)
        .filter(changed)
        .values_list(
            "message_id",
            "status",
            "rate",
            "amount",
            "agreement__basis",
            "message__status",
            "message__parts",
            "message__cost",
        )
    )
    for message_id, old_status, rate, amount, basis, status, parts, cost in items.iterator(
        chunk_size=CHUNK_SIZE
    ):
        seen.add(message_id)
        current = message_amount(basis, rate, parts, cost) if basis and status in counted else ZERO
        billed = amount + billed_adjustments.get(message_id, ZERO)
        if current != billed:
            reason = f"late change of a message billed in {format_period(closed.period)}"
            result.append(adjustment(message_id, old_status, status, billed, current, reason))

    # 2. Messages of the closed month that were not counted at close and are counted now.
    start, end = month_bounds_utc(closed.period)
    versions = _versions(closed.partner, start, end)
    late = (
        Message.objects.filter(
            partner_id=closed.partner_id,
            dispatched_at__gte=start,
            dispatched_at__lt=end,
            status__in=counted,
        )
        .exclude(Exists(_billed_on_closed_statement()))
        .order_by("dispatched_at", "id")
        .values_list("id", "message_type", "parts", "cost", "status", "dispatched_at")
    )
    ordinal = closed.counted_messages  # late messages rank after those billed at close
    for message_id, message_type, parts, cost, status, dispatched_at in late.iterator(
        chunk_size=CHUNK_SIZE
    ):
        seen.add(message_id)
        ordinal += 1
        terms = versions.picker.at(dispatched_at)
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
            action="build",
            actor=actor,
            detail={
                "period": format_period(statement.period),
                "counted_messages": statement.counted_messages,
                "commission": str(statement.commission),
                "adjustments_total": str(statement.adjustments_total),
                "total": str(statement.total),
            },
        )
    ]
    if adjustments:
        entries.append(
            AuditEntry(
                partner_id=statement.partner_id,
                statement=statement,
                action="adjust",
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
    # Databases hand decimals back with differing exponents: fix them at 4 places.
    if isinstance(value, Decimal):
        return f"{value:.4f}"
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
    digest.update(
        "T|{}|{}|{}\n".format(
            *(
                _canonical(Decimal(v))
                for v in (statement.commission, statement.adjustments_total, statement.total)
            )
        ).encode()
    )
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
            action="close",
            actor=actor,
            detail={"period": format_period(period), "checksum": statement.checksum},
        )
    return CloseResult(statement, changed=True)


def audit_trail(statement: Statement):
    """The audit entries shown with a statement, oldest first."""
    return AuditEntry.objects.filter(statement=statement).order_by("created_at", "id")


def agreements_of(statement: Statement) -> list[Agreement]:
    """The agreement versions that priced a statement (from its lines)."""
    ids = statement.lines.exclude(agreement=None).values_list("agreement_id", flat=True)
    return list(Agreement.objects.filter(pk__in=ids.distinct()).order_by("valid_from"))
