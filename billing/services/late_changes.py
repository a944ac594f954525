"""Late changes of closed months (models.LateChange, queued by services/derived.py): the
Adjustments and the opening credit they put on the partner's next open statement. Reads and
prices; writes nothing (statements.build_statement writes what these return).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Exists, Max, OuterRef

from billing.commission import ZERO, format_period, message_amount, month_bounds_utc, rate_for
from billing.models import (
    Adjustment,
    LateChange,
    Message,
    Partner,
    Statement,
    StatementItem,
    StatementStatus,
)
from billing.selectors import agreement_versions
from billing.statuses import BillingClass, billing_class

CHUNK_SIZE = 5000  # ids per IN (...) probe


def late_change_queue(partner: Partner) -> dict[date, set[int]]:
    """Closed month -> ids of messages changed since it closed: small by nature, read whole."""
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


def billed_on_closed(queue: dict[date, set[int]], start: datetime, end: datetime) -> set[int]:
    """Messages now billed in [start, end) that a closed statement already billed: they moved
    here after it closed, so they are queued; only the queue's ids are probed (no anti-join)."""
    billed: set[int] = set()
    for chunk in _chunks(set().union(*queue.values())):
        billed.update(
            StatementItem.objects.filter(
                message_id__in=chunk,
                statement__status=StatementStatus.CLOSED,
                message__billing_at__gte=start,
                message__billing_at__lt=end,
            ).values_list("message_id", flat=True)
        )
    return billed


def closed_months_carried_by(draft: Statement) -> list[Statement]:
    """Closed months whose late changes land on this draft: those with no open month between."""
    earlier = Statement.objects.filter(partner_id=draft.partner_id, period__lt=draft.period)
    last_open = earlier.filter(status=StatementStatus.DRAFT).aggregate(last=Max("period"))["last"]
    closed = earlier.filter(status=StatementStatus.CLOSED).order_by("period")
    return list(closed if last_open is None else closed.filter(period__gt=last_open))


def adjustments_for(
    draft: Statement, carried_from: list[Statement], queue: dict[date, set[int]]
) -> list[Adjustment]:
    """The late changes of the closed months this draft carries: only the months with queued
    messages or earlier adjustments are looked at, and in them only those messages."""
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
        queued, adjusted = queue.get(closed.period, set()), prior.get(closed.period, [])
        if queued or adjusted:
            result += _late_changes(draft, closed, queued, adjusted)
    return result


def _late_changes(
    draft: Statement,
    closed: Statement,
    queued: set[int],
    prior: list[tuple[int, Decimal, str]],
) -> list[Adjustment]:
    """What changed in a closed month since it was billed (its items plus earlier adjustments):
    only messages queued since it closed or adjusted before can differ (three cases below)."""
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
        unchanged = (status, parts, cost) == (old_status, old_parts, old_cost)
        if counted and unchanged and message_id not in billed_adjustments:
            continue
        seen.add(message_id)
        current = message_amount(basis, rate, parts, cost) if basis and counted else ZERO
        billed = amount + billed_adjustments.get(message_id, ZERO)
        if current != billed:
            reason = f"late change of a message billed in {format_period(closed.period)}"
            result.append(adjustment(message_id, old_status, status, billed, current, reason))

    # 2. Messages of the closed month that were not counted at close and are counted now.
    start, end = month_bounds_utc(closed.period)
    versions = agreement_versions(closed.partner, start, end)
    on_closed = StatementItem.objects.filter(
        message_id=OuterRef("pk"), statement__status=StatementStatus.CLOSED
    )
    late = []
    for chunk in _chunks(candidates):
        late += (
            Message.objects.filter(partner_id=closed.partner_id, pk__in=chunk)
            .in_billing_month(closed.period)
            .counted()
            .exclude(Exists(on_closed))
            .values_list("billing_at", "id", "message_type", "parts", "cost", "status")
        )
    ordinal = closed.counted_messages  # late messages rank after those billed at close
    for billing_at, message_id, message_type, parts, cost, status in sorted(late):
        seen.add(message_id)
        ordinal += 1
        terms = versions.picker.at(billing_at)
        current = ZERO
        if terms:
            rate = rate_for(terms, message_type, ordinal)
            current = message_amount(terms.basis, rate, parts, cost)
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


def opening_credit(draft: Statement, carried_from: list[Statement]):
    """The credit (negative balance) of closed months this draft follows, not yet used up.

    A closed month's credit lands once, on the next open statement (like its adjustments); a
    statement that opened with a credit used up every credit of the months before its source."""
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
