"""Exports of the filtered messages table (CSV streamed, XLSX write-only) and statement downloads.

Every text cell that a spreadsheet would read as a formula (starting with = + - @, or a tab or
carriage return) is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.models import AuditAction, AuditEntry, Message, Statement
from billing.selectors import billing_zone

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 2000


def neutralise(value):
    """A text cell that cannot run as a spreadsheet formula; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


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


def message_row(message: Message) -> list:
    return [
        _local(message.created_at),
        message.account.name,
        message.phone,
        message.sender,
        message.get_message_type_display(),
        message.get_channel_display(),
        message.parts,
        message.get_status_display(),
        _("yes") if message.is_counted else _("no"),
        _local(message.dispatched_at),
        _local(message.delivered_at),
        message.serwersms_id or "",
        message.unique_id,
        message.reason or message.error_message,
    ]


def rows_with_totals(queryset: QuerySet[Message]) -> Iterator[list]:
    """Header, one row per message, an empty line and the totals (messages, parts, counted)."""
    yield headers()
    messages = parts = counted = 0
    for message in queryset.iterator(chunk_size=CHUNK_SIZE):
        messages += 1
        parts += message.parts
        counted += message.is_counted
        yield [neutralise(cell) for cell in message_row(message)]
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


def messages_xlsx_response(queryset: QuerySet[Message], partner_ic: int) -> HttpResponse:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Messages"))
    bold = Font(bold=True)
    for index, row in enumerate(rows_with_totals(queryset)):
        if index == 0:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=value)
                cell.font = bold
                cells.append(cell)
            sheet.append(cells)
        else:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = HttpResponse(
        buffer.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{export_filename(partner_ic, "xlsx")}"'
    )
    return response


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
