"""Statement exports (CSV, XLSX, PDF) for the export command and the portal's downloads.

Every counted message is listed (streamed for large statements); text cells that a spreadsheet
would take for a formula are neutralised with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

from billing.cells import neutralise
from billing.commission import BILLING_ZONE, format_period
from billing.models import Statement
from billing.services.statements import agreements_of

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
MESSAGE_COLUMNS = (
    "message_id",
    "serwersms_id",
    "account",
    "type",
    "parts",
    "status",
    "dispatched_at",
    "amount",
)
LINE_COLUMNS = (
    "account",
    "type",
    "agreement_version",
    "counted_messages",
    "counted_parts",
    "pending_messages",
    "unsent_messages",
    "commission",
)
ADJUSTMENT_COLUMNS = (
    "message_id",
    "serwersms_id",
    "original_period",
    "old_status",
    "new_status",
    "old_amount",
    "new_amount",
    "amount",
    "reason",
)
PDF_MESSAGE_LIMIT = 5000  # beyond this the PDF points to the CSV/XLSX for the full list
DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")


def _local(instant) -> str:
    return instant.astimezone(BILLING_ZONE).strftime("%Y-%m-%d %H:%M:%S") if instant else ""


def summary_rows(statement: Statement) -> list[tuple[str, object]]:
    versions = ", ".join(
        f"v{a.version} ({a.get_basis_display()}, {a.valid_from:%Y-%m-%d} – "
        f"{a.valid_to.strftime('%Y-%m-%d') if a.valid_to else '…'})"
        for a in agreements_of(statement)
    )
    return [
        ("partner", statement.partner.name),
        ("ic", statement.partner.ic),
        ("period", format_period(statement.period)),
        ("status", statement.status),
        ("currency", statement.currency),
        ("agreement_versions", versions),
        ("counted_messages", statement.counted_messages),
        ("counted_parts", statement.counted_parts),
        ("pending_messages", statement.pending_messages),
        ("unsent_messages", statement.unsent_messages),
        ("commission", Decimal(statement.commission)),
        ("adjustments", Decimal(statement.adjustments_total)),
        ("pending_forecast", Decimal(statement.forecast_commission)),
        ("total", Decimal(statement.total)),
        ("built_at", _local(statement.built_at)),
        ("closed_at", _local(statement.closed_at)),
        ("closed_by", statement.closed_by),
        ("checksum", statement.checksum),
    ]


def line_rows(statement: Statement) -> Iterator[tuple]:
    for line in statement.lines.select_related("account", "agreement").order_by(
        "account__name", "message_type", "agreement__version"
    ):
        yield (
            line.account.name,
            line.message_type,
            line.agreement.version if line.agreement else "",
            line.counted_messages,
            line.counted_parts,
            line.pending_messages,
            line.unsent_messages,
            Decimal(line.commission),
        )


def message_rows(statement: Statement, chunk_size: int = 5000) -> Iterator[tuple]:
    """Every counted message of the statement, streamed in dispatch order."""
    rows = (
        statement.items.order_by("message__dispatched_at", "message_id")
        .values_list(
            "message_id",
            "message__serwersms_id",
            "message__account__name",
            "message__message_type",
            "parts",
            "status",
            "message__dispatched_at",
            "amount",
        )
        .iterator(chunk_size=chunk_size)
    )
    for message_id, sid, account, message_type, parts, status, dispatched_at, amount in rows:
        yield (
            message_id,
            sid or "",
            account,
            message_type,
            parts,
            status,
            _local(dispatched_at),
            Decimal(amount),
        )


def adjustment_rows(statement: Statement) -> Iterator[tuple]:
    for adjustment in statement.adjustments.select_related("message").order_by("id"):
        yield (
            adjustment.message_id,
            adjustment.message.serwersms_id or "",
            format_period(adjustment.original_period),
            adjustment.old_status,
            adjustment.new_status,
            Decimal(adjustment.old_amount),
            Decimal(adjustment.new_amount),
            Decimal(adjustment.amount),
            adjustment.reason,
        )


def filename_for(statement: Statement, fmt: str) -> str:
    return f"statement-{statement.partner.ic}-{format_period(statement.period)}.{fmt}"


# --- CSV -------------------------------------------------------------------------------------


def _csv_cell(value) -> str:
    if isinstance(value, Decimal):
        return f"{value:.4f}" if value.as_tuple().exponent < -2 else f"{value:.2f}"
    return neutralise("" if value is None else str(value))


def iter_statement_csv(statement: Statement) -> Iterator[str]:
    """The CSV in chunks of text (for StreamingHttpResponse): sections separated by blank rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(["# summary"])
    for key, value in summary_rows(statement):
        writer.writerow([key, _csv_cell(value)])
    writer.writerow([])
    writer.writerow(["# lines"])
    writer.writerow(LINE_COLUMNS)
    for row in line_rows(statement):
        writer.writerow([_csv_cell(v) for v in row])
    writer.writerow([])
    writer.writerow(["# adjustments"])
    writer.writerow(ADJUSTMENT_COLUMNS)
    for row in adjustment_rows(statement):
        writer.writerow([_csv_cell(v) for v in row])
    writer.writerow([])
    writer.writerow(["# messages"])
    writer.writerow(MESSAGE_COLUMNS)
    yield flush()
    for count, row in enumerate(message_rows(statement), start=1):
        writer.writerow([_csv_cell(v) for v in row])
        if count % 2000 == 0:
            yield flush()
    yield flush()


# --- XLSX ------------------------------------------------------------------------------------


def _xlsx_cell(value):
    if isinstance(value, Decimal):
        return value  # openpyxl stores Decimal as a number
    return neutralise(value)


def render_xlsx(statement: Statement) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)  # streams rows: large statements stay in bounds
    sheets = [
        ("Summary", ("field", "value"), summary_rows(statement)),
        ("Lines", LINE_COLUMNS, line_rows(statement)),
        ("Adjustments", ADJUSTMENT_COLUMNS, adjustment_rows(statement)),
        ("Messages", MESSAGE_COLUMNS, message_rows(statement)),
    ]
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title)
        sheet.append(list(header))
        for row in rows:
            sheet.append([_xlsx_cell(v) for v in row])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


# --- PDF -------------------------------------------------------------------------------------


def _pdf_fonts() -> tuple[str, str]:
    """DejaVu Sans (Polish letters) when the Debian fonts are there, else Helvetica."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    regular, bold = DEJAVU_DIR / "DejaVuSans.ttf", DEJAVU_DIR / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
            pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
        return "DejaVuSans", "DejaVuSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def render_pdf(statement: Statement) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font, bold = _pdf_fonts()
    text = ParagraphStyle("text", fontName=font, fontSize=9, leading=12)
    heading = ParagraphStyle("heading", fontName=bold, fontSize=12, leading=16, spaceBefore=8)
    title = ParagraphStyle("title", fontName=bold, fontSize=16, leading=20)

    def table(header, rows, widths=None):
        data = [list(header)] + [["" if v is None else str(v) for v in row] for row in rows]
        result = Table(data, colWidths=widths, repeatRows=1)
        result.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), font, 8),
                    ("FONT", (0, 0), (-1, 0), bold, 8),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return result

    partner = statement.partner
    period = format_period(statement.period)
    story = [
        Paragraph(f"Commission statement {period}", title),
        Paragraph(f"{partner.name} — ic {partner.ic}", heading),
        Spacer(1, 4 * mm),
        table(("", ""), [(k.replace("_", " "), v) for k, v in summary_rows(statement)]),
        Paragraph("Lines", heading),
        table(LINE_COLUMNS, line_rows(statement)),
        Paragraph("Adjustments", heading),
    ]
    adjustments = list(adjustment_rows(statement))
    story.append(
        table(ADJUSTMENT_COLUMNS, adjustments)
        if adjustments
        else Paragraph("No adjustments.", text)
    )
    story.append(Paragraph("Totals", heading))
    story.append(
        table(
            ("commission", "adjustments", "total", "currency"),
            [
                (
                    f"{Decimal(statement.commission):.4f}",
                    f"{Decimal(statement.adjustments_total):.4f}",
                    f"{Decimal(statement.total):.2f}",
                    statement.currency,
                )
            ],
        )
    )
    story.append(Paragraph("Counted messages", heading))
    messages = []
    for row in message_rows(statement):
        if len(messages) == PDF_MESSAGE_LIMIT:
            break
        messages.append(row)
    if statement.counted_messages > len(messages):
        story.append(
            Paragraph(
                f"The first {len(messages)} of {statement.counted_messages} counted messages; "
                "the CSV and XLSX exports list all of them.",
                text,
            )
        )
    story.append(table(MESSAGE_COLUMNS, messages) if messages else Paragraph("None.", text))
    generated = timezone.now().astimezone(BILLING_ZONE)
    story.append(Spacer(1, 4 * mm))
    story.append(Paragraph(f"Generated {generated:%Y-%m-%d %H:%M} (Europe/Warsaw).", text))

    output = io.BytesIO()
    document = SimpleDocTemplate(
        output,
        pagesize=landscape(A4),
        title=f"Commission statement {partner.name} {period}",
        author="Partner Portal",
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
    )
    document.build(story)
    return output.getvalue()


def render_statement(statement: Statement, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, file name) of a statement in csv, xlsx or pdf."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    if fmt == "csv":
        content = "".join(iter_statement_csv(statement)).encode("utf-8-sig")
    elif fmt == "xlsx":
        content = render_xlsx(statement)
    else:
        content = render_pdf(statement)
    return content, FORMATS[fmt], filename_for(statement, fmt)
