"""Retention of personal data: phones and texts of old messages in closed statements reduced
to what billing needs (docs/operations-logs.md). Imports no web code; the beat task and
`manage.py apply_retention` call it. Never an open month: it may still be reconciled."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, DateField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from billing.commission import BILLING_ZONE, billing_month, month_bounds_utc, months_earlier
from billing.models import AuditAction, AuditEntry, Message, Statement, StatementStatus

KEEP_DIGITS = 4
ACTOR = "retention"


def phone_hash(phone: str) -> str:
    """HMAC-SHA256 (hex) of the phone with the configured pepper: equal numbers, equal hashes."""
    key = settings.PHONE_HASH_PEPPER.encode("utf-8")
    return hmac.new(key, phone.encode("utf-8"), hashlib.sha256).hexdigest()


def masked_phone(phone: str) -> str:
    """`+48500600700` -> `+48*****0700`: the country code and the last four digits stay."""
    if "*" in phone:
        return phone
    digits = "".join(ch for ch in phone if ch.isdigit())
    prefix = ""
    if phone.startswith("+"):  # E.164, as stored: the country code is not personal
        try:
            code = str(phonenumbers.parse(phone, None).country_code)
        except phonenumbers.NumberParseException:
            code = ""
        if code and digits.startswith(code):
            prefix, digits = f"+{code}", digits[len(code) :]
    hidden = max(len(digits) - KEEP_DIGITS, 0)
    return prefix + "*" * hidden + digits[hidden:]


def _cutoff(now: datetime, months: int | None) -> datetime:
    """`now` moved back by `months` (RETENTION_MONTHS) whole billing-calendar months."""
    return months_earlier(now, settings.RETENTION_MONTHS if months is None else months)


def messages_past_retention(*, now: datetime, months: int | None = None) -> QuerySet[Message]:
    """Messages whose phone is still whole, billed before the cutoff, in a closed statement."""
    cutoff = _cutoff(now, months)
    month = TruncMonth("billing_at", output_field=DateField(), tzinfo=BILLING_ZONE)
    closed = Statement.objects.filter(
        partner=OuterRef("partner"), period=OuterRef("billing_month"), status=StatementStatus.CLOSED
    )
    return (
        Message.objects.filter(billing_at__lt=cutoff, phone_hash="")
        .annotate(billing_month=month)
        .filter(Exists(closed))
    )


@dataclass
class ErasureSummary:
    messages: int = 0
    by_partner: Counter = field(default_factory=Counter)


def reduce_messages(
    queryset: QuerySet[Message],
    *,
    batch: int,
    progress: Callable[[int], None] | None = None,
) -> Counter:
    """Mask the phones and empty the texts of `queryset`'s rows whose phone is still whole, in
    transactions of `batch` rows in (billing_at, id) order after the last one done (a short
    index range each), skipping rows another run holds. Returns messages per partner id."""
    done: Counter = Counter()
    queryset = queryset.filter(phone_hash="").order_by("billing_at", "id")
    after: tuple[datetime, int] | None = None
    while True:
        page = queryset
        if after is not None:
            page = page.filter(Q(billing_at__gt=after[0]) | Q(billing_at=after[0], id__gt=after[1]))
        with transaction.atomic():
            rows = list(
                page.select_for_update(skip_locked=True, of=("self",)).only(
                    "id", "partner_id", "phone", "billing_at"
                )[:batch]
            )
            if not rows:
                return done
            # One UPDATE ... FROM (VALUES ...) for the batch, never a save per row.
            values = ", ".join(["(%s, %s, %s)"] * len(rows))
            params = [p for m in rows for p in (m.pk, masked_phone(m.phone), phone_hash(m.phone))]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {Message._meta.db_table} AS m"  # noqa: S608 - no input in the SQL
                    " SET phone = v.phone, phone_hash = v.phone_hash, text = ''"
                    f" FROM (VALUES {values}) AS v(id, phone, phone_hash)"
                    " WHERE m.id = v.id",
                    params,
                )
        after = (rows[-1].billing_at, rows[-1].pk)
        done.update(m.partner_id for m in rows)
        if progress:
            progress(len(rows))


def apply_retention(
    *,
    now: datetime | None = None,
    months: int | None = None,
    batch: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ErasureSummary:
    """Erase what is past retention, month by closed month, in transactions of `batch` messages;
    safe to repeat or overlap. `dry_run` only counts. One audit entry per partner touched."""
    now = now or timezone.now()
    batch = batch or settings.RETENTION_BATCH
    cutoff = _cutoff(now, months)
    summary = ErasureSummary()
    if dry_run:
        past = messages_past_retention(now=now, months=months).order_by().values_list("partner_id")
        summary.by_partner = Counter(dict(past.annotate(n=Count("id"))))
        summary.messages = sum(summary.by_partner.values())
        if progress:
            progress(summary.messages)
        return summary
    # Each closed statement's month that began before the cutoff, up to the cutoff at most.
    closed = Statement.objects.filter(
        status=StatementStatus.CLOSED, period__lte=billing_month(cutoff)
    ).order_by("partner_id", "period")
    for partner_id, period in closed.values_list("partner_id", "period"):
        start, end = month_bounds_utc(period)
        month = Message.objects.filter(
            partner_id=partner_id, billing_at__gte=start, billing_at__lt=min(end, cutoff)
        )
        summary.by_partner.update(reduce_messages(month, batch=batch, progress=progress))
    summary.messages = sum(summary.by_partner.values())
    AuditEntry.objects.bulk_create(
        AuditEntry(
            partner_id=partner_id,
            action=AuditAction.RETENTION,
            actor=ACTOR,
            detail={"messages": count, "before": cutoff.isoformat()},
            created_at=now,
        )
        for partner_id, count in sorted(summary.by_partner.items())
    )
    return summary
