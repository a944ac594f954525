"""Reconciliation: match SerwerSMS's partner billing (CSV) of one partner and month with our
counted messages, on (account name, SerwerSMS id), and store the result (docs/reconcile.md)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing.commission import BILLING_ZONE, billing_month, format_period
from billing.models import (
    AuditAction,
    AuditEntry,
    Channel,
    ClientAccount,
    Message,
    MessageType,
    Partner,
    Reconciliation,
    ReconciliationOutcome,
    ReconciliationRow,
)
from billing.services.ic_proof import confirm_reported_messages
from billing.statuses import parse_status

Outcome = ReconciliationOutcome

# Our names of the file's fields, by default also its headers (the simulator's export,
# serwersms_sim/reports.py); RECONCILE_COLUMNS (`field:Header,...`) renames them.
FIELDS = ("id", "account", "phone", "type", "parts", "status", "dispatched_at", "cost", "ic")
# The others are optional: when the file has no such column, that figure is not compared.
REQUIRED_FIELDS = ("id", "account", "parts", "status", "dispatched_at")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # Europe/Warsaw local time, as in the SerwerSMS panel
MAX_REPORTED_ERRORS = 20
ROW_BATCH = 2000
MAX_COST = Decimal("99999999.9999")  # the row's DecimalField(12, 4)
MAX_PARTS = 32767  # PositiveSmallIntegerField
ASCII_DIGITS = re.compile(r"[0-9]{1,12}")
ASCII_AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]*)?|\.[0-9]+")
# Dispatch times further apart than this disagree (theirs has whole seconds, ours may not).
TIME_TOLERANCE = timedelta(seconds=60)
# ReconciliationRow's their_<name> / our_<name> fields, from the TheirRow / OurRow attributes.
SIDE_FIELDS = ("phone", "status", "type", "parts", "cost", "dispatched_at")


class ReconcileError(Exception):
    """The uploaded statement cannot be used; nothing was changed."""


@dataclass(frozen=True)
class TheirRow:
    line: int
    serwersms_id: str
    account: str
    phone: str
    type: str  # "" when the file has no type column
    parts: int
    status: str
    dispatched_at: datetime
    cost: Decimal | None
    ic: int | None


@dataclass(frozen=True)
class OurRow:
    message_id: int
    serwersms_id: str
    account: str
    type: str
    parts: int
    status: str
    dispatched_at: datetime | None
    phone: str
    cost: Decimal | None


@dataclass(frozen=True)
class Disagreement:
    account: str
    serwersms_id: str
    field: str  # status | parts | cost | type | month | phone | time
    ours: str
    theirs: str


@dataclass
class RowResult:
    """One row of the stored reconciliation, before it is written."""

    outcome: str
    theirs: TheirRow | None = None
    ours: OurRow | None = None
    differences: list[Disagreement] = field(default_factory=list)


@dataclass
class ReconcileReport:
    period: date
    their_messages: int = 0
    their_parts: int = 0
    our_messages: int = 0
    our_parts: int = 0
    their_cost: Decimal = Decimal(0)
    our_cost: Decimal = Decimal(0)
    matched: int = 0
    missing_ours: list[TheirRow] = field(default_factory=list)  # billed by them, unknown to us
    missing_theirs: list[OurRow] = field(default_factory=list)  # counted by us, not billed
    disagreements: list[Disagreement] = field(default_factory=list)
    rows: list[RowResult] = field(default_factory=list)
    reconciliation: Reconciliation | None = None
    replaced: bool = False
    proof: ProofIds | None = None

    @property
    def clean(self) -> bool:
        return not (self.missing_ours or self.missing_theirs or self.disagreements)

    def outcomes(self) -> dict[str, int]:
        counts = Counter(row.outcome for row in self.rows)
        return {outcome.value: counts[outcome.value] for outcome in Outcome}

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
            "outcomes": self.outcomes(),
        }


# --- the file ----------------------------------------------------------------------------------


def column_mapping() -> dict[str, str]:
    """Our field -> the file's header: FIELDS renamed by RECONCILE_COLUMNS; ReconcileError
    naming the bad pair when the setting is not `field:Header,...` of known fields."""
    mapping = {name: name for name in FIELDS}
    for pair in (p.strip() for p in (settings.RECONCILE_COLUMNS or "").split(",")):
        if not pair:
            continue
        name, sep, header = pair.partition(":")
        name, header = name.strip().lower(), header.strip()
        if not sep or name not in mapping or not header:
            raise ReconcileError(
                _(
                    "The setting RECONCILE_COLUMNS is wrong at %(pair)r: expected field:Header "
                    "pairs, fields %(fields)s."
                )
                % {"pair": pair, "fields": ", ".join(FIELDS)}
            )
        mapping[name] = header
    if len({h.lower() for h in mapping.values()}) != len(mapping):
        raise ReconcileError(_("The setting RECONCILE_COLUMNS names one header for two fields."))
    return mapping


def check_size(size: int) -> None:
    """Refuse a file over RECONCILE_MAX_FILE_BYTES before reading it."""
    limit = settings.RECONCILE_MAX_FILE_BYTES
    if size > limit:
        raise ReconcileError(
            _(
                "The file is too large: %(size)s bytes, at most %(limit)s "
                "(RECONCILE_MAX_FILE_BYTES)."
            )
            % {"size": f"{size:,}", "limit": f"{limit:,}"}
        )


def parse_partner_billing(data: bytes | str) -> list[TheirRow]:
    """Every row of SerwerSMS's partner billing CSV, or a ReconcileError naming the bad rows."""
    columns = column_mapping()
    if isinstance(data, bytes):
        check_size(len(data))
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ReconcileError(
                _(
                    "The file is not UTF-8 text (byte %(position)d: %(reason)s). Save it as "
                    "CSV UTF-8 and upload it again."
                )
                % {"position": error.start, "reason": error.reason}
            ) from None
    if "\x00" in data:
        raise ReconcileError(_("The file holds NUL characters: it is not a CSV text file."))
    data = data.removeprefix("\ufeff")
    # Comma per the simulator; a semicolon file (spreadsheet export in a Polish locale) also reads.
    first_line = data.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(data), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ReconcileError(_("The file is empty: expected a header row.")) from None
    except csv.Error as error:
        raise ReconcileError(
            _("The header row is not valid CSV: %(error)s.") % {"error": error}
        ) from None
    names = [h.strip().lower() for h in header]
    missing = [columns[f] for f in REQUIRED_FIELDS if columns[f].lower() not in names]
    if missing:
        raise ReconcileError(
            _(
                "Bad header: missing column(s) %(missing)s; expected %(expected)s, got %(got)s. "
                "The column names are set by RECONCILE_COLUMNS."
            )
            % {
                "missing": ", ".join(missing),
                "expected": ", ".join(columns[f] for f in REQUIRED_FIELDS),
                "got": ", ".join(header) or "-",
            }
        )
    if len(set(names)) != len(names):
        raise ReconcileError(_("Bad header: a column appears twice."))
    index = {f: names.index(h.lower()) for f, h in columns.items() if h.lower() in names}

    rows: list[TheirRow] = []
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(names):
                errors.append(
                    _("line %(line)d: %(found)d fields, expected %(expected)d")
                    % {"line": line, "found": len(values), "expected": len(names)}
                )
                continue
            get = {f: values[i].strip() for f, i in index.items()}
            problems: list[str] = []
            row = _their_row(line, get, problems)
            key = (get["account"], get["id"])
            if key in seen:
                problems.append(_("duplicate of line %(line)d") % {"line": seen[key]})
            if problems:
                errors.append(_("line %(line)d: ") % {"line": line} + "; ".join(problems))
                continue
            seen[key] = line
            rows.append(row)
    except csv.Error as error:
        errors.append(
            _("line %(line)d: not valid CSV (%(error)s)")
            % {"line": reader.line_num, "error": error}
        )
    if errors:
        shown = "\n".join(errors[:MAX_REPORTED_ERRORS])
        more = len(errors) - MAX_REPORTED_ERRORS
        tail = ("\n" + _("... and %(count)d more") % {"count": more}) if more > 0 else ""
        raise ReconcileError(
            ngettext(
                "%(count)d bad row; nothing was imported:",
                "%(count)d bad rows; nothing was imported:",
                len(errors),
            )
            % {"count": len(errors)}
            + f"\n{shown}{tail}"
        )
    return rows


def _their_row(line: int, get: dict[str, str], problems: list[str]) -> TheirRow | None:
    """The row, or None with what is wrong with it appended to `problems`."""
    if not get["id"] or len(get["id"]) > 64:
        problems.append(_("the id must have 1 to 64 characters"))
    if not get["account"] or len(get["account"]) > 100:
        problems.append(_("the account must have 1 to 100 characters"))
    phone = get.get("phone", "")
    if len(phone) > 32:
        problems.append(_("the phone is longer than 32 characters"))
    message_type = get.get("type", "").lower()
    if "type" in get and message_type not in MessageType.values:
        problems.append(_("unknown type %(value)r") % {"value": get["type"]})
    # ASCII digits only, here and in the cost and ic: int() and Decimal() also read "٣" as 3,
    # "1_0" as 10, "+2" and "1e2".
    parts = int(get["parts"]) if ASCII_DIGITS.fullmatch(get["parts"]) else 0
    if not 1 <= parts <= MAX_PARTS:
        problems.append(
            _("parts must be a positive whole number, got %(value)r") % {"value": get["parts"]}
        )
    status = parse_status(get["status"])
    if status is None:
        problems.append(_("unknown status %(value)r") % {"value": get["status"]})
    try:
        local = datetime.strptime(get["dispatched_at"], TIME_FORMAT)
    except ValueError:
        problems.append(
            _("dispatched_at must be 'YYYY-MM-DD HH:MM:SS', got %(value)r")
            % {"value": get["dispatched_at"]}
        )
    cost = None
    if get.get("cost"):
        text = get["cost"] if "." in get["cost"] else get["cost"].replace(",", ".")
        if ASCII_AMOUNT.fullmatch(text) and Decimal(text) <= MAX_COST:
            cost = Decimal(text).quantize(Decimal("0.0001"))
        else:
            problems.append(
                _("cost must be an amount from 0 to %(max)s, got %(value)r")
                % {"max": MAX_COST, "value": get["cost"]}
            )
    ic = get.get("ic") or None
    if ic and (not ASCII_DIGITS.fullmatch(ic) or len(ic) > 12 or int(ic) < 1):
        problems.append(_("the ic must be a positive integer, got %(value)r") % {"value": ic})
    elif ic:
        ic = int(ic)
    if problems:
        return None
    return TheirRow(
        line=line,
        serwersms_id=get["id"],
        account=get["account"],
        phone=phone,
        type=message_type,
        parts=parts,
        status=status.value,
        dispatched_at=local.replace(tzinfo=BILLING_ZONE),
        cost=cost,
        ic=ic,
    )


def _check_belongs(partner: Partner, period: date, theirs: list[TheirRow]) -> None:
    """Refuse a file of another month, another partner's ic or another partner's accounts."""
    outside = [r for r in theirs if billing_month(r.dispatched_at) != period]
    if outside:
        sample = ", ".join(str(r.line) for r in outside[:5])
        raise ReconcileError(
            _(
                "%(count)d row(s) are dispatched outside %(period)s (lines %(lines)s); is this "
                "the statement of another month?"
            )
            % {"count": len(outside), "period": format_period(period), "lines": sample}
        )
    other_ic = [r for r in theirs if r.ic is not None and r.ic != partner.ic]
    if other_ic:
        raise ReconcileError(
            _(
                "%(count)d row(s) carry ic %(ic)s, not this partner's ic %(ours)s (first at line "
                "%(line)d); is this another partner's statement?"
            )
            % {
                "count": len(other_ic),
                "ic": other_ic[0].ic,
                "ours": partner.ic,
                "line": other_ic[0].line,
            }
        )
    foreign = sorted(
        ClientAccount.objects.filter(name__in={r.account for r in theirs})
        .exclude(partner=partner)
        .values_list("name", flat=True)
    )
    if foreign:
        raise ReconcileError(
            _(
                "The file lists client account(s) of another partner: %(accounts)s; is this "
                "another partner's statement?"
            )
            % {"accounts": ", ".join(foreign[:5])}
        )


# --- matching ----------------------------------------------------------------------------------

# In OurRow's order.
_OUR_FIELDS = (
    "id", Coalesce("serwersms_id", Value("")), "account__name", "message_type", "parts", "status",
    "billing_at", "phone", "cost",
)  # fmt: skip


def compare(partner: Partner, period: date, theirs: list[TheirRow]) -> ReconcileReport:
    """Match their rows with our counted messages of `period`; read only, writes nothing."""
    report = ReconcileReport(period=period)
    ours: dict[tuple[str, str], OurRow] = {}
    counted = (
        Message.objects.filter(partner=partner)
        .in_billing_month(period)
        .dispatched()  # whatever proves the ic: SerwerSMS's billing is what confirms it
        .order_by("billing_at", "id")
        .values_list(*_OUR_FIELDS)
    )
    for values in counted.iterator(chunk_size=5000):
        row = OurRow(*values)
        ours[(row.account, row.serwersms_id or f"(no id: message {row.message_id})")] = row
        report.our_messages += 1
        report.our_parts += row.parts
        report.our_cost += row.cost or 0

    their_keys = {(row.account, row.serwersms_id): row for row in theirs}  # unique: parsed
    report.their_messages = len(theirs)
    report.their_parts = sum(row.parts for row in theirs)
    report.their_cost = sum((row.cost or 0 for row in theirs), Decimal(0))

    unmatched = {key: row for key, row in their_keys.items() if key not in ours}
    known = _look_up(partner, list(unmatched.values()))
    for key, row in unmatched.items():
        found = known.get(key)
        if found is None:
            report.missing_ours.append(row)
            report.rows.append(RowResult(Outcome.MISSING_HERE, row))
            continue
        # We know the message but do not count it in this month: say why.
        month = billing_month(found.dispatched_at)
        if month != period:
            item = Disagreement(*key, "month", format_period(month), format_period(period))
            outcome = Outcome.MISSING_HERE
        else:
            item = Disagreement(*key, "status", found.status, row.status)
            outcome = Outcome.STATUS_DIFFERENT
        report.disagreements.append(item)
        report.rows.append(RowResult(outcome, row, found, [item]))

    for key, ours_row in ours.items():
        row = their_keys.get(key)
        if row is None:
            report.missing_theirs.append(ours_row)
            report.rows.append(RowResult(Outcome.MISSING_AT_SERWERSMS, ours=ours_row))
            continue
        report.matched += 1
        found = _differences(key, ours_row, row)
        report.disagreements.extend(found)
        report.rows.append(RowResult(_outcome_of(found), row, ours_row, found))
    return report


def _differences(key: tuple[str, str], ours: OurRow, theirs: TheirRow) -> list[Disagreement]:
    checks = [
        ("status", ours.status, theirs.status),
        ("parts", str(ours.parts), str(theirs.parts)),
    ]
    if theirs.cost is not None:
        mine = "-" if ours.cost is None else f"{ours.cost:.4f}"
        checks.append(("cost", mine, f"{theirs.cost:.4f}"))
    if theirs.type:
        checks.append(("type", ours.type, theirs.type))
    found = [Disagreement(*key, name, mine, their) for name, mine, their in checks if mine != their]
    # A pair swapped between two messages shows as a phone or time disagreement.
    if not _same_phone(ours.phone, theirs.phone):
        found.append(Disagreement(*key, "phone", ours.phone, theirs.phone))
    at = ours.dispatched_at
    if at is None or abs(at - theirs.dispatched_at) > TIME_TOLERANCE:
        found.append(Disagreement(*key, "time", _local(at), _local(theirs.dispatched_at)))
    return found


def _same_phone(ours: str, theirs: str) -> bool:
    """The same number written with or without +48 (their file may drop the prefix)."""
    mine = "".join(ch for ch in ours if ch.isdigit())
    their = "".join(ch for ch in theirs if ch.isdigit())
    if not their:
        return True  # a statement without numbers cannot disagree on them
    shorter, longer = sorted((mine, their), key=len)
    return len(shorter) >= 9 and longer.endswith(shorter)


def _local(moment: datetime | None) -> str:
    return moment.astimezone(BILLING_ZONE).strftime(TIME_FORMAT) if moment else "-"


def _outcome_of(differences: list[Disagreement]) -> str:
    """The first kind of difference found decides the outcome of a row both sides list."""
    fields = {d.field for d in differences}
    if "status" in fields:
        return Outcome.STATUS_DIFFERENT
    if fields & {"parts", "cost", "type"}:
        return Outcome.AMOUNT_DIFFERENT
    if fields & {"phone", "time"}:
        return Outcome.DETAILS_DIFFERENT
    return Outcome.CONFIRMED


def _look_up(partner: Partner, rows: list[TheirRow]) -> dict[tuple[str, str], OurRow]:
    """Our messages (any month, any status) for rows we do not count this month, in batches."""
    by_account: dict[str, list[str]] = {}
    for row in rows:
        by_account.setdefault(row.account, []).append(row.serwersms_id)
    found: dict[tuple[str, str], OurRow] = {}
    for account, ids in by_account.items():
        for start in range(0, len(ids), 500):
            for values in Message.objects.filter(
                partner=partner, account__name=account, serwersms_id__in=ids[start : start + 500]
            ).values_list(*_OUR_FIELDS):
                row = OurRow(*values)
                found[(row.account, row.serwersms_id)] = row
    return found


# --- storing -----------------------------------------------------------------------------------


def reconcile(
    partner: Partner,
    period: date,
    data: bytes | str,
    *,
    actor: str,
    file_name: str = "",
    now: datetime | None = None,
) -> ReconcileReport:
    """Match SerwerSMS's partner billing `data` of `period` with our messages and store it.

    Returns the report (its `reconciliation` is the stored result). Raises ReconcileError, with
    nothing written, when the file is unreadable or not this partner's or month's. A second
    call for the same partner and month replaces the first result; each call is audited."""
    now = now or timezone.now()
    period = period.replace(day=1)
    raw = data.encode() if isinstance(data, str) else data
    theirs = parse_partner_billing(raw)
    _check_belongs(partner, period, theirs)
    report = compare(partner, period, theirs)
    with transaction.atomic():
        # One upload at a time per partner: the replaced result and the new one never mix.
        Partner.objects.select_for_update().filter(pk=partner.pk).first()
        previous = Reconciliation.objects.filter(partner=partner, period=period).first()
        replaced = {}
        if previous is not None:
            replaced = {
                "replaced_id": previous.pk,
                "replaced_sha256": previous.file_sha256,
                "replaced_uploaded_at": previous.uploaded_at.isoformat(),
                "replaced_by": previous.uploaded_by,
            }
            previous.delete()  # its rows go with it (one DELETE: nothing points at rows)
        reconciliation = Reconciliation.objects.create(
            partner=partner,
            period=period,
            file_name=file_name[:255],
            file_sha256=hashlib.sha256(raw).hexdigest(),
            file_size=len(raw),
            uploaded_by=actor,
            uploaded_at=now,
            their_messages=report.their_messages,
            their_parts=report.their_parts,
            their_cost=report.their_cost,
            our_messages=report.our_messages,
            our_parts=report.our_parts,
            our_cost=report.our_cost,
            totals=_totals(report.rows),
        )
        _store_rows(reconciliation, report.rows)
        report.reconciliation = reconciliation
        report.replaced = previous is not None
        AuditEntry.objects.create(
            partner=partner,
            action=AuditAction.RECONCILE,
            actor=actor,
            detail={
                **report.summary(),
                "reconciliation": reconciliation.pk,
                "file": reconciliation.file_name,
                "sha256": reconciliation.file_sha256,
                **replaced,
            },
            created_at=now,
        )
        report.proof = _apply_proof(reconciliation, actor=actor, now=now)
    return report


def _sides(row: RowResult) -> list[tuple[str, TheirRow | OurRow]]:
    """("their", their row), ("our", our row): the sides that list the row."""
    return [(side, value) for side, value in (("their", row.theirs), ("our", row.ours)) if value]


def _totals(rows: list[RowResult]) -> dict[str, dict]:
    figures = ("messages", "their_parts", "our_parts", "their_cost", "our_cost")
    totals = {outcome.value: dict.fromkeys(figures, 0) for outcome in Outcome}
    for row in rows:
        entry = totals[row.outcome]
        entry["messages"] += 1
        for side, value in _sides(row):
            entry[f"{side}_parts"] += value.parts
            entry[f"{side}_cost"] += value.cost or 0
    for entry in totals.values():
        entry["their_cost"] = f"{entry['their_cost']:.4f}"
        entry["our_cost"] = f"{entry['our_cost']:.4f}"
    return totals


def _store_rows(reconciliation: Reconciliation, rows: list[RowResult]) -> None:
    for start in range(0, len(rows), ROW_BATCH):
        ReconciliationRow.objects.bulk_create(
            ReconciliationRow(
                reconciliation=reconciliation,
                outcome=row.outcome,
                message_id=row.ours.message_id if row.ours else None,
                # Both sides have the same account and id when both list the row.
                account_name=(row.theirs or row.ours).account,
                serwersms_id=(row.theirs or row.ours).serwersms_id,
                line=row.theirs.line if row.theirs else None,
                differences=[
                    {"field": d.field, "ours": d.ours, "theirs": d.theirs} for d in row.differences
                ],
                # A side that does not list the row keeps the fields' defaults ("" or None).
                **{
                    f"{side}_{name}": getattr(value, name)
                    for side, value in _sides(row)
                    for name in SIDE_FIELDS
                },
            )
            for row in rows[start : start + ROW_BATCH]
        )


# --- the ic proof ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProofIds:
    confirmed_ids: list[int]
    refuted_ids: list[int]


def _apply_proof(reconciliation: Reconciliation, *, actor: str, now: datetime) -> ProofIds:
    """Tell the ic proof what this reconciliation proved about reported messages (only the
    partner's word that its software added the ic): listed by the billing, whatever else differs,
    is confirmed; counted here but not listed is refuted. From the stored rows, so a replacing
    upload decides again."""
    rows = ReconciliationRow.objects.filter(
        reconciliation=reconciliation, message__channel=Channel.REPORTED
    ).values_list("message_id", "outcome")
    confirmed: list[int] = []
    refuted: list[int] = []
    for message_id, outcome in rows.order_by("message_id").iterator(chunk_size=5000):
        (refuted if outcome == Outcome.MISSING_AT_SERWERSMS else confirmed).append(message_id)
    # The ic-proof service moves them; rollups, drafts and late changes follow.
    confirm_reported_messages(confirmed_ids=confirmed, refuted_ids=refuted, actor=actor, now=now)
    return ProofIds(confirmed_ids=confirmed, refuted_ids=refuted)
