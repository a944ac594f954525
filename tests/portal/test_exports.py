"""Exports of the filtered messages table: the totals match the screen, formulas are defused."""

import csv
import io

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
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_xlsx_export_has_the_same_rows_and_totals(traffic, alpha):
    client = client_for(alpha.viewer)
    shown = [row.record for row in client.get("/messages/?status=counted").context["table"].rows]
    response = client.get("/messages/export.xlsx?status=counted")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
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
    [("=1+1", "'=1+1"), ("+48500", "'+48500"), ("-x", "'-x"), ("@a", "'@a"), ("ok", "ok"), (5, 5)],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected
