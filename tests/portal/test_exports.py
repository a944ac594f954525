"""Exports of the filtered messages table: the totals match the screen, formulas are defused."""

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from billing.statuses import COUNTED, Status
from partner_portal.exports import neutralise
from tests.factories import MessageFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def traffic(alpha, beta):
    MessageFactory(account=alpha.account, status=Status.DELIVERED, parts=3, sender="=HYPERLINK()")
    MessageFactory(account=alpha.account, status=Status.UNDELIVERED, parts=1, sender="@SUM(A1)")
    MessageFactory(account=alpha.account, status=Status.UNSENT, parts=2, sender="-1+2")
    MessageFactory(account=beta.account, status=Status.DELIVERED, parts=7)


def _csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


@pytest.mark.parametrize("query", ["", "status=counted", "status=unsent"])
def test_csv_totals_equal_the_screen(traffic, alpha, query):
    client = client_for(alpha.viewer)
    screen = client.get(f"/messages/?{query}").context
    assert screen["summary"].kind == "exact"
    shown = [row.record for row in screen["table"].rows]
    response = client.get(f"/messages/export.csv?{query}")
    assert response.streaming
    rows = _csv_rows(response)
    data = rows[1 : rows.index([])]
    assert len(data) == screen["summary"].count == len(shown)
    footer = {row[0]: int(row[1]) for row in rows[rows.index([]) + 1 :]}
    assert footer == {
        "Total messages": len(shown),
        "Total parts": sum(m.parts for m in shown),
        "Counted messages": sum(m.status in COUNTED for m in shown),
    }


def test_csv_headers_in_the_users_language(traffic, alpha):
    english = _csv_rows(client_for(alpha.viewer).get("/messages/export.csv"))
    assert english[0][:3] == ["Created", "Client account", "Phone"]
    polish = _csv_rows(client_for(alpha.viewer, "pl").get("/messages/export.csv"))
    assert polish[0][:3] == ["Utworzono", "Konto klienta", "Telefon"]
    assert "doręczono" in {row[7] for row in polish[1:] if len(row) > 7}


def test_export_cells_that_look_like_formulas_are_neutralised(traffic, alpha):
    rows = _csv_rows(client_for(alpha.viewer).get("/messages/export.csv"))
    senders = {row[3] for row in rows[1:] if len(row) > 3}
    assert {"'=HYPERLINK()", "'@SUM(A1)", "'-1+2"} <= senders
    plain_number = re.compile(r"[+-]?\d[\d ]*\Z")
    assert all(
        not cell.startswith(("=", "+", "-", "@")) or plain_number.match(cell)
        for row in rows
        for cell in row
    )


def test_xlsx_export_has_the_same_rows_and_totals(traffic, alpha):
    client = client_for(alpha.viewer)
    shown = [row.record for row in client.get("/messages/?status=counted").context["table"].rows]
    response = client.get("/messages/export.xlsx?status=counted")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response.streaming
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    blank = next(i for i, row in enumerate(rows) if not any(row))
    assert blank - 1 == len(shown) == 2
    assert rows[blank + 1][:2] == ["Total messages", len(shown)]
    assert rows[blank + 2][:2] == ["Total parts", sum(m.parts for m in shown)]
    assert rows[blank + 3][:2] == ["Counted messages", len(shown)]
    assert not any(isinstance(cell, str) and cell.startswith("=") for row in rows for cell in row)


def test_export_only_contains_the_own_partner(traffic, alpha, beta):
    rows = _csv_rows(client_for(alpha.viewer).get("/messages/export.csv"))
    assert beta.account.name not in {row[1] for row in rows if len(row) > 1}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+48500600704", "+48500600704"),
        ("+48 500 600 704", "+48 500 600 704"),
        ("-12", "-12"),
        ("+48500+HYPERLINK()", "'+48500+HYPERLINK()"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-x", "'-x"),
        ("@a", "'@a"),
        ("\tx", "'\tx"),
        ("ok", "ok"),
        (5, 5),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_phones_and_ids_are_text_not_numbers_or_formulas(alpha):
    MessageFactory(
        account=alpha.account,
        phone="+48500600704",
        serwersms_id="1234567890123",
        unique_id="0042",
        sender="=cmd()",
    )
    client = client_for(alpha.viewer)
    rows = _csv_rows(client.get("/messages/export.csv"))
    assert rows[1][2] == "+48500600704"
    assert rows[1][3] == "'=cmd()"
    response = client.get("/messages/export.xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    phone, sender, serwersms_id, unique_id = (sheet.cell(row=2, column=c) for c in (3, 4, 12, 13))
    assert (phone.value, phone.data_type) == ("+48500600704", "s")
    assert (serwersms_id.value, serwersms_id.data_type) == ("1234567890123", "s")
    assert (unique_id.value, unique_id.data_type) == ("0042", "s")
    assert (sender.value, sender.data_type) == ("'=cmd()", "s")


def test_exports_show_reasons_in_words_and_no_dispatch_time_for_unsent(alpha):
    MessageFactory(account=alpha.account, status=Status.UNSENT, reason="wrong_number")
    english = _csv_rows(client_for(alpha.viewer).get("/messages/export.csv"))
    assert english[1][13] == "wrong phone number"
    assert english[1][9] == ""
    polish = _csv_rows(client_for(alpha.viewer, "pl").get("/messages/export.csv"))
    assert polish[1][13] == "błędny numer telefonu"


def test_xlsx_rows_continue_on_a_new_sheet_past_the_row_limit(alpha, monkeypatch):
    from partner_portal import exports

    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    for _ in range(5):
        MessageFactory(account=alpha.account)
    response = client_for(alpha.viewer).get("/messages/export.xlsx")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert workbook.sheetnames[:3] == ["Messages", "Messages (2)", "Messages (3)"]
    assert all(sheet.max_row <= 3 for sheet in workbook)
    assert all(sheet["A1"].value == "Created" for sheet in workbook)
    data_rows = sum(
        1
        for sheet in workbook
        for row in sheet.iter_rows(min_row=2, values_only=True)
        if row[0] is not None and not isinstance(row[0], str)
    )
    assert data_rows == 5
