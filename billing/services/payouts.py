"""Payouts: operators record that a closed statement was invoiced or paid (the admin)."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from billing.models import AuditAction, AuditEntry, Payout, PayoutStatus, Statement
from billing.services.statements import StatementError


def set_payout(
    statement: Statement,
    *,
    status: str,
    actor: str,
    invoiced_on: date | None = None,
    paid_on: date | None = None,
    invoice_number: str = "",
) -> Payout:
    """Record that a closed statement was invoiced or paid; raises StatementError for a draft,
    an unknown state or missing/contradicting dates. A second call with the same values changes
    nothing but the audit trail."""
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
