"""Exports of the filtered messages table and statement downloads, in constant memory.

CSV is written by PostgreSQL itself: `COPY (SELECT ...) TO STDOUT` through psycopg, the words,
local times and neutralising done in SQL (`copy_select`), streamed in 64 KiB chunks. XLSX: an
openpyxl write-only workbook whose body rows are SpreadsheetML text (partner_portal.xlsx_sheets),
written by the database through the same cells as the CSV (`xlsx_select`, COPY); to a temporary
file that is then streamed and deleted, so neither grows with the number of
messages. Every text cell passes billing.cells.neutralise_sql; phones and ids are
text cells in XLSX, never numbers or formulas.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator

from django.db import connections, transaction
from django.db.models import Count, F, QuerySet, Sum
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.cells import neutralise, neutralise_sql
from billing.models import IS_COUNTED, AuditAction, AuditEntry, Message, Statement
from billing.selectors import billing_zone

from .message_columns import COLUMNS, Cell, SqlCells, export_fields, headings, inner_name

__all__ = ["neutralise", "messages_csv_response", "messages_xlsx_response"]

CHUNK_SIZE = 2000
XLSX_MAX_ROWS = 1_048_576  # Excel's limit per sheet; more rows continue on a new sheet
# Columns (0-based) by kind (partner_portal.message_columns): identifiers are text cells in XLSX
# even when they look like numbers; local times are dates and the parts numbers.
TEXT_COLUMNS = frozenset(i for i, c in enumerate(COLUMNS) if c.cell is Cell.IDENTIFIER)
XLSX_TIME_COLUMNS = frozenset(i for i, c in enumerate(COLUMNS) if c.cell is Cell.TIME)
XLSX_NUMBER_COLUMNS = frozenset(i for i, c in enumerate(COLUMNS) if c.cell is Cell.NUMBER)


def totals_rows(messages: int, parts: int, counted: int) -> list[list]:
    """The empty line and the three totals rows that end an export."""
    return [
        [],
        [_("Total messages"), messages],
        [_("Total parts"), parts],
        [_("Counted messages"), counted],
    ]


class _Echo:
    def write(self, value: str) -> str:
        return value


COPY_CHUNK_BYTES = 64 * 1024


def _cells_select(queryset: QuerySet[Message], local_time) -> tuple[str, list[str], str, list]:
    """The two inner layers shared by the COPY exports: Django's own SQL for the filtered
    messages (`m`) and the export's cells (`c`, named c0, c1, ..., one per column of
    message_columns.COLUMNS, plus created_at and id to order by). `local_time(column, params)`
    gives a time's cell.

    Returns (the FROM clause, the cell names, the ORDER BY, params)."""
    related = {inner_name(name): F(name) for name in export_fields() if "__" in name}
    inner = (
        queryset.order_by()
        .annotate(**related)
        .values("id", *(inner_name(name) for name in export_fields()))
    )
    inner_sql, inner_params = inner.query.sql_with_params()
    made = SqlCells(local_time)
    cells = [column.sql_cell(made) for column in COLUMNS]
    params = made.params
    names = [f"c{index}" for index in range(len(cells))]
    middle = ", ".join(f"{cell} AS {name}" for cell, name in zip(cells, names, strict=True))
    order = []
    for field in queryset.query.order_by or ("-created_at", "-id"):
        name = field.lstrip("-")
        if name == "pk":
            name = "id"
        if name not in ("created_at", "id"):
            raise ValueError(f"The COPY export orders by created_at and id only, not {field}.")
        order.append(f"c.{name} {'DESC' if field.startswith('-') else 'ASC'}")
    source = f"(SELECT {middle}, m.created_at, m.id FROM ({inner_sql}) AS m) AS c"  # noqa: S608
    return source, names, ", ".join(order), [*params, *inner_params]


def copy_select(queryset: QuerySet[Message]) -> tuple[str, list]:
    """The SELECT whose rows are the export's rows (local times without zone, words in the
    active language, the dispatch time of counted messages only); (sql, params) for psycopg.

    `neutralise_sql` on every cell of `_cells_select` (it repeats its argument, so it takes
    the column of `c`, not the expression)."""
    zone = billing_zone().key

    def local_time(column: str, params: list) -> str:
        params.append(zone)
        return f"to_char({column} AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI:SS')"

    source, names, order, params = _cells_select(queryset, local_time)
    # Empty text is written as NULL: PostgreSQL quotes an empty string, Python's csv does not.
    outer = ", ".join(f"NULLIF({neutralise_sql(f'c.{name}')}, '')" for name in names)
    return f"SELECT {outer} FROM {source} ORDER BY {order}", params  # noqa: S608


def xlsx_select(
    queryset: QuerySet[Message], *, date_style: str, text_style: str, rows_per_sheet: int
) -> tuple[str, list]:
    """The SELECT whose rows are the XLSX's body rows as SpreadsheetML text (one `<row>` per
    message, the cells partner_portal.xlsx_sheets writes for its own rows): local times
    as Excel serial days, every text cell through `neutralise_sql` and `xml_text_sql`.

    Row numbers restart every `rows_per_sheet` rows, under each sheet's header."""
    from .xlsx_sheets import MAX_TEXT, xml_text_sql

    zone = billing_zone().key

    def local_time(column: str, params: list) -> str:
        # Days since 1899-12-30 of the local wall time (Excel's 1900 date system).
        params.append(zone)
        return f"(EXTRACT(EPOCH FROM {column} AT TIME ZONE %s)::float8 / 86400 + 25569)::text"

    source, names, order, params = _cells_select(queryset, local_time)
    texts = [
        index
        for index in range(len(names))
        if index not in XLSX_TIME_COLUMNS and index not in XLSX_NUMBER_COLUMNS
    ]
    # The neutralised texts once per row (the XML layer reads each several times).
    neutralised = ", ".join(
        f"left({neutralise_sql(f'c.{names[index]}')}, {MAX_TEXT}) AS t{index}" for index in texts
    )
    numbered = (
        f"SELECT c.*, {neutralised},"
        f" (mod(row_number() OVER (ORDER BY {order}) - 1, {int(rows_per_sheet)}) + 2)::text AS r"
        f" FROM {source}"
    )
    cells = []
    for index, name in enumerate(names):
        start = f"""'<c r="{chr(ord("A") + index)}' || x.r || '"'"""
        if index in XLSX_TIME_COLUMNS:
            cell = f"""{start} || ' s="{date_style}"><v>' || x.{name} || '</v></c>'"""
        elif index in XLSX_NUMBER_COLUMNS:
            cell = f"""{start} || '><v>' || x.{name} || '</v></c>'"""
        else:
            style = f' s="{text_style}"' if index in TEXT_COLUMNS else ""
            cell = f"{start} || '{style}' || {xml_text_sql(f'x.t{index}')}"
        cells.append(f"(CASE WHEN x.{name} <> '' THEN {cell} END)")
    sql = (
        f"""SELECT concat('<row r="', x.r, '">', {", ".join(cells)}, '</row>')"""  # noqa: S608
        f" FROM ({numbered}) AS x ORDER BY {order.replace('c.', 'x.')}"
    )
    return sql, params


def _totals(queryset: QuerySet[Message]) -> tuple[int, int, int]:
    figures = queryset.order_by().aggregate(
        messages=Count("id"), parts=Sum("parts"), counted=Count("id", filter=IS_COUNTED)
    )
    return figures["messages"], figures["parts"] or 0, figures["counted"]


def copy_csv_chunks(queryset: QuerySet[Message], progress=None) -> Iterator[bytes]:
    """The CSV export as bytes written by PostgreSQL (`COPY ... TO STDOUT`), in chunks of about
    COPY_CHUNK_BYTES: constant memory whatever the number of rows.

    Rows and totals come from one snapshot (a REPEATABLE READ transaction), so a status change
    during the export cannot make the totals disagree with the rows. `progress(rows_done)` is
    called about every CHUNK_SIZE rows (PostgreSQL sends one COPY message per row)."""
    select, params = copy_select(queryset)
    writer = csv.writer(_Echo(), lineterminator="\n")
    connection = connections[queryset.db]
    snapshot = not connection.in_atomic_block  # else the caller's transaction decides
    with transaction.atomic(using=queryset.db):
        with connection.cursor() as cursor:
            if snapshot:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            messages, parts, counted = _totals(queryset)
            yield "\ufeff".encode()
            yield writer.writerow(headings()).encode()
            buffer = bytearray()
            rows = 0
            with cursor.cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)", params) as copy:
                for data in copy:
                    buffer += data
                    rows += 1
                    if len(buffer) >= COPY_CHUNK_BYTES:
                        yield bytes(buffer)
                        buffer.clear()
                    if progress is not None and rows % CHUNK_SIZE == 0:
                        progress(rows)
            if buffer:
                yield bytes(buffer)
    for row in totals_rows(messages, parts, counted):
        yield writer.writerow(row).encode()


def _copy_csv_body(queryset: QuerySet[Message], language: str) -> Iterator[bytes]:
    # The body is produced after the view returned: keep the request's language for it.
    with translation.override(language):
        yield from copy_csv_chunks(queryset)


def export_filename(partner_ic: int, extension: str) -> str:
    stamp = timezone.localtime(timezone.now(), billing_zone()).strftime("%Y%m%d-%H%M")
    return f"messages-ic{partner_ic}-{stamp}.{extension}"


def messages_csv_response(queryset: QuerySet[Message], partner_ic: int) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        _copy_csv_body(queryset, translation.get_language()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(partner_ic, "csv")}"'
    return response


class _XlsxSheets:
    """The export workbook's sheets: a new one, with the header again, every XLSX_MAX_ROWS rows."""

    def __init__(self, workbook, header: list) -> None:
        self.workbook = workbook
        self.header = header
        self.title = _("Messages")
        self.sheets: list = []
        self.room = 0  # rows the current sheet still takes

    @property
    def rows_per_sheet(self) -> int:
        return XLSX_MAX_ROWS - 1  # under the header

    def current(self):
        """The sheet the next row goes to (a new one when the last is full)."""
        from openpyxl.styles import Font

        from .xlsx_sheets import RowSheet

        if self.room == 0 or not self.sheets:
            if self.sheets:
                self.sheets[-1].close()
            name = self.title if not self.sheets else f"{self.title} ({len(self.sheets) + 1})"
            self.sheets.append(
                RowSheet(
                    self.workbook,
                    name,
                    self.header,
                    header_font=Font(bold=True),
                    text_formatted=TEXT_COLUMNS,
                )
            )
            self.room = self.rows_per_sheet
        return self.sheets[-1]

    def write_rows(self, rows: list[list]) -> None:
        while rows:
            sheet = self.current()
            taken, rows = rows[: self.room], rows[self.room :]
            sheet.write_rows(taken)
            self.room -= len(taken)

    def close(self) -> None:
        """Finish the last sheet (a workbook has at least one, with its header)."""
        if not self.sheets:
            self.current()
        self.sheets[-1].close()


def _xlsx_copy_rows(queryset: QuerySet[Message], sheets: _XlsxSheets, progress=None) -> list:
    """PostgreSQL: the body rows written by the database as SpreadsheetML (`xlsx_select`,
    `COPY ... TO STDOUT`), then the totals rows from the same snapshot; returns the totals rows."""
    first = sheets.current()
    select, params = xlsx_select(
        queryset,
        date_style=first.date_style,
        text_style=first.text_style,
        rows_per_sheet=sheets.rows_per_sheet,
    )
    connection = connections[queryset.db]
    snapshot = not connection.in_atomic_block  # else the caller's transaction decides
    with transaction.atomic(using=queryset.db), connection.cursor() as cursor:
        if snapshot:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        totals = totals_rows(*_totals(queryset))
        buffer, buffered, rows = bytearray(), 0, 0

        def flush() -> None:
            nonlocal buffered
            # COPY's text format doubles backslashes (the rows hold no other character it
            # escapes: xml_text_sql wrote tabs and line breaks as character references).
            sheets.sheets[-1].write_xml(bytes(buffer).replace(b"\\\\", b"\\"), buffered)
            sheets.room -= buffered
            buffer.clear()
            buffered = 0

        with cursor.cursor.copy(f"COPY ({select}) TO STDOUT", params) as copy:
            for data in copy:  # one row each
                if sheets.room == buffered:  # the sheet is full with the rows buffered
                    flush()
                    sheets.current()  # the next sheet; its row numbers start again
                buffer += data
                buffered += 1
                rows += 1
                if len(buffer) >= COPY_CHUNK_BYTES:
                    flush()
                if progress is not None and rows % CHUNK_SIZE == 0:
                    progress(rows)
        flush()
    return totals


def write_messages_xlsx(queryset: QuerySet[Message], target, progress=None) -> None:
    """Write the export workbook to `target` (a path or binary file) in constant memory: a
    header, the rows and the totals; a new sheet, with the header again, every XLSX_MAX_ROWS
    rows. openpyxl makes the workbook; the rows are written by PostgreSQL (`xlsx_select`)."""
    from openpyxl import Workbook

    from .xlsx_sheets import save as xlsx_save

    workbook = Workbook(write_only=True)
    sheets = _XlsxSheets(workbook, headings())
    sheets.write_rows(_xlsx_copy_rows(queryset, sheets, progress))
    sheets.close()
    xlsx_save(workbook, target)


def write_messages_csv(queryset: QuerySet[Message], target, progress=None) -> None:
    """Write the CSV export to `target` (a binary file), as the streamed download has it."""
    for chunk in copy_csv_chunks(queryset, progress):
        target.write(chunk)


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
