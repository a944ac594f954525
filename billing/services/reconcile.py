"""Reconciliation: compare SerwerSMS's own partner statement (CSV) with our counted messages.

Rows are matched on (account name, SerwerSMS id). A broken file is refused as a whole.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import transaction

from billing.commission import BILLING_ZONE, billing_month, format_period
from billing.models import AuditAction, AuditEntry, Message, MessageType, Partner
from billing.statuses import parse_status

COLUMNS = ("id", "account", "phone", "type", "parts", "status", "dispatched_at")
MAX_REPORTED_ERRORS = 20
MAX_FILE_BYTES = 200 * 1024 * 1024
# Dispatch times further apart than this disagree (theirs has whole seconds, ours may not).
TIME_TOLERANCE_SECONDS = 60


class ReconcileError(Exception):
    """The uploaded statement cannot be read; nothing was changed."""


@dataclass(frozen=True)
class TheirRow:
    line: int
    serwersms_id: str
    account: str
    phone: str
    message_type: str
    parts: int
    status: str
    dispatched_at: datetime


@dataclass(frozen=True)
class OurRow:
    message_id: int
    serwersms_id: str
    account: str
    message_type: str
    parts: int
    status: str
    dispatched_at: datetime | None
    phone: str = ""


@dataclass(frozen=True)
class Disagreement:
    account: str
    serwersms_id: str
    field: str  # status | parts | type | month | phone | time
    ours: str
    theirs: str
    message_id: int


@dataclass
class ReconcileReport:
    partner: Partner
    period: date
    their_messages: int = 0
    their_parts: int = 0
    our_messages: int = 0
    our_parts: int = 0
    matched: int = 0
    missing_ours: list[TheirRow] = field(default_factory=list)  # billed by them, unknown to us
    missing_theirs: list[OurRow] = field(default_factory=list)  # counted by us, not billed
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing_ours or self.missing_theirs or self.disagreements)

    def summary(self) -> dict:
        return {
            "period": format_period(self.period),
            "their_messages": self.their_messages,
            "their_parts": self.their_parts,
            "our_messages": self.our_messages,
            "our_parts": self.our_parts,
            "matched": self.matched,
            "missing_ours": len(self.missing_ours),
            "missing_theirs": len(self.missing_theirs),
            "disagreements": dict(Counter(d.field for d in self.disagreements)),
        }


def parse_partner_billing(data: bytes | str) -> list[TheirRow]:
    """Every row of SerwerSMS's partner billing CSV, or a ReconcileError naming the bad rows."""
    if isinstance(data, bytes):
        if len(data) > MAX_FILE_BYTES:
            raise ReconcileError("The file is too large.")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ReconcileError(f"The file is not UTF-8 text ({error.reason}).") from None
    data = data.removeprefix("\ufeff")
    # Comma per the contract; a semicolon file (spreadsheet export in a Polish locale) also reads.
    first_line = data.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(data), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ReconcileError("The file is empty: expected a header row.") from None
    except csv.Error as error:
        raise ReconcileError(f"The header row is not valid CSV: {error}.") from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ReconcileError(
            f"Bad header: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(COLUMNS)}, got {', '.join(header) or 'nothing'}."
        )
    if len(set(names)) != len(names):
        raise ReconcileError("Bad header: a column appears twice.")
    index = {c: names.index(c) for c in COLUMNS}

    rows: list[TheirRow] = []
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    types = {t.value for t in MessageType}
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(names):
                errors.append(f"line {line}: {len(values)} fields, expected {len(names)}")
                continue
            get = {c: values[i].strip() for c, i in index.items()}
            problems = []
            if not get["id"]:
                problems.append("empty id")
            if not get["account"]:
                problems.append("empty account")
            message_type = get["type"].lower()
            if message_type not in types:
                problems.append(f"unknown type {get['type']!r}")
            try:
                parts = int(get["parts"])
                if parts < 1:
                    raise ValueError
            except ValueError:
                problems.append(f"parts must be a positive whole number, got {get['parts']!r}")
                parts = 0
            status = parse_status(get["status"])
            if status is None:
                problems.append(f"unknown status {get['status']!r}")
            try:
                local = datetime.strptime(get["dispatched_at"], "%Y-%m-%d %H:%M:%S")
                dispatched_at = local.replace(tzinfo=BILLING_ZONE)
            except ValueError:
                problems.append(
                    f"dispatched_at must be 'YYYY-MM-DD HH:MM:SS', got {get['dispatched_at']!r}"
                )
                dispatched_at = None
            key = (get["account"], get["id"])
            if key in seen:
                problems.append(f"duplicate of line {seen[key]}")
            if problems:
                errors.append(f"line {line}: " + "; ".join(problems))
                continue
            seen[key] = line
            rows.append(
                TheirRow(
                    line=line,
                    serwersms_id=get["id"],
                    account=get["account"],
                    phone=get["phone"],
                    message_type=message_type,
                    parts=parts,
                    status=status.value,
                    dispatched_at=dispatched_at,
                )
            )
    except csv.Error as error:
        errors.append(f"line {reader.line_num}: not valid CSV ({error})")
    if errors:
        shown = "\n".join(errors[:MAX_REPORTED_ERRORS])
        more = len(errors) - MAX_REPORTED_ERRORS
        tail = f"\n... and {more} more" if more > 0 else ""
        raise ReconcileError(f"{len(errors)} bad row(s); nothing was imported:\n{shown}{tail}")
    return rows


def reconcile(partner: Partner, period: date, data: bytes | str, *, actor: str) -> ReconcileReport:
    """Compare their rows with our counted messages of the month; record who reconciled."""
    period = period.replace(day=1)
    theirs = parse_partner_billing(data)
    report = ReconcileReport(partner=partner, period=period)

    outside = [r for r in theirs if billing_month(r.dispatched_at) != period]
    if outside:
        sample = ", ".join(f"line {r.line}" for r in outside[:5])
        raise ReconcileError(
            f"{len(outside)} row(s) are dispatched outside {format_period(period)} ({sample}); "
            "is this the statement of another month?"
        )

    ours: dict[tuple[str, str], OurRow] = {}
    rows = (
        Message.objects.filter(partner=partner)
        .in_billing_month(period)
        .counted()
        .order_by("billing_at", "id")
        .values_list(
            "id",
            "serwersms_id",
            "account__name",
            "message_type",
            "parts",
            "status",
            "billing_at",
            "phone",
        )
    )
    for (
        message_id,
        sid,
        account,
        message_type,
        parts,
        status,
        dispatched_at,
        phone,
    ) in rows.iterator(chunk_size=5000):
        row = OurRow(
            message_id, sid or "", account, message_type, parts, status, dispatched_at, phone
        )
        ours[(account, sid or f"(no id: message {message_id})")] = row
        report.our_messages += 1
        report.our_parts += parts

    their_keys = {}
    for row in theirs:
        their_keys[(row.account, row.serwersms_id)] = row
        report.their_messages += 1
        report.their_parts += row.parts

    unmatched = [row for key, row in their_keys.items() if key not in ours]
    known = _look_up(partner, unmatched)
    for row in unmatched:
        found = known.get((row.account, row.serwersms_id))
        if found is None:
            report.missing_ours.append(row)
            continue
        # We know the message but do not count it in this month: say why.
        # Our billing month (OurRow.dispatched_at holds the billing instant, never empty).
        if billing_month(found.dispatched_at) != period:
            ours_month = format_period(billing_month(found.dispatched_at))
            report.disagreements.append(
                Disagreement(
                    row.account,
                    row.serwersms_id,
                    "month",
                    ours_month,
                    format_period(period),
                    found.message_id,
                )
            )
        else:
            report.disagreements.append(
                Disagreement(
                    row.account,
                    row.serwersms_id,
                    "status",
                    found.status,
                    row.status,
                    found.message_id,
                )
            )

    for key, ours_row in ours.items():
        row = their_keys.get(key)
        if row is None:
            report.missing_theirs.append(ours_row)
            continue
        report.matched += 1
        # A pair swapped between two messages shows as a phone or time disagreement.
        for name, mine, their, same in (
            ("status", ours_row.status, row.status, None),
            ("parts", str(ours_row.parts), str(row.parts), None),
            ("type", ours_row.message_type, row.message_type, None),
            ("phone", ours_row.phone, row.phone, _same_phone(ours_row.phone, row.phone)),
            (
                "time",
                _local(ours_row.dispatched_at),
                _local(row.dispatched_at),
                _close(ours_row.dispatched_at, row.dispatched_at),
            ),
        ):
            if (mine != their) if same is None else not same:
                report.disagreements.append(
                    Disagreement(key[0], key[1], name, mine, their, ours_row.message_id)
                )

    with transaction.atomic():
        AuditEntry.objects.create(
            partner=partner, action=AuditAction.RECONCILE, actor=actor, detail=report.summary()
        )
    return report


def _look_up(partner: Partner, rows: list[TheirRow]) -> dict[tuple[str, str], OurRow]:
    """Our messages (any month, any status) for rows we do not count this month, in batches."""
    by_account: dict[str, list[str]] = {}
    for row in rows:
        by_account.setdefault(row.account, []).append(row.serwersms_id)
    found: dict[tuple[str, str], OurRow] = {}
    for account, ids in by_account.items():
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            for values in Message.objects.filter(
                partner=partner, account__name=account, serwersms_id__in=batch
            ).values_list(
                "id",
                "serwersms_id",
                "account__name",
                "message_type",
                "parts",
                "status",
                "billing_at",
                "phone",
            ):
                found[(values[2], values[1])] = OurRow(*values)
    return found


def _same_phone(ours: str, theirs: str) -> bool:
    """The same number written with or without +48 (their file may drop the prefix)."""
    mine = "".join(ch for ch in ours if ch.isdigit())
    their = "".join(ch for ch in theirs if ch.isdigit())
    if not their:
        return True  # a statement without numbers cannot disagree on them
    shorter, longer = sorted((mine, their), key=len)
    return bool(shorter) and len(shorter) >= 9 and longer.endswith(shorter)


def _close(ours: datetime | None, theirs: datetime) -> bool:
    return ours is not None and abs((ours - theirs).total_seconds()) <= TIME_TOLERANCE_SECONDS


def _local(moment: datetime | None) -> str:
    return moment.astimezone(BILLING_ZONE).strftime("%Y-%m-%d %H:%M:%S") if moment else "-"
