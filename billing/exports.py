"""Statement documents (CSV, XLSX, PDF) for the export command and the portal's downloads
(docs/commission.md, "Statement documents"); money through billing.money_format."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing.cells import neutralise
from billing.commission import AMOUNT_DECIMALS, BILLING_ZONE, format_period, round_total
from billing.models import MessageType, Statement
from billing.money_format import currency_symbol, decimal_separator, format_figure, month_label
from billing.selectors import agreements_of
from billing.statuses import parse_status

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
PDF_MESSAGE_LIMIT = 5000  # beyond this the PDF points to the CSV/XLSX for the full list
DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
MIN_EXACT_PLACES = 4


@dataclass(frozen=True)
class Money:
    """A printed amount: rounded half-up to the grosz."""

    value: Decimal

    @classmethod
    def of(cls, value) -> Money:
        return cls(round_total(Decimal(value)))


@dataclass(frozen=True)
class Exact:
    """An exact per-message amount: all its places (at least 4), never rounded to the grosz."""

    value: Decimal

    @classmethod
    def of(cls, value) -> Exact:
        exact = Decimal(value).quantize(Decimal(1).scaleb(-AMOUNT_DECIMALS)).normalize()
        if -exact.as_tuple().exponent < MIN_EXACT_PLACES:
            exact = exact.quantize(Decimal(1).scaleb(-MIN_EXACT_PLACES))
        return cls(exact)


def _local(instant) -> str:
    return instant.astimezone(BILLING_ZONE).strftime("%Y-%m-%d %H:%M:%S") if instant else ""


def _date(day) -> str:
    return day.isoformat() if day else ""


def _status(value: str) -> str:
    status = parse_status(value)
    return str(status.label) if status else (value or "")


def document_title(statement: Statement) -> str:
    return _("Commission statement %(number)s for %(period)s") % {
        "number": statement.number or format_period(statement.period),
        "period": month_label(statement.period),
    }


def summary_rows(statement: Statement) -> list[tuple[str, object]]:
    """The statement's heading and totals as (label, value) rows, in the active language.

    The money rows add up as printed: commission + adjustments + credit brought forward +
    rounding + credit carried forward = total (net); net + VAT = gross."""
    partner = statement.partner
    versions = ", ".join(
        f"v{a.version} ({a.get_basis_display()}, {a.valid_from:%Y-%m-%d} – "
        f"{a.valid_to.strftime('%Y-%m-%d') if a.valid_to else '…'})"
        for a in agreements_of(statement)
    )
    payout = statement.payout_or_none
    rows: list[tuple[str, object]] = [
        (_("Statement number"), statement.number),
        (_("Billing month"), month_label(statement.period)),
        (_("Period"), format_period(statement.period)),
        (_("Partner"), partner.legal_name or partner.name),
        (_("Address"), " / ".join(line.strip() for line in partner.address.splitlines() if line)),
        (_("Tax id (NIP)"), partner.tax_id),
        (_("Partner id (ic)"), partner.ic),
        (_("Status"), statement.get_status_display()),
        (_("Currency"), statement.currency),
        (_("Agreement versions"), versions),
        (_("Counted messages"), statement.counted_messages),
        (_("Counted parts"), statement.counted_parts),
        (_("Pending messages (not billed)"), statement.pending_messages),
        (_("Pending forecast (not billed)"), Money.of(statement.forecast_commission)),
        (_("Unsent messages (never billed)"), statement.unsent_messages),
    ]
    if statement.unconfirmed_messages:  # reported, their ic not yet confirmed by SerwerSMS
        rows += [
            (_("Reported, not yet confirmed (not billed)"), statement.unconfirmed_messages),
            (_("Parts not yet confirmed (not billed)"), statement.unconfirmed_parts),
            (
                _("Commission not yet confirmed (not billed)"),
                Money.of(statement.unconfirmed_commission),
            ),
        ]
    rows += [
        (_("Commission"), Money.of(statement.printed_commission)),
        (_("Adjustments"), Money.of(statement.printed_adjustments)),
    ]
    if statement.opening_credit:
        source = statement.opening_credit_from
        label = _("Credit brought forward")
        if source is not None:
            label = f"{label} ({source.number}, {month_label(source.period)})"
        rows.append((label, Money.of(statement.opening_credit)))
    rows.append((_("Rounding"), Money.of(statement.rounding)))
    if statement.carried_forward:
        rows.append(
            (_("Credit carried forward to the next month"), Money.of(statement.carried_forward))
        )
    if statement.vat_rate is not None:
        rows += [
            (_("Total (net)"), Money.of(statement.total)),
            (_("VAT rate (%)"), format_figure(Decimal(statement.vat_rate))),
            (_("VAT"), Money.of(statement.vat)),
            (_("Total (gross)"), Money.of(statement.gross)),
        ]
    else:
        rows.append((_("Total"), Money.of(statement.total)))
    rows += [
        (_("Payout state"), payout.get_status_display() if payout else ""),
        (_("Invoiced on"), _date(payout.invoiced_on) if payout else ""),
        (_("Partner's invoice number"), payout.invoice_number if payout else ""),
        (_("Paid on"), _date(payout.paid_on) if payout else ""),
        (_("Figures as of"), _local(statement.built_at)),
        (_("Closed"), _local(statement.closed_at)),
        (_("Closed by"), statement.closed_by),
        (_("Checksum"), statement.checksum),
    ]
    return rows


def line_columns() -> tuple[str, ...]:
    return (
        _("Client account"),
        _("Type"),
        _("Agreement version"),
        _("Counted messages"),
        _("Counted parts"),
        _("Pending messages"),
        _("Unsent messages"),
        _("Commission"),
    )


def line_rows(statement: Statement) -> Iterator[tuple]:
    """The statement's lines, each commission rounded half-up as printed."""
    for line in statement.lines.select_related("account", "agreement").order_by(
        "account__name", "message_type", "agreement__version"
    ):
        yield (
            line.account.name,
            line.get_message_type_display(),
            line.agreement.version if line.agreement else "",
            line.counted_messages,
            line.counted_parts,
            line.pending_messages,
            line.unsent_messages,
            Money.of(line.commission),
        )


def message_columns() -> tuple[str, ...]:
    return (
        _("Message id"),
        _("SerwerSMS id"),
        _("Client account"),
        _("Type"),
        _("Parts"),
        _("Status"),
        _("Dispatched (Europe/Warsaw)"),
        _("Commission (exact)"),
    )


def message_rows(statement: Statement, chunk_size: int = 5000) -> Iterator[tuple]:
    """Every counted message of the statement, streamed in billing order, exact amounts."""
    rows = (
        statement.items.order_by("message__billing_at", "message_id")
        .values_list(
            "message_id",
            "message__serwersms_id",
            "message__account__name",
            "message__message_type",
            "parts",
            "status",
            "message__billing_at",
            "amount",
        )
        .iterator(chunk_size=chunk_size)
    )
    type_labels = {value: str(label) for value, label in MessageType.choices}
    for message_id, sid, account, message_type, parts, status, billing_at, amount in rows:
        yield (
            message_id,
            sid or "",
            account,
            type_labels.get(message_type, message_type),
            parts,
            _status(status),
            _local(billing_at),
            Exact.of(amount),
        )


def adjustment_columns() -> tuple[str, ...]:
    return (
        _("Message id"),
        _("SerwerSMS id"),
        _("Original period"),
        _("Old status"),
        _("New status"),
        _("Old amount (exact)"),
        _("New amount (exact)"),
        _("Adjustment"),
        _("Reason"),
    )


def adjustment_rows(statement: Statement) -> Iterator[tuple]:
    for adjustment in statement.adjustments.select_related("message").order_by("id"):
        yield (
            adjustment.message_id,
            adjustment.message.serwersms_id or "",
            format_period(adjustment.original_period),
            _status(adjustment.old_status),
            _status(adjustment.new_status),
            Exact.of(adjustment.old_amount),
            Exact.of(adjustment.new_amount),
            Money.of(adjustment.amount),
            adjustment.reason,
        )


def _language(language: str | None) -> str:
    return language or translation.get_language() or settings.LANGUAGE_CODE


# --- CSV -------------------------------------------------------------------------------------


class Echo:
    """A file whose write() returns what it is given: csv.writer as a line formatter."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value) -> str:
    if isinstance(value, Money | Exact):
        return format_figure(value.value)
    return neutralise("" if value is None else str(value))


def _sections(statement: Statement, messages_heading: str) -> list[tuple]:
    """(heading, columns, rows) of the tables under the summary, in the documents' order."""
    return [
        (_("Lines"), line_columns(), line_rows(statement)),
        (_("Adjustments"), adjustment_columns(), adjustment_rows(statement)),
        (messages_heading, message_columns(), message_rows(statement)),
    ]


def iter_statement_csv(statement: Statement, language: str | None = None) -> Iterator[str]:
    """The CSV row by row (for StreamingHttpResponse): sections separated by blank rows.

    In a language writing decimal commas (Polish) the fields are separated by semicolons, as
    spreadsheet programs there expect."""
    with translation.override(_language(language)):
        writer = csv.writer(Echo(), delimiter=";" if decimal_separator() == "," else ",")
        yield writer.writerow([f"# {document_title(statement)}"])
        for key, value in summary_rows(statement):
            yield writer.writerow([key, _csv_cell(value)])
        for heading, columns, rows in _sections(statement, _("Counted messages")):
            for header_row in ([], [f"# {heading}"], columns):
                yield writer.writerow(header_row)
            for row in rows:
                yield writer.writerow([_csv_cell(v) for v in row])


# --- XLSX ------------------------------------------------------------------------------------

XLSX_MONEY_FORMAT = "#,##0.00"
XLSX_EXACT_FORMAT = "0.0000########"


def _xlsx_cell(sheet, value):
    from openpyxl.cell import WriteOnlyCell

    if not isinstance(value, Money | Exact):
        return WriteOnlyCell(sheet, value=neutralise(value))
    cell = WriteOnlyCell(sheet, value=value.value)  # a number, shown by the reader's locale
    cell.number_format = XLSX_MONEY_FORMAT if isinstance(value, Money) else XLSX_EXACT_FORMAT
    return cell


def render_xlsx(statement: Statement) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)  # streams rows: large statements stay in bounds
    sheets = [
        (_("Summary"), (_("Field"), _("Value")), summary_rows(statement)),
        *_sections(statement, _("Messages")),
    ]
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title[:31])
        sheet.append(list(header))
        for row in rows:
            sheet.append([_xlsx_cell(sheet, value) for value in row])
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


def _pdf_cell(value, currency: str) -> str:
    if isinstance(value, Money):
        return f"{format_figure(value.value, grouping=True)} {currency_symbol(currency)}"
    if isinstance(value, Exact):
        return format_figure(value.value)
    return "" if value is None else str(value)


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
    currency = statement.currency

    def table(header, rows, *, numeric_from: int):
        data = ([list(header)] if header else []) + [
            [_pdf_cell(v, currency) for v in row] for row in rows
        ]
        result = Table(data, repeatRows=1 if header else 0)
        style = [
            ("FONT", (0, 0), (-1, -1), font, 8),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        if header:
            style += [
                ("FONT", (0, 0), (-1, 0), bold, 8),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
            ]
        style.append(("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"))
        result.setStyle(TableStyle(style))
        return result

    partner = statement.partner
    story = [
        Paragraph(escape(document_title(statement)), title),
        Paragraph(escape(f"{partner.legal_name or partner.name} — ic {partner.ic}"), heading),
    ]
    if partner.address:
        story.append(Paragraph("<br/>".join(escape(x) for x in partner.address.splitlines()), text))
    if partner.tax_id:
        story.append(Paragraph(escape(f"{_('Tax id (NIP)')}: {partner.tax_id}"), text))
    story += [
        Spacer(1, 4 * mm),
        table(None, summary_rows(statement), numeric_from=1),
        Paragraph(_("Lines"), heading),
        table(line_columns(), line_rows(statement), numeric_from=3),
        Paragraph(_("Adjustments"), heading),
    ]
    adjustments = list(adjustment_rows(statement))
    story.append(
        table(adjustment_columns(), adjustments, numeric_from=5)
        if adjustments
        else Paragraph(_("No adjustments on this statement."), text)
    )
    story.append(Paragraph(_("Counted messages"), heading))
    messages = list(itertools.islice(message_rows(statement), PDF_MESSAGE_LIMIT))
    if statement.counted_messages > len(messages):
        note = _(
            "The first %(shown)s of %(total)s counted messages; the CSV and XLSX "
            "downloads list all of them."
        )
        shown = {"shown": len(messages), "total": statement.counted_messages}
        story.append(Paragraph(note % shown, text))
    story.append(
        table(message_columns(), messages, numeric_from=4) if messages else Paragraph("—", text)
    )
    generated = timezone.now().astimezone(BILLING_ZONE)
    when = {"when": f"{generated:%Y-%m-%d %H:%M}"}
    story += [Spacer(1, 4 * mm), Paragraph(_("Generated %(when)s (Europe/Warsaw).") % when, text)]

    output = io.BytesIO()
    margins = {f"{side}Margin": 12 * mm for side in ("left", "right", "top", "bottom")}
    document = SimpleDocTemplate(
        output,
        pagesize=landscape(A4),
        title=document_title(statement),
        author="Partner Portal",
        **margins,
    )
    document.build(story)
    return output.getvalue()


def render_statement(
    statement: Statement, fmt: str, language: str | None = None
) -> tuple[bytes, str, str]:
    """(content, content type, file name) of a statement in csv, xlsx or pdf, written in
    `language` (default: the active language, else the portal's default, Polish)."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    with translation.override(_language(language)):
        if fmt == "csv":
            content = "".join(iter_statement_csv(statement)).encode("utf-8-sig")
        else:
            content = (render_xlsx if fmt == "xlsx" else render_pdf)(statement)
    filename = f"statement-{statement.partner.ic}-{format_period(statement.period)}.{fmt}"
    return content, FORMATS[fmt], filename
