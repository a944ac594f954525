"""Retention of personal data: phones and texts of old, billed messages reduced to what billing
needs. Imports no web code; the beat task and `manage.py apply_retention` call it.

A message is past retention when its billing instant is more than RETENTION_MONTHS before
`now` and the statement of its partner and billing month is closed (never before: an open month
may still be reconciled). Its phone becomes `+48*****2333` (country code and last four digits)
with `phone_hash`, an HMAC-SHA256 of the whole number keyed by PHONE_HASH_PEPPER; its text, if
kept, is emptied. Counts, parts, statuses, costs and every statement stay as they were.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.db.models import Count, DateField, Exists, OuterRef, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

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


def retention_cutoff(now: datetime, months: int) -> datetime:
    """`now` moved back by whole months (the day clamped to the shorter month's last day)."""
    local = timezone.localtime(now, ZoneInfo(settings.BILLING_TIME_ZONE))
    index = local.year * 12 + local.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    day = local.day
    while True:
        try:
            return local.replace(year=year, month=month, day=day)
        except ValueError:
            day -= 1


def messages_past_retention(*, now: datetime, months: int | None = None) -> QuerySet[Message]:
    """Messages whose phone is still whole, billed before the cutoff, in a closed statement."""
    cutoff = retention_cutoff(now, settings.RETENTION_MONTHS if months is None else months)
    month = TruncMonth(
        "billing_at", output_field=DateField(), tzinfo=ZoneInfo(settings.BILLING_TIME_ZONE)
    )
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
    dry_run: bool = False


def reduce_messages(queryset: QuerySet[Message], *, batch: int) -> Counter:
    """Mask the phones and empty the texts of one batch of `queryset`'s rows, locked with
    SKIP LOCKED (an overlapping run takes other rows). Returns messages per partner id; an
    empty Counter when nothing is left. Call inside a transaction."""
    rows = list(
        queryset.select_for_update(skip_locked=True, of=("self",))
        .order_by("billing_at", "id")
        .only("id", "partner_id", "phone", "text")[:batch]
    )
    for message in rows:
        message.phone_hash = phone_hash(message.phone)
        message.phone = masked_phone(message.phone)
        message.text = ""
    Message.objects.bulk_update(rows, ["phone", "phone_hash", "text"], batch_size=1000)
    return Counter(m.partner_id for m in rows)


def apply_retention(
    *,
    now: datetime | None = None,
    months: int | None = None,
    batch: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ErasureSummary:
    """Erase what is past retention, in transactions of `batch` messages. Safe to repeat or
    overlap (erased rows no longer match; rows another run holds are skipped). `dry_run`
    counts and changes nothing. Each partner touched gets one audit entry per run."""
    now = now or timezone.now()
    batch = batch or settings.RETENTION_BATCH
    summary = ErasureSummary(dry_run=dry_run)
    queryset = messages_past_retention(now=now, months=months)
    if dry_run:
        summary.by_partner = count_by_partner(queryset)
        summary.messages = sum(summary.by_partner.values())
        if progress:
            progress(summary.messages)
        return summary
    while True:
        with transaction.atomic():
            done = reduce_messages(queryset, batch=batch)
        if not done:
            break
        summary.by_partner.update(done)
        summary.messages += sum(done.values())
        if progress:
            progress(sum(done.values()))
    cutoff = retention_cutoff(now, settings.RETENTION_MONTHS if months is None else months)
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


def count_by_partner(queryset: QuerySet[Message]) -> Counter:
    """Messages of `queryset` per partner id (one grouped query)."""
    rows = queryset.order_by().values_list("partner_id").annotate(n=Count("id"))
    return Counter(dict(rows))
