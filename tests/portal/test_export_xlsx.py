"""The messages XLSX, whose rows partner_portal.xlsx_sheets writes: read back with openpyxl, it
holds the CSV's rows cell for cell, with dates as dates, counts as numbers and phones and ids as
text cells formatted as text."""

import csv
import datetime as dt
import io

import pytest
from django.utils import translation
from openpyxl import load_workbook

from billing.commission import BILLING_ZONE
from billing.models import Channel, MessageType
from billing.selectors import messages_for
from billing.statuses import Status
from tests.factories import MessageFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db

AWKWARD = "  Tom & Jerry <sp. z o.o.>\r\nline two "


@pytest.fixture
def awkward_traffic(alpha):
    when = dt.datetime(2026, 3, 29, 0, 59, 59, 999_000, tzinfo=dt.UTC)  # just before DST
    alpha.account.name = AWKWARD
    alpha.account.save()
    MessageFactory(
        account=alpha.account,
        status=Status.DELIVERED,
        parts=3,
        sender="=HYPERLINK()",
        phone="+48500600704",
        serwersms_id="0012345678901",
        unique_id="0042",
        created_at=when,
        dispatched_at=when + dt.timedelta(seconds=5),
        delivered_at=when + dt.timedelta(minutes=1),
        message_type=MessageType.FULL,
        channel=Channel.EMAIL2SMS,
    )
    MessageFactory(
        account=alpha.account,
        status=Status.UNSENT,
        reason="wrong_number",
        sender="",
        serwersms_id=None,
        error_message="bell\x07 and \x1b escape",
        created_at=when - dt.timedelta(days=40),
    )
    MessageFactory(
        account=alpha.account,
        status=Status.QUEUED,
        error_message="@SUM(A1)",
        created_at=when - dt.timedelta(days=1),
    )


def _xlsx(client, query=""):
    response = client.get(f"/messages/export.xlsx{query}")
    assert response.status_code == 200
    return load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def _csv(client, query=""):
    body = b"".join(client.get(f"/messages/export.csv{query}").streaming_content)
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def _as_csv(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


@pytest.mark.parametrize("language", ["en", "pl"])
def test_xlsx_holds_the_csv_rows_cell_for_cell(awkward_traffic, alpha, language):
    client = client_for(alpha.viewer, language)
    sheet = _xlsx(client).active
    rows = [[_as_csv(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    expected = _csv(client)
    # The CSV keeps characters XML cannot hold; the XLSX drops them (openpyxl refused them).
    expected = [[cell.replace("\x07", "").replace("\x1b", "") for cell in row] for row in expected]
    width = len(expected[0])
    assert [row + [""] * (width - len(row)) for row in rows] == [
        row + [""] * (width - len(row)) for row in expected
    ]


def test_xlsx_cells_have_the_types_and_formats_of_their_columns(awkward_traffic, alpha):
    sheet = _xlsx(client_for(alpha.viewer)).active
    header = [cell for cell in next(sheet.iter_rows(min_row=1, max_row=1))]
    assert header[0].value == "Created" and all(cell.font.b for cell in header)
    created, account, phone, sender = (sheet.cell(row=2, column=c) for c in (1, 2, 3, 4))
    parts, dispatched = sheet.cell(row=2, column=7), sheet.cell(row=2, column=10)
    assert created.is_date and created.value == dt.datetime(2026, 3, 29, 1, 59, 59, 999_000)
    assert created.number_format == "yyyy-mm-dd h:mm:ss"
    # 5 s later the clocks have gone forward an hour
    assert dispatched.value == dt.datetime(2026, 3, 29, 3, 0, 4, 999_000)
    assert (parts.value, parts.data_type) == (3, "n")
    assert account.value == AWKWARD  # outer spaces, &, <, >, CR LF all kept
    assert (phone.value, phone.data_type, phone.number_format) == ("+48500600704", "s", "@")
    assert sender.value == "'=HYPERLINK()"
    serwersms_id, unique_id = sheet.cell(row=2, column=12), sheet.cell(row=2, column=13)
    assert (serwersms_id.value, serwersms_id.data_type) == ("0012345678901", "s")
    assert serwersms_id.number_format == "@"
    assert (unique_id.value, unique_id.number_format) == ("0042", "@")
    # the queued message: no dispatch time, an error text that looks like a formula
    assert sheet.cell(row=3, column=10).value is None
    assert sheet.cell(row=3, column=14).value == "'@SUM(A1)"
    # the unsent one: no sender, no SerwerSMS id, the reason in words
    assert sheet.cell(row=4, column=4).value is None
    assert sheet.cell(row=4, column=12).value is None
    assert sheet.cell(row=4, column=14).value == "wrong phone number"


def test_xlsx_local_times_follow_the_billing_zone(alpha):
    winter = dt.datetime(2026, 1, 15, 23, 30, tzinfo=dt.UTC)
    MessageFactory(account=alpha.account, created_at=winter)
    sheet = _xlsx(client_for(alpha.viewer)).active
    expected = winter.astimezone(BILLING_ZONE).replace(tzinfo=None)
    assert sheet.cell(row=2, column=1).value == expected == dt.datetime(2026, 1, 16, 0, 30)


def test_an_empty_export_has_the_header_and_zero_totals(alpha):
    rows = list(_xlsx(client_for(alpha.viewer, "pl")).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("Utworzono", "Konto klienta")
    assert [row[:2] for row in rows[2:]] == [
        ("Wiadomości razem", 0),
        ("Części razem", 0),
        ("Zaliczone wiadomości", 0),
    ]


def test_a_sheet_ending_exactly_at_the_row_limit_starts_no_empty_sheet(alpha, monkeypatch):
    from partner_portal import exports

    # 4 messages + blank line + 3 totals = 8 rows = 2 sheets of 4 rows under their header
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 5)
    for _ in range(4):
        MessageFactory(account=alpha.account)
    workbook = _xlsx(client_for(alpha.viewer))
    assert workbook.sheetnames == ["Messages", "Messages (2)"]
    assert [sheet.max_row for sheet in workbook] == [5, 5]


def _cells(workbook):
    return [
        [(c.value, c.data_type, c.number_format, c.font.b) for c in row]
        for sheet in workbook
        for row in sheet.iter_rows()
    ]


@pytest.mark.parametrize("language", ["en", "pl"])
def test_rows_written_by_postgresql(awkward_traffic, alpha, language):
    from partner_portal import exports

    queryset = messages_for(alpha.partner).order_by("-created_at", "-id")
    target = io.BytesIO()
    with translation.override(language):
        exports.write_messages_xlsx(queryset, target)
    cells = _cells(load_workbook(target))
    assert len(cells) == 1 + 3 + 4
    assert all(bold for _value, _type, _format, bold in cells[0])  # the header
    assert not any(bold for row in cells[1:4] for _value, _type, _format, bold in row)
