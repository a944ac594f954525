"""The messages page and its exports have their columns from one declaration
(partner_portal.message_columns): the page shows the exports' columns, in their order, under the
same headings, with the same words; the files are exactly what they were before the declaration."""

import csv
import datetime as dt
import html
import io
import re

import pytest
from django.utils import translation
from django.utils.formats import date_format

from billing.models import Channel, Message, MessageType
from billing.statuses import Status
from partner_portal import exports
from partner_portal.message_columns import COLUMNS, PAGE_COLUMNS, Cell
from tests.factories import MessageFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # Warsaw: 02:30 CEST, an hour before CET


@pytest.fixture
def fixed(alpha):
    """Messages whose every exported field is given (no random ids)."""
    MessageFactory(
        account=alpha.account,
        status=Status.DELIVERED,
        parts=2,
        sender="SHOP",
        phone="+48500600701",
        serwersms_id="0000000123",
        unique_id="u-1",
        created_at=WHEN,
        dispatched_at=WHEN + dt.timedelta(hours=1),
        delivered_at=WHEN + dt.timedelta(hours=1, minutes=1),
        message_type=MessageType.FULL,
        channel=Channel.EMAIL2SMS,
    )
    MessageFactory(
        account=alpha.account,
        status=Status.UNSENT,
        reason="wrong_number",
        sender="=SUM(A1)",
        phone="+48500600702",
        serwersms_id=None,
        unique_id="u-2",
        created_at=WHEN + dt.timedelta(minutes=1),
        dispatched_at=WHEN + dt.timedelta(minutes=2),
    )
    MessageFactory(
        account=alpha.account,
        status=Status.QUEUED,
        error_message="no answer, retried",
        sender="",
        phone="+48500600703",
        serwersms_id="0000000125",
        unique_id="u-3",
        created_at=WHEN + dt.timedelta(minutes=3),
        message_type=MessageType.VOICE,
        channel=Channel.XML_API,
    )


def _csv(alpha, language: str) -> str:
    queryset = Message.objects.filter(partner=alpha.partner).order_by("-created_at", "-id")
    with translation.override(language):
        return b"".join(exports.copy_csv_chunks(queryset)).decode("utf-8")


# Byte for byte what the exports wrote before their columns were declared in one place.
EXPECTED_PL = (
    "\ufeffUtworzono,Konto klienta,Telefon,Nadawca,Typ,Kanał,Części,Status,Zaliczone,"
    "Wysłano do operatora,Doręczono,id SerwerSMS,Unikalny id,Przyczyna\n"
    "2026-10-25 02:33:00,alpha-shop,+48500600703,,VOICE,API XML,1,w kolejce,nie,,,0000000125,"
    'u-3,"no answer, retried"\n'
    "2026-10-25 02:31:00,alpha-shop,+48500600702,'=SUM(A1),ECO,API v2,1,niewysłano,nie,,,,u-2,"
    "błędny numer telefonu\n"
    # created 00:30 UTC (CEST), dispatched 01:30 UTC (CET): both 02:30 in Warsaw
    "2026-10-25 02:30:00,alpha-shop,+48500600701,SHOP,FULL,Email2SMS,2,doręczono,tak,"
    "2026-10-25 02:30:00,2026-10-25 02:31:00,0000000123,u-1,\n"
    "\n"
    "Wiadomości razem,3\n"
    "Części razem,4\n"
    "Zaliczone wiadomości,1\n"
)


def test_the_csv_export_is_what_it_was(fixed, alpha):
    assert _csv(alpha, "pl") == EXPECTED_PL


def _page_cells(alpha, language: str) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """The page's (key, heading) columns and its rows as {key: text} (tags stripped)."""
    page = client_for(alpha.viewer, language).get("/messages/").content.decode()
    table = re.search(r"<table.*?</table>", page, re.S).group(0)
    heads = [
        (key, html.unescape(re.sub(r"<[^>]+>", "", text)).strip())
        for key, text in re.findall(r'<th[^>]*data-col="([^"]+)"[^>]*>(.*?)</th>', table, re.S)
    ]
    rows = []
    for row in re.findall(r"<tr class=\"(?:odd|even)\">(.*?)</tr>", table, re.S):
        cells = re.findall(r'<td[^>]*data-col="([^"]+)"[^>]*>(.*?)</td>', row, re.S)
        rows.append({key: html.unescape(re.sub(r"<[^>]+>", "", text)) for key, text in cells})
    return heads, rows


@pytest.mark.parametrize("language", ["en", "pl"])
def test_the_page_shows_the_exports_columns(fixed, alpha, language):
    heads, page_rows = _page_cells(alpha, language)
    exported = list(csv.reader(io.StringIO(_csv(alpha, language).lstrip("\ufeff"))))
    header, file_rows = exported[0], exported[1 : exported.index([])]
    keys = [column.key for column in COLUMNS]
    # The page's columns are the exports' columns that are on the page, in the same order.
    assert [key for key, _ in heads] == [column.key for column in PAGE_COLUMNS]
    assert [key for key, _ in heads] == [key for key in keys if key in dict(heads)]
    assert [heading for _, heading in heads] == [header[keys.index(key)] for key, _ in heads]
    assert len(page_rows) == len(file_rows) == 3
    for shown, written in zip(page_rows, file_rows, strict=True):  # both newest first
        for column in PAGE_COLUMNS:
            cell, text = written[keys.index(column.key)], shown[column.key]
            if column.cell is Cell.TIME:
                if cell:
                    local = dt.datetime.fromisoformat(cell)
                    with translation.override(language):
                        cell = date_format(local, "SHORT_DATETIME_FORMAT")
                else:
                    cell = "—"
            elif column.key == "status":
                text = text.split(" ")[0] if language == "en" else text
            elif column.key == "sender" and not cell:
                cell = "—"
            assert text.strip() == cell.lstrip("'"), column.key
