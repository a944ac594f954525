"""A partner's data on request (GDPR): export it all as a zip of JSON and CSV (never secrets),
or erase its personal data (statements, totals and billing figures stay). Both are audited;
commands and admin actions call these."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from billing.cells import neutralise
from billing.models import (
    AuditAction,
    AuditEntry,
    ClientAccount,
    Message,
    Partner,
    PartnerStaff,
    Statement,
)
from billing.services import retention

CHUNK = 2000
ERASED = "[erased]"

PARTNER_FIELDS = (
    "id", "name", "ic", "is_active", "created_at", "legal_name", "address", "tax_id", "vat_rate",
)  # fmt: skip
# Credentials (API token, password, Email2SMS key, callback secret) are never exported.
ACCOUNT_FIELDS = ("id", "name", "is_active", "created_at", "email2sms_sender")
STATEMENT_FIELDS = (
    "id", "period", "status", "number", "currency", "counted_messages", "counted_parts",
    "pending_messages", "unsent_messages", "commission", "adjustments_total", "opening_credit",
    "carried_forward", "total", "vat_rate", "vat", "gross", "checksum", "built_at", "closed_at",
    "closed_by",
)  # fmt: skip
MESSAGE_FIELDS = (
    "id", "account__name", "channel", "ic", "serwersms_id", "unique_id", "phone", "phone_hash",
    "sender", "message_type", "text_length", "text", "parts", "cost", "status", "reason",
    "error_message", "created_at", "queued_at", "sent_at", "delivered_at", "dispatched_at",
)  # fmt: skip
STAFF_FIELDS = ("user__username", "user__email", "user__first_name", "user__last_name", "role")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)  # Decimal, date


def _header(fields: Iterable[str]) -> list[str]:
    return [name.replace("__", "_") for name in fields]


@dataclass
class ExportSummary:
    accounts: int = 0
    statements: int = 0
    messages: int = 0
    staff: int = 0


def _values(queryset, fields: tuple[str, ...]) -> Iterator[tuple]:
    return queryset.values_list(*fields).iterator(chunk_size=CHUNK)


def _objects(rows: Iterable[tuple], fields: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Rows as JSON-ready dicts keyed by the export's column names."""
    header = _header(fields)
    return ({k: _plain(v) for k, v in zip(header, row, strict=True)} for row in rows)


def _text(archive: zipfile.ZipFile, name: str) -> io.TextIOWrapper:
    """A member of the archive written as UTF-8 text, streamed (closing it ends the member)."""
    member = archive.open(name, "w", force_zip64=True)
    return io.TextIOWrapper(member, encoding="utf-8", newline="")


def _json(archive: zipfile.ZipFile, name: str, data: Any) -> None:
    archive.writestr(name, json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _csv(archive: zipfile.ZipFile, name: str, fields: tuple[str, ...], rows: Iterable) -> int:
    """`name`.csv, streamed row by row; returns the number of rows."""
    count = 0
    with _text(archive, f"{name}.csv") as text:
        writer = csv.writer(text)
        writer.writerow(_header(fields))
        for row in rows:
            writer.writerow([neutralise(_plain(v)) for v in row])
            count += 1
    return count


def export_partner_data(
    partner: Partner, *, target: IO[bytes] | str | Path, actor: str, now: datetime | None = None
) -> ExportSummary:
    """Write the partner's data as a zip to `target` (a path or a binary file). Returns the
    counts; writes one audit entry. Safe to repeat (each call writes a new file)."""
    now = now or timezone.now()
    archive = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED)
    (info,) = _objects(
        _values(Partner.objects.filter(pk=partner.pk), PARTNER_FIELDS), PARTNER_FIELDS
    )
    _json(archive, "partner.json", {**info, "exported_at": now.isoformat()})
    counts = {}
    for name, model, order, fields in (
        ("accounts", ClientAccount, "pk", ACCOUNT_FIELDS),
        ("staff", PartnerStaff, "pk", STAFF_FIELDS),  # staff.json only
        ("statements", Statement, "period", STATEMENT_FIELDS),
    ):
        rows = list(_values(model.objects.filter(partner=partner).order_by(order), fields))
        _json(archive, f"{name}.json", list(_objects(rows, fields)))
        if name != "staff":
            _csv(archive, name, fields, rows)
        counts[name] = len(rows)
    # Messages (millions) are streamed: to the CSV, then read again for the JSON lines.
    messages = Message.objects.filter(partner=partner).order_by("created_at", "id")
    counts["messages"] = _csv(
        archive, "messages", MESSAGE_FIELDS, _values(messages, MESSAGE_FIELDS)
    )
    with _text(archive, "messages.jsonl") as text:
        for line in _objects(_values(messages, MESSAGE_FIELDS), MESSAGE_FIELDS):
            text.write(json.dumps(line, ensure_ascii=False) + "\n")
    archive.close()
    summary = ExportSummary(**counts)
    AuditEntry.objects.create(
        partner=partner,
        action=AuditAction.PARTNER_EXPORT,
        actor=actor,
        detail=asdict(summary),
        created_at=now,
    )
    return summary


@dataclass
class ErasureSummary:
    messages: int = 0
    users: int = 0
    invitations: int = 0
    accounts: int = 0


def erase_partner_data(
    partner: Partner, *, actor: str, now: datetime | None = None
) -> ErasureSummary:
    """Erase the partner's personal data: phones masked with a hash (as retention does), texts
    emptied, staff users renamed `erased-<id>` without e-mail, names or login, invitations
    deleted, Email2SMS senders and audited e-mail addresses cleared. Safe to repeat; audited."""
    now = now or timezone.now()
    summary = ErasureSummary()
    messages = Message.objects.filter(partner=partner)
    reduced = retention.reduce_messages(messages, batch=settings.RETENTION_BATCH)
    summary.messages = sum(reduced.values())
    # Texts kept (STORE_MESSAGE_TEXT) of messages reduced earlier, e.g. by retention.
    messages.exclude(text="").update(text="")
    with transaction.atomic():
        user_ids = list(
            PartnerStaff.objects.filter(partner=partner).values_list("user_id", flat=True)
        )
        for user in (
            get_user_model().objects.filter(pk__in=user_ids).exclude(username__startswith="erased-")
        ):
            user.username = f"erased-{user.pk}"
            user.email = user.first_name = user.last_name = ""
            user.is_active = False
            user.set_unusable_password()
            user.save()
            summary.users += 1
        if apps.is_installed("partner_portal"):
            # The portal's own records of these people (looked up by name: billing sits below
            # the portal and imports none of it).
            invitations = apps.get_model("partner_portal", "Invitation").objects.filter(
                partner=partner
            )
            summary.invitations, _ = invitations.delete()
            apps.get_model("partner_portal", "LoginSession").objects.filter(
                user_id__in=user_ids
            ).delete()
        summary.accounts = (
            ClientAccount.objects.filter(partner=partner)
            .exclude(email2sms_sender="")
            .update(email2sms_sender="")
        )
        named = ("email", "username")
        for entry in AuditEntry.objects.filter(partner=partner, detail__has_any_keys=named):
            entry.detail = {k: ERASED if k in named else v for k, v in entry.detail.items()}
            entry.save(update_fields=["detail"])
        AuditEntry.objects.create(
            partner=partner,
            action=AuditAction.PARTNER_ERASE,
            actor=actor,
            detail=asdict(summary),
            created_at=now,
        )
    return summary
