"""The reconciliation of a statement's month with SerwerSMS's partner billing: its rows page and
its download (CSV streamed, XLSX write-only). Scoped through the statement (access.py): another
partner's statement, and so its reconciliation, is a 404."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing import reconciliation_selectors as selectors
from billing.cells import neutralise
from billing.commission import BILLING_ZONE, format_period
from billing.models import ReconciliationOutcome, ReconciliationRow, Statement
from billing.statuses import Status

from .access import get_partner_object_or_404, partner_required
from .exports import Echo
from .statement_timeout import limited_statement_time

# The figures a reconciliation row can disagree on (services/reconcile.py).
DIFFERENCE_FIELDS = {
    "status": gettext_lazy("status"),
    "parts": gettext_lazy("parts"),
    "cost": gettext_lazy("cost"),
    "type": gettext_lazy("type"),
    "month": gettext_lazy("billing month"),
    "phone": gettext_lazy("phone"),
    "time": gettext_lazy("dispatch time"),
}
PER_PAGE = 100
CHUNK_SIZE = 2000
FORMATS = ("csv", "xlsx")


def _rows_of(request: HttpRequest, pk: int):
    """The statement, its reconciliation, the outcome asked for ("" for all) and its rows."""
    statement = get_partner_object_or_404(
        request, Statement.objects.select_related("partner"), pk=pk
    )
    reconciliation = selectors.reconciliation_for(request.partner, statement.period)
    if reconciliation is None:
        raise Http404("This month has no reconciliation.")
    outcome = request.GET.get("outcome", "")
    outcome = outcome if outcome in ReconciliationOutcome.values else ""
    rows = selectors.reconciliation_rows(reconciliation, outcome=outcome or None)
    return statement, reconciliation, outcome, rows


@partner_required
@limited_statement_time
def reconciliation_rows(request: HttpRequest, pk: int) -> HttpResponse:
    statement, reconciliation, outcome, rows = _rows_of(request, pk)
    after = request.GET.get("after", "")
    if after.isdigit() and len(after) < 19:
        rows = rows.filter(id__gt=int(after))
    page = list(rows.select_related(None)[: PER_PAGE + 1])
    more = len(page) > PER_PAGE
    page = page[:PER_PAGE]
    for row in page:
        row.differences_text = differences_text(row)
    return render(
        request,
        "portal/reconciliation_rows.html",
        {
            "statement": statement,
            "reconciliation": reconciliation,
            "rows": page,
            "outcome": outcome,
            "outcomes": ReconciliationOutcome.choices,
            "next_after": page[-1].pk if more else None,
            "formats": FORMATS,
            "nav": "statements",
        },
    )


def headers() -> list[str]:
    return [
        _("Outcome"),
        _("Client account"),
        _("SerwerSMS id"),
        _("Line in SerwerSMS's file"),
        _("Our phone"),
        _("SerwerSMS's phone"),
        _("Our status"),
        _("SerwerSMS's status"),
        _("Our type"),
        _("SerwerSMS's type"),
        _("Our parts"),
        _("SerwerSMS's parts"),
        _("Our cost"),
        _("SerwerSMS's cost"),
        _("Our dispatch time"),
        _("SerwerSMS's dispatch time"),
        _("Differences"),
    ]


def _local(value):
    return value.astimezone(BILLING_ZONE).replace(tzinfo=None) if value else None


def differences_text(row: ReconciliationRow) -> str:
    """`parts: 2 / 3; cost: ...` (ours / SerwerSMS's), the field names translated."""
    return "; ".join(
        f"{DIFFERENCE_FIELDS.get(d['field'], d['field'])}: {d['ours']} / {d['theirs']}"
        for d in row.differences or []
    )


def words() -> dict[str, str]:
    """Outcome and status words in the active language, looked up once per download."""
    choices = [*Status.choices, *ReconciliationOutcome.choices]
    return {value: str(label) for value, label in choices}


def row_cells(row: ReconciliationRow, words: dict[str, str]) -> list:
    """One row as cells: texts neutralised, times in Europe/Warsaw, amounts as Decimals."""
    return [
        neutralise(words.get(row.outcome, row.outcome)),
        neutralise(row.account_name),
        neutralise(row.serwersms_id),
        row.line,
        neutralise(row.our_phone),
        neutralise(row.their_phone),
        words.get(row.our_status, row.our_status),
        words.get(row.their_status, row.their_status),
        row.our_type.upper(),
        row.their_type.upper(),
        row.our_parts,
        row.their_parts,
        row.our_cost,
        row.their_cost,
        _local(row.our_dispatched_at),
        _local(row.their_dispatched_at),
        neutralise(differences_text(row)),
    ]


def _csv_lines(rows, outcomes: dict[str, str]) -> Iterator[str]:
    writer = csv.writer(Echo())
    yield "\ufeff" + writer.writerow(headers())
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        yield writer.writerow([_csv_cell(c) for c in row_cells(row, outcomes)])


def _csv_cell(value):
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else value  # None: ""


@partner_required
def reconciliation_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in FORMATS:
        raise Http404("Unknown format.")
    statement, _reconciliation, _outcome, rows = _rows_of(request, pk)
    outcomes = words()
    name = f"reconciliation-{request.partner.ic}-{format_period(statement.period)}"
    if fmt == "csv":
        response = StreamingHttpResponse(
            _csv_lines(rows, outcomes), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Reconciliation"))
    sheet.append(headers())
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        sheet.append(row_cells(row, outcomes))
    target = tempfile.TemporaryFile()
    workbook.save(target)
    target.seek(0)
    return FileResponse(
        target,
        as_attachment=True,
        filename=f"{name}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
