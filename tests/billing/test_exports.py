"""Statement exports: CSV and XLSX parsed back, PDF text, formula neutralisation."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from billing.exports import iter_statement_csv, neutralise, render_statement
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from billing.statuses import Status
from tests.factories import (
    AgreementFactory,
    ClientAccountFactory,
    MessageFactory,
    PartnerFactory,
    change_message,
)

pytestmark = pytest.mark.django_db
OCT = date(2024, 10, 1)


@pytest.fixture
def statement():
    partner = PartnerFactory(name="Żółta Łódź sp. z o.o.", ic=4242)
    AgreementFactory(partner=partner, valid_from=date(2024, 1, 1))
    account = ClientAccountFactory(partner=partner, name='=HYPERLINK("x")')
    late = MessageFactory(
        account=account,
        status=Status.QUEUED,
        serwersms_id="@late",
        dispatched_at=datetime(2024, 9, 20, tzinfo=UTC),
    )
    MessageFactory(
        account=account,
        status=Status.DELIVERED,
        serwersms_id="-abc",
        dispatched_at=datetime(2024, 10, 31, 22, 30, tzinfo=UTC),
        parts=2,
    )
    MessageFactory(
        account=account,
        status=Status.SENT,
        serwersms_id="plain",
        message_type="full",
        dispatched_at=datetime(2024, 10, 2, 8, tzinfo=UTC),
    )
    MessageFactory(
        account=account,
        status=Status.UNSENT,
        serwersms_id="never",
        dispatched_at=datetime(2024, 10, 3, tzinfo=UTC),
    )
    close_statement(partner, date(2024, 9, 1), actor="op", now=datetime(2024, 11, 1, tzinfo=UTC))
    change_message(late, status=Status.DELIVERED)
    return build_statement(partner, OCT, actor="op").statement


def test_neutralise():
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("+48") == "+48"  # a phone, not a formula
    assert neutralise("+48+cmd") == "'+48+cmd"
    assert neutralise("-x") == "'-x"
    assert neutralise("@a") == "'@a"
    assert neutralise("ok") == "ok"
    assert neutralise(Decimal("-1")) == Decimal("-1")


def _sections(text, delimiter=","):
    sections, name = {}, None
    for record in csv.reader(io.StringIO(text), delimiter=delimiter):
        if record and record[0].startswith("# "):
            name = record[0][2:]
            sections[name] = []
        elif record:
            sections.setdefault(name, []).append(record)
    return sections


def test_csv_export_lists_summary_lines_adjustments_and_every_counted_message(statement):
    content, content_type, filename = render_statement(statement, "csv", "en")
    assert content_type.startswith("text/csv") and filename == "statement-4242-2024-10.csv"
    sections = _sections(content.decode("utf-8-sig"))
    title = next(iter(sections))
    assert title == "Commission statement PP/4242/2024/10 for October 2024"
    summary = dict(sections[title])
    assert summary["Partner"] == "Żółta Łódź sp. z o.o."
    assert summary["Partner id (ic)"] == "4242" and summary["Period"] == "2024-10"
    assert summary["Statement number"] == "PP/4242/2024/10"
    # Printed figures add up: 0.03 commission + 0.01 adjustment + 0.00 rounding = 0.04.
    assert (summary["Commission"], summary["Adjustments"]) == ("0.03", "0.01")
    assert (summary["Rounding"], summary["Total"]) == ("0.00", "0.04")
    header, *messages = sections["Counted messages"]
    assert header[:3] == ["Message id", "SerwerSMS id", "Client account"]
    by_id = {m[1]: m for m in messages}
    assert set(by_id) == {"'-abc", "plain"}  # unsent is not listed; text neutralised
    assert by_id["'-abc"][2] == '\'=HYPERLINK("x")'
    assert by_id["'-abc"][6] == "2024-10-31 23:30:00"  # Europe/Warsaw
    assert by_id["'-abc"][7] == "0.0100"
    _, adjustment = sections["Adjustments"]
    assert adjustment[1] == "'@late" and adjustment[2] == "2024-09" and adjustment[7] == "0.01"


def test_polish_csv_has_polish_labels_month_names_and_decimal_commas(statement):
    content, _, _ = render_statement(statement, "csv", "pl")
    sections = _sections(content.decode("utf-8-sig"), delimiter=";")
    title = next(iter(sections))
    assert "październik 2024" in title.lower()
    summary = dict(sections[title])
    assert summary["Razem"] == "0,04"
    assert summary["Prowizja"] == "0,03"


def test_streamed_csv_equals_the_rendered_one(statement):
    content, _, _ = render_statement(statement, "csv")
    assert "".join(iter_statement_csv(statement)) == content.decode("utf-8-sig")


def test_xlsx_export_parses_back(statement):
    content, content_type, filename = render_statement(statement, "xlsx", "en")
    assert filename.endswith(".xlsx") and "spreadsheetml" in content_type
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["Summary", "Lines", "Adjustments", "Messages"]
    summary = {r[0]: r[1] for r in workbook["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Partner"] == "Żółta Łódź sp. z o.o." and summary["Total"] == pytest.approx(0.04)
    messages = list(workbook["Messages"].iter_rows(min_row=2, values_only=True))
    assert sorted(m[1] for m in messages) == ["'-abc", "plain"]
    assert all(m[2] == '\'=HYPERLINK("x")' for m in messages)
    assert sum(m[7] for m in messages) == pytest.approx(0.03)
    adjustments = list(workbook["Adjustments"].iter_rows(min_row=2, values_only=True))
    assert len(adjustments) == 1 and adjustments[0][7] == pytest.approx(0.01)
    polish = load_workbook(io.BytesIO(render_statement(statement, "xlsx", "pl")[0]))
    assert polish.sheetnames[0] == "Podsumowanie"


def test_pdf_export_is_a_readable_document(statement):
    content, content_type, filename = render_statement(statement, "pdf", "en")
    assert content.startswith(b"%PDF") and content_type == "application/pdf"
    assert filename == "statement-4242-2024-10.pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    assert "Żółta Łódź sp. z o.o." in text
    assert "4242" in text and "October 2024" in text and "Adjustments" in text


def test_unknown_format_is_refused(statement):
    with pytest.raises(ValueError, match="Unknown export format"):
        render_statement(statement, "doc")
