"""Exports of the filtered messages table and statement downloads, in constant memory.

PostgreSQL writes the rows (docs/portal.md, "Exports"). Every text cell passes
billing.cells.neutralise_sql; phones and ids are text cells in XLSX, never numbers or formulas.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction
from django.db.models import Count, F, QuerySet, Sum
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing import exports as statement_files
from billing.cells import neutralise, neutralise_sql
from billing.commission import BILLING_ZONE
from billing.exports import Echo
from billing.models import IS_COUNTED, AuditAction, AuditEntry, Message, Statement

from .message_columns import COLUMNS, Cell, SqlCells, export_fields, headings, inner_name

__all__ = ["neutralise", "messages_csv_response", "messages_xlsx_response"]

CHUNK_SIZE = 2000  # rows between progress calls
COPY_CHUNK_BYTES = 64 * 1024
XLSX_MAX_ROWS = 1_048_576  # Excel's limit per sheet; more rows continue on a new sheet
# The columns (0-based) of identifiers: text cells in XLSX even when they look like numbers.
TEXT_COLUMNS = frozenset(i for i, c in enumerate(COLUMNS) if c.cell is Cell.IDENTIFIER)


def _cells_select(queryset: QuerySet[Message], time_sql: str) -> tuple[str, list[str], str, list]:
    """The two inner layers shared by the COPY exports: Django's own SQL for the filtered
    messages (`m`) and the export's cells (`c`: c0, c1, ..., one per column of COLUMNS, plus
    created_at and id to order by), a time's cell as `time_sql` (message_columns.SqlCells).

    Returns (the FROM clause, the cell names, the ORDER BY, params)."""
    related = {inner_name(name): F(name) for name in export_fields() if "__" in name}
    inner = (
        queryset.order_by()
        .annotate(**related)
        .values("id", *(inner_name(name) for name in export_fields()))
    )
    inner_sql, inner_params = inner.query.sql_with_params()
    made = SqlCells(time_sql, BILLING_ZONE.key)
    cells = [column.sql_cell(made) for column in COLUMNS]
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
    return source, names, ", ".join(order), [*made.params, *inner_params]


def copy_select(queryset: QuerySet[Message]) -> tuple[str, list]:
    """The SELECT whose rows are the CSV's rows (local times without zone, words in the active
    language); (sql, params) for psycopg. `neutralise_sql` repeats its argument, so it takes
    the column of `c`, not the expression."""
    time_sql = "to_char({} AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI:SS')"
    source, names, order, params = _cells_select(queryset, time_sql)
    # Empty text is written as NULL: PostgreSQL quotes an empty string, Python's csv does not.
    outer = ", ".join(f"NULLIF({neutralise_sql(f'c.{name}')}, '')" for name in names)
    return f"SELECT {outer} FROM {source} ORDER BY {order}", params  # noqa: S608


def xlsx_select(
    queryset: QuerySet[Message], *, date_style: str, text_style: str, rows_per_sheet: int
) -> tuple[str, list]:
    """The SELECT whose rows are the XLSX's body rows as SpreadsheetML text, one `<row>` per
    message: local times as Excel serial days, texts through `neutralise_sql` and
    `xml_text_sql`. Row numbers restart every `rows_per_sheet` rows, under each sheet's header."""
    from .xlsx_sheets import MAX_TEXT, xml_text_sql

    # Days since 1899-12-30 of the local wall time (Excel's 1900 date system).
    time_sql = "(EXTRACT(EPOCH FROM {} AT TIME ZONE %s)::float8 / 86400 + 25569)::text"
    source, names, order, params = _cells_select(queryset, time_sql)
    # Local times are Excel dates and the parts numbers; every other cell is text.
    texts = [i for i, column in enumerate(COLUMNS) if column.cell not in (Cell.TIME, Cell.NUMBER)]
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
    for index, (name, column) in enumerate(zip(names, COLUMNS, strict=True)):
        start = f"""'<c r="{chr(ord("A") + index)}' || x.r || '"'"""
        if column.cell is Cell.TIME:
            cell = f"""{start} || ' s="{date_style}"><v>' || x.{name} || '</v></c>'"""
        elif column.cell is Cell.NUMBER:
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


@contextmanager
def _snapshot(queryset: QuerySet[Message]):
    """A cursor and the totals rows that end an export, from one snapshot (a REPEATABLE READ
    transaction, unless the caller's transaction decides): a status change during the export
    cannot make the totals disagree with the rows."""
    connection = connections[queryset.db]
    snapshot = not connection.in_atomic_block
    with transaction.atomic(using=queryset.db), connection.cursor() as cursor:
        if snapshot:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        figures = queryset.order_by().aggregate(
            messages=Count("id"), parts=Sum("parts"), counted=Count("id", filter=IS_COUNTED)
        )
        totals = [
            [],
            [_("Total messages"), figures["messages"]],
            [_("Total parts"), figures["parts"] or 0],
            [_("Counted messages"), figures["counted"]],
        ]
        yield cursor, totals


def _copied(cursor, command: str, params: list, progress) -> Iterator[bytes]:
    """The rows of `COPY ... TO STDOUT` (PostgreSQL sends one message per row), calling
    `progress(rows_done)` every CHUNK_SIZE rows."""
    with cursor.cursor.copy(command, params) as copy:
        for rows, data in enumerate(copy, start=1):
            yield data
            if progress is not None and rows % CHUNK_SIZE == 0:
                progress(rows)


def copy_csv_chunks(queryset: QuerySet[Message], progress=None) -> Iterator[bytes]:
    """The CSV export as bytes written by PostgreSQL, in chunks of about COPY_CHUNK_BYTES:
    constant memory whatever the number of rows."""
    select, params = copy_select(queryset)
    writer = csv.writer(Echo(), lineterminator="\n")
    with _snapshot(queryset) as (cursor, totals):
        yield "\ufeff".encode()
        yield writer.writerow(headings()).encode()
        buffer = bytearray()
        command = f"COPY ({select}) TO STDOUT WITH (FORMAT csv)"
        for data in _copied(cursor, command, params, progress):
            buffer += data
            if len(buffer) >= COPY_CHUNK_BYTES:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)
    for row in totals:
        yield writer.writerow(row).encode()


def _copy_csv_body(queryset: QuerySet[Message], language: str) -> Iterator[bytes]:
    # The body is produced after the view returned: keep the request's language for it.
    with translation.override(language):
        yield from copy_csv_chunks(queryset)


def export_filename(partner_ic: int, extension: str) -> str:
    stamp = timezone.localtime(timezone.now(), BILLING_ZONE).strftime("%Y%m%d-%H%M")
    return f"messages-ic{partner_ic}-{stamp}.{extension}"


def messages_csv_response(queryset: QuerySet[Message], partner_ic: int) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        _copy_csv_body(queryset, translation.get_language()), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{export_filename(partner_ic, "csv")}"'
    return response


def write_messages_xlsx(queryset: QuerySet[Message], target, progress=None) -> None:
    """Write the export workbook to `target` (a path or binary file) in constant memory: a
    header, the rows written by PostgreSQL (`xlsx_select`) and the totals; a new sheet, with the
    header again, every XLSX_MAX_ROWS rows."""
    from openpyxl import Workbook

    from .xlsx_sheets import RowSheet, save

    workbook = Workbook(write_only=True)
    title, header, sheets = _("Messages"), headings(), []

    def new_sheet() -> RowSheet:
        if sheets:
            sheets[-1].close()
        name = f"{title} ({len(sheets) + 1})" if sheets else title
        sheets.append(RowSheet(workbook, name, header, text_formatted=TEXT_COLUMNS))
        return sheets[-1]

    sheet = new_sheet()
    select, params = xlsx_select(
        queryset,
        date_style=sheet.date_style,
        text_style=sheet.text_style,
        rows_per_sheet=XLSX_MAX_ROWS - 1,  # under the header
    )
    with _snapshot(queryset) as (cursor, totals):
        buffer, buffered = bytearray(), 0

        def flush() -> None:
            nonlocal buffered
            # COPY's text format doubles backslashes (the rows hold no other character it
            # escapes: xml_text_sql wrote tabs and line breaks as character references).
            sheet.write_xml(bytes(buffer).replace(b"\\\\", b"\\"), buffered)
            buffer.clear()
            buffered = 0

        for data in _copied(cursor, f"COPY ({select}) TO STDOUT", params, progress):
            if sheet.row_number + buffered == XLSX_MAX_ROWS:  # full with the rows buffered
                flush()
                sheet = new_sheet()  # its row numbers start again
            buffer += data
            buffered += 1
            if len(buffer) >= COPY_CHUNK_BYTES:
                flush()
        flush()
    for row in totals:
        if sheet.row_number == XLSX_MAX_ROWS:
            sheet = new_sheet()
        sheet.write_rows([row])
    sheet.close()
    save(workbook, target)


def write_messages_csv(queryset: QuerySet[Message], target, progress=None) -> None:
    """Write the CSV export to `target` (a binary file), as the streamed download has it."""
    target.writelines(copy_csv_chunks(queryset, progress))


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


STATEMENT_FORMATS = tuple(statement_files.FORMATS)


def statement_download_response(statement: Statement, fmt: str, actor: str) -> HttpResponse:
    """The statement file from billing.exports.render_statement, with an audit entry."""
    content, content_type, filename = statement_files.render_statement(statement, fmt)
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
