"""The messages table's rows are made once per row (MessageTable.html_rows), not cell by cell by
django-tables2: the page shows exactly the HTML django-tables2's own rendering gives."""

import datetime as dt
import re

import pytest
from django.test import RequestFactory
from django.utils import timezone, translation

from billing.models import Channel, MessageType
from billing.statuses import Status
from partner_portal.tables import MessageTable
from tests.factories import MessageFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def varied(alpha):
    now = timezone.now()
    MessageFactory(account=alpha.account, status=Status.DELIVERED, parts=3, sender="SHOP")
    MessageFactory(
        account=alpha.account,
        status=Status.QUEUED,
        sender="",
        created_at=now - dt.timedelta(minutes=1),
        message_type=MessageType.VOICE,
        channel=Channel.XML_API,
    )
    MessageFactory(
        account=alpha.account,
        status=Status.UNSENT,
        sender='<b>"Tom" & Jerry</b>',
        created_at=now - dt.timedelta(minutes=2),
        channel=Channel.EMAIL2SMS,
    )
    MessageFactory(
        account=alpha.account,
        status=Status.UNDELIVERED,
        dispatched_at=None,
        created_at=now - dt.timedelta(minutes=3),
        message_type=MessageType.MMS,
        channel=Channel.REPORTED,
    )


def _tbody(html: str) -> str:
    body = re.search(r"<tbody[^>]*>(.*?)</tbody>", html, re.S).group(1)
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", body)).strip()


@pytest.mark.parametrize("language", ["en", "pl"])
def test_rows_are_the_html_django_tables2_renders(varied, alpha, language):
    response = client_for(alpha.viewer, language).get("/messages/")
    table = response.context["table"]
    records = [row.record for row in table.rows]
    assert len(records) == 4
    reference = MessageTable(records, order_by=table.order_by, template_name="portal/table.html")
    with translation.override(language):
        expected = _tbody(reference.as_html(RequestFactory().get("/messages/")))
    shown = _tbody(response.content.decode())
    assert shown == expected
    assert "&lt;b&gt;&quot;Tom&quot; &amp; Jerry&lt;/b&gt;" in shown
    assert shown.count("<tr") == 4


def test_an_empty_page_says_so(alpha, varied):
    response = client_for(alpha.viewer).get("/messages/?status=delivered&message_type=voice")
    assert "No messages match these filters." in _tbody(response.content.decode())


def _queries(client, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_a_page_costs_the_same_queries_whatever_the_number_of_rows(alpha):
    from tests.factories import ClientAccountFactory

    client = client_for(alpha.viewer)
    path = f"/messages/?account={alpha.account.pk}&per_page=25"
    MessageFactory(account=alpha.account)
    few = _queries(client, path)
    for n in range(60):
        MessageFactory(account=alpha.account, status=Status.DELIVERED, sender=f"S{n}")
    ClientAccountFactory.create_batch(5, partner=alpha.partner)
    many = _queries(client, path)
    # more rows, a next page and more accounts to choose from: no query more, except the
    # summary's count or estimate a page with a next page needs
    assert len(many) <= len(few) + 2
    assert not any("DECLARE" in sql for sql in many)  # the choices: no server-side cursor
