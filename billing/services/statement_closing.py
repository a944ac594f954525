"""Closing a month: the draft rebuilt with the latest statuses, frozen with a checksum, and the
partner's billing managers told by mail. A closed statement never changes (the database's
triggers of migration 0002); what changes later is late_changes.py's.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from billing.commission import can_close, format_period, review_window_end
from billing.mail import portal_connection  # mail to people, never via Email2SMS
from billing.models import (
    AuditAction,
    AuditEntry,
    Partner,
    StaffRole,
    Statement,
    StatementStatus,
)
from billing.services.statements import StatementError, build_statement

logger = logging.getLogger(__name__)


def statement_checksum(statement: Statement) -> str:
    """sha256 over the statement's lines, adjustments and totals in a fixed order."""
    digest = hashlib.sha256()

    def put(tag: str, values) -> None:
        # Databases hand decimals back with differing exponents: fix them at the stored places.
        text = "|".join(f"{v:.12f}" if isinstance(v, Decimal) else str(v) for v in values)
        digest.update(f"{tag}|{text}\n".encode())

    put("S", (statement.partner.ic, format_period(statement.period), statement.currency))
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
        put("L", row)
    adjustments = statement.adjustments.order_by("message_id", "original_period", "id")
    for row in adjustments.values_list(
        "message_id", "original_period", "old_status", "new_status", "amount"
    ):
        put("A", row)
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
    put("T", map(Decimal, totals))
    digest.update(f"N|{statement.number}|{statement.vat_rate}\n".encode())
    if statement.unconfirmed_messages:  # statements closed before this share existed: unchanged
        unconfirmed = Decimal(statement.unconfirmed_commission)
        put("U", (statement.unconfirmed_messages, statement.unconfirmed_parts, unconfirmed))
    return digest.hexdigest()


@dataclass
class CloseResult:
    statement: Statement
    changed: bool


def close_statement(
    partner: Partner, period: date, *, actor: str, now: datetime | None = None
) -> CloseResult:
    """Rebuild the draft with the latest statuses, then freeze it with a checksum. Refused
    before the review window past the month's end; closing a closed month does nothing."""
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
        # PostgreSQL: wait for status changes of this month still in flight, and make those that
        # start meanwhile queue themselves (services/derived.py holds the shared side of this
        # lock). Without it a change committed while the month closes could be on neither the
        # closed statement nor the queue.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(billing_month_lock_key(%s, %s))",
                [partner.pk, period],
            )
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


def notify_billing_managers(statement_id: int) -> int:
    """E-mail the partner's billing managers, in the portal's default language (Polish), that
    a statement was closed; returns how many. A mail failure is logged and recorded, never
    undoes the closing. A second call sends again (callers call it once, on commit)."""
    statement = Statement.objects.select_related("partner").get(pk=statement_id)
    managers = statement.partner.staff.filter(role=StaffRole.BILLING_MANAGER, user__is_active=True)
    recipients = sorted({e for e in managers.values_list("user__email", flat=True) if e})
    if not recipients:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        context = {"statement": statement, "base_url": settings.PUBLIC_BASE_URL.rstrip("/")}
        subject = render_to_string("billing/statement_closed_subject.txt", context).strip()
        body = render_to_string("billing/statement_closed_email.txt", context)
    outcome = {"recipients": recipients}
    try:
        send_mail(
            subject, body, settings.DEFAULT_FROM_EMAIL, recipients, connection=portal_connection()
        )
    except Exception as exc:  # noqa: BLE001 - any mail failure is reported, the close stands
        logger.warning("statement %s: closing mail not sent: %s", statement.pk, exc)
        outcome["error"] = str(exc)[:200]
    AuditEntry.objects.create(
        partner=statement.partner,
        statement=statement,
        action=AuditAction.NOTIFY,
        actor="system",
        detail=outcome,
    )
    return 0 if "error" in outcome else len(recipients)
