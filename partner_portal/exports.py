"""Exports of the filtered messages table and statement downloads, in constant memory.

CSV is streamed row by row from `.iterator()`. XLSX is written by openpyxl in write-only mode
(rows go to disk as they come) into a temporary file that is then streamed and deleted, so
neither grows with the number of messages. Every text cell passes billing.cells.neutralise;
phones and ids are text cells in XLSX, never numbers or formulas.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.cells import neutralise
from billing.models import AuditAction, AuditEntry, Message, Statement
from billing.selectors import billing_zone

from .labels import reason_label

__all__ = ["neutralise", "messages_csv_response", "messages_xlsx_response"]

CHUNK_SIZE = 2000
XLSX_MAX_ROWS = 1_048_576  # Excel's limit per sheet; more rows continue on a new sheet
# Columns (0-based) that are identifiers: text in XLSX even when they look like numbers.
TEXT_COLUMNS = frozenset({2, 11, 12})


def _local(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return timezone.localtime(value, billing_zone()).replace(tzinfo=None)


def headers() -> list[str]:
    return [
        _("Created"),
        _("Client account"),
        _("Phone"),
        _("Sender"),
        _("Type"),
        _("Channel"),
        _("Parts"),
        _("Status"),
        _("Counted"),
        _("Dispatched"),
        _("Delivered"),
        _("SerwerSMS id"),
        _("Unique id"),
        _("Reason"),
    ]


class _Words:
    """The words of every code, looked up once per export in the active language (Django's
    get_FOO_display() translates every choice again on each call: most of an export's time)."""

    def __init__(self) -> None:
        def choices(name: str) -> dict:
            return {value: str(label) for value, label in Message._meta.get_field(name).flatchoices}

        self.type = choices("message_type")
        self.channel = choices("channel")
        self.status = choices("status")
        self.yes, self.no = _("yes"), _("no")
        self.reasons: dict[str, str] = {}

    def reason(self, code: str) -> str:
        if code not in self.reasons:
            self.reasons[code] = reason_label(code)
        return self.reasons[code]


def message_row(message: Message, words: _Words | None = None) -> list:
    words = words or _Words()
    return [
        _local(message.created_at),
        message.account.name,
        message.phone,
        message.sender,
        words.type.get(message.message_type, message.message_type),
        words.channel.get(message.channel, message.channel),
        message.parts,
        words.status.get(message.status, message.status),
        words.yes if message.is_counted else words.no,
        _local(message.dispatched_at) if message.is_counted else None,
        _local(message.delivered_at),
        message.serwersms_id or "",
        message.unique_id,
        words.reason(message.reason) or message.error_message,
    ]


def rows_with_totals(queryset: QuerySet[Message], progress=None) -> Iterator[list]:
    """Header, one row per message, an empty line and the totals (messages, parts, counted).

    `progress(rows_done)` is called every CHUNK_SIZE messages when given."""
    yield headers()
    words = _Words()
    messages = parts = counted = 0
    for message in queryset.iterator(chunk_size=CHUNK_SIZE):
        if progress is not None and messages % CHUNK_SIZE == 0 and messages:
            progress(messages)
        messages += 1
        parts += message.parts
        counted += message.is_counted
        yield [neutralise(cell) for cell in message_row(message, words)]
    yield []
    yield [_("Total messages"), messages]
    yield [_("Total parts"), parts]
    yield [_("Counted messages"), counted]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_cell(value):
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value


def _csv_lines(queryset: QuerySet[Message], language: str) -> Iterable[str]:
    writer = csv.writer(_Echo())
    # The body is produced after the view returned: keep the request's language for it.
    with translation.override(language):
        yield "\ufeff"  # BOM, so spreadsheet programs read UTF-8
        for row in rows_with_totals(queryset):
            yield writer.writerow([_csv_cell(cell) for cell in row])


def export_filename(partner_ic: int, extension: str) -> str:
    stamp = timezone.localtime(timezone.now(), billing_zone()).strftime("%Y%m%d-%H%M")
    return f"messages-ic{partner_ic}-{stamp}.{extension}"


def messages_csv_response(queryset: QuerySet[Message], partner_ic: int) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        _csv_lines(queryset, translation.get_language()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(partner_ic, "csv")}"'
    return response


def _xlsx_rows(sheet_factory, queryset: QuerySet[Message], progress=None) -> None:
    """Append header, rows and totals to write-only sheets; a new sheet every XLSX_MAX_ROWS."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    bold = Font(bold=True)
    sheet, header, used = None, None, XLSX_MAX_ROWS
    for index, row in enumerate(rows_with_totals(queryset, progress)):
        if index == 0:
            header = row
            continue
        if used >= XLSX_MAX_ROWS:
            sheet = sheet_factory()
            cells = []
            for value in header:
                cell = WriteOnlyCell(sheet, value=value)
                cell.font = bold
                cells.append(cell)
            sheet.append(cells)
            used = 1
        cells = []
        for column, value in enumerate(row):
            if column in TEXT_COLUMNS and isinstance(value, str) and index > 0:
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"  # a phone or id: text, never a number or formula
                cell.number_format = "@"
                cells.append(cell)
            else:
                cells.append(value)
        sheet.append(cells)
        used += 1


def write_messages_xlsx(queryset: QuerySet[Message], target, progress=None) -> None:
    """Write the export workbook to `target` (a path or binary file) in constant memory."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    title = _("Messages")
    sheets = []

    def new_sheet():
        sheets.append(
            workbook.create_sheet(title if not sheets else f"{title} ({len(sheets) + 1})")
        )
        return sheets[-1]

    _xlsx_rows(new_sheet, queryset, progress)
    workbook.save(target)


def write_messages_csv(queryset: QuerySet[Message], target, progress=None) -> None:
    """Write the CSV export to `target` (a binary file), as the streamed download has it."""
    writer = csv.writer(_Echo())
    target.write("\ufeff".encode())
    for row in rows_with_totals(queryset, progress):
        target.write(writer.writerow([_csv_cell(cell) for cell in row]).encode())


def messages_xlsx_response(queryset: QuerySet[Message], partner_ic: int) -> FileResponse:
    # Built on disk, not in memory, then streamed in chunks; the temporary file disappears
    # when the response is closed.
    spool = tempfile.TemporaryFile(prefix="export-", suffix=".xlsx")  # noqa: SIM115
    write_messages_xlsx(queryset, spool)
    spool.seek(0)
    return FileResponse(
        spool,
        as_attachment=True,
        filename=export_filename(partner_ic, "xlsx"),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


STATEMENT_FORMATS = ("csv", "xlsx", "pdf")


def statement_download_response(statement: Statement, fmt: str, actor: str) -> HttpResponse:
    """The statement file from billing.exports.render_statement, with an audit entry."""
    from billing.exports import render_statement  # the commission engine's renderer

    content, content_type, filename = render_statement(statement, fmt)
    AuditEntry.objects.create(
        partner=statement.partner,
        statement=statement,
        action=AuditAction.DOWNLOAD,
        actor=actor,
        detail={"format": fmt, "via": "portal"},
    )
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
