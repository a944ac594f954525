"""The messages table: filters, sorting, lazy pagination, detail with status history."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.statuses import Status
from tests.factories import ClientAccountFactory, MessageFactory, StatusEventFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def _phones(response) -> list[str]:
    return [row.record.phone for row in response.context["table"].paginated_rows]


def test_filters_narrow_the_table_and_totals(alpha, beta):
    second = ClientAccountFactory(partner=alpha.partner, name="alpha-second")
    MessageFactory(account=alpha.account, phone="+48500000001", status=Status.DELIVERED, parts=2)
    MessageFactory(account=alpha.account, phone="+48500000002", status=Status.UNSENT)
    MessageFactory(account=second, phone="+48500000003", status=Status.SENT, message_type="full")
    MessageFactory(
        account=alpha.account,
        phone="+48500000004",
        status=Status.QUEUED,
        created_at=dt.datetime(2026, 1, 10, 12, tzinfo=UTC),
    )
    MessageFactory(account=beta.account, phone="+48500000005", status=Status.DELIVERED)
    client = client_for(alpha.viewer)

    everything = client.get("/messages/")
    assert sorted(_phones(everything)) == [f"+4850000000{n}" for n in (1, 2, 3, 4)]
    totals = everything.context["totals"]
    assert (totals.messages, totals.parts, totals.counted) == (4, 5, 2)

    assert _phones(client.get("/messages/?status=counted")) == ["+48500000003", "+48500000001"]
    assert _phones(client.get("/messages/?status=unsent")) == ["+48500000002"]
    assert _phones(client.get(f"/messages/?account={second.pk}")) == ["+48500000003"]
    assert _phones(client.get("/messages/?message_type=full")) == ["+48500000003"]
    assert _phones(client.get("/messages/?phone=500 000 002")) == ["+48500000002"]
    january = client.get("/messages/?date_from=2026-01-01&date_to=2026-01-31")
    assert _phones(january) == ["+48500000004"]


def test_a_backwards_date_range_is_an_error_with_no_rows(alpha):
    MessageFactory(account=alpha.account)
    response = client_for(alpha.viewer).get("/messages/?date_from=2026-02-01&date_to=2026-01-01")
    assert "The start date is after the end date." in response.content.decode()
    assert _phones(response) == []


def test_table_sorts_by_a_column(alpha):
    MessageFactory(account=alpha.account, phone="+48500000009")
    MessageFactory(account=alpha.account, phone="+48500000001")
    client = client_for(alpha.viewer)
    assert _phones(client.get("/messages/?sort=phone")) == ["+48500000001", "+48500000009"]
    assert _phones(client.get("/messages/?sort=-phone")) == ["+48500000009", "+48500000001"]


def test_pagination_never_counts_the_whole_table(alpha, settings):
    for n in range(55):
        MessageFactory(account=alpha.account, phone=f"+485000001{n:02d}")
    client = client_for(alpha.viewer)
    with CaptureQueriesContext(connection) as queries:
        first = client.get("/messages/")
    message_counts = [
        q["sql"]
        for q in queries.captured_queries
        if "COUNT(" in q["sql"].upper()
        and "billing_message" in q["sql"]
        and "SUM(" not in q["sql"].upper()
    ]
    assert message_counts == []  # only the totals aggregate (COUNT with SUM) ran
    assert len(_phones(first)) == 50
    assert "page=2" in first.content.decode()
    second = client.get("/messages/?page=2")
    assert len(_phones(second)) == 5


def test_message_detail_shows_the_status_history(alpha):
    message = MessageFactory(account=alpha.account, status=Status.DELIVERED)
    StatusEventFactory(message=message, old_status="queued", new_status="sent", source="poll")
    StatusEventFactory(
        message=message, old_status="sent", new_status="delivered", source="callback"
    )
    StatusEventFactory(
        message=message, old_status="delivered", new_status="sent", applied=False, note="late"
    )
    page = client_for(alpha.viewer).get(f"/messages/{message.pk}/").content.decode()
    assert page.count("<tr") == 4  # header + three events
    assert "callback" in page and "ignored" in page and "late" in page


def test_empty_messages_page_explains_how_to_send(alpha):
    page = client_for(alpha.viewer).get("/messages/").content.decode()
    assert "No messages yet" in page and "manage.py send_sms" in page
