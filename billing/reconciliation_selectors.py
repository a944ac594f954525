"""Reads of stored reconciliations with SerwerSMS's partner billing (the selectors of
services/reconcile.py). The partner (or its statement) is always the first argument."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from .models import (
    Partner,
    Reconciliation,
    ReconciliationOutcome,
    ReconciliationRow,
    Statement,
)

ZERO = Decimal(0)


@dataclass(frozen=True)
class OutcomeFigures:
    outcome: str
    label: str
    messages: int
    their_parts: int
    our_parts: int
    their_cost: Decimal
    our_cost: Decimal
    commission: Decimal  # of these messages on the statement (exact)


@dataclass(frozen=True)
class StatementReconciliation:
    """A statement's month as SerwerSMS's partner billing saw it."""

    reconciliation: Reconciliation
    outcomes: list[OutcomeFigures]
    confirmed_messages: int  # of the statement's counted messages
    counted_messages: int
    confirmed_commission: Decimal  # exact; shown rounded half-up
    commission: Decimal


def reconciliation_for(partner: Partner, period) -> Reconciliation | None:
    return Reconciliation.objects.filter(partner=partner, period=period).first()


def statement_reconciliation(statement: Statement) -> StatementReconciliation | None:
    """The reconciliation of the statement's partner and month, with the statement's
    commission per outcome; None when SerwerSMS's billing of that month was not uploaded."""
    reconciliation = reconciliation_for(statement.partner, statement.period)
    if reconciliation is None:
        return None
    # Each message is at most once in a reconciliation and once on a statement.
    on_statement = {
        row["outcome"]: row
        for row in ReconciliationRow.objects.filter(
            reconciliation=reconciliation, message__statement_items__statement=statement
        )
        .values("outcome")
        .annotate(items=Count("id"), commission=Sum("message__statement_items__amount"))
        .order_by()
    }
    outcomes = [
        OutcomeFigures(
            outcome=outcome.value,
            label=str(outcome.label),
            messages=reconciliation.outcome_total(outcome),
            their_parts=reconciliation.outcome_total(outcome, "their_parts"),
            our_parts=reconciliation.outcome_total(outcome, "our_parts"),
            their_cost=Decimal(reconciliation.outcome_total(outcome, "their_cost")),
            our_cost=Decimal(reconciliation.outcome_total(outcome, "our_cost")),
            commission=on_statement.get(outcome.value, {}).get("commission") or ZERO,
        )
        for outcome in ReconciliationOutcome
    ]
    confirmed = on_statement.get(ReconciliationOutcome.CONFIRMED.value, {})
    return StatementReconciliation(
        reconciliation=reconciliation,
        outcomes=outcomes,
        confirmed_messages=confirmed.get("items", 0),
        counted_messages=statement.counted_messages,
        confirmed_commission=confirmed.get("commission") or ZERO,
        commission=statement.commission,
    )


def reconciliation_rows(
    reconciliation: Reconciliation, *, outcome: str | None = None
) -> QuerySet[ReconciliationRow]:
    """The rows of a reconciliation in file order (ours-only rows last), optionally one outcome."""
    rows = reconciliation.rows.all()
    if outcome:
        rows = rows.filter(outcome=outcome)
    return rows.order_by("id")
