"""The messages table: filters, indexed sorting, keyset pages, detail with status history."""

import datetime as dt
import html
import re

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
    summary = everything.context["summary"]
    assert (summary.count, summary.kind) == (4, "exact")

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


def _created(response) -> list:
    return [row.record.created_at for row in response.context["table"].paginated_rows]


def test_table_sorts_only_by_indexed_orderings(alpha):
    older = MessageFactory(
        account=alpha.account, phone="+48500000009", created_at=dt.datetime(2026, 1, 1, tzinfo=UTC)
    )
    newer = MessageFactory(
        account=alpha.account, phone="+48500000001", created_at=dt.datetime(2026, 2, 1, tzinfo=UTC)
    )
    client = client_for(alpha.viewer)
    assert _created(client.get("/messages/")) == [newer.created_at, older.created_at]
    assert _created(client.get("/messages/?sort=created_at")) == [
        older.created_at,
        newer.created_at,
    ]
    # Sorting by phone would sort every row of the partner: not offered, the default order stays.
    by_phone = client.get("/messages/?sort=phone")
    assert _created(by_phone) == [newer.created_at, older.created_at]
    headers = re.findall(r"<th[^>]*>.*?</th>", by_phone.content.decode(), re.S)
    sortable = [header for header in headers if "sort=" in header]
    assert len(sortable) == 1 and "sort=created_at" in sortable[0]


def _many(side, count: int, start=dt.datetime(2026, 3, 1, tzinfo=UTC)) -> list:
    """`count` messages, one a minute, the last two sharing one instant (ties go by id)."""
    messages = []
    for n in range(count):
        at = start + dt.timedelta(minutes=min(n, count - 2))
        messages.append(
            MessageFactory(account=side.account, phone=f"+4850001{n:04d}", created_at=at)
        )
    return messages


def _next_link(response) -> str:
    match = re.search(r'id="page-next" rel="next" href="([^"]+)"', response.content.decode())
    return html.unescape(match.group(1)) if match else ""


def _previous_link(response) -> str:
    match = re.search(r'id="page-previous" rel="prev" href="([^"]+)"', response.content.decode())
    return html.unescape(match.group(1)) if match else ""


def test_keyset_pages_walk_every_row_once_without_offset_or_count(alpha, beta):
    messages = _many(alpha, 55)
    _many(beta, 3)
    client = client_for(alpha.viewer)
    with CaptureQueriesContext(connection) as queries:
        first = client.get("/messages/")
    message_sql = [
        q["sql"].upper() for q in queries.captured_queries if "BILLING_MESSAGE" in q["sql"].upper()
    ]
    assert not [sql for sql in message_sql if "OFFSET" in sql]
    # The only COUNT stops at a LIMIT: never a count over every matching row.
    assert all("LIMIT" in sql for sql in message_sql if "COUNT(" in sql)
    assert len(_phones(first)) == 50
    assert "?page=" not in first.content.decode() and "&page=" not in first.content.decode()
    second = client.get("/messages/" + _next_link(first))
    assert len(_phones(second)) == 5
    assert _next_link(second) == ""
    seen = _phones(first) + _phones(second)
    assert sorted(seen) == sorted(m.phone for m in messages)  # every row once, none of beta's
    back = client.get("/messages/" + _previous_link(second))
    assert _phones(back) == _phones(first)
    assert _previous_link(back) == ""


def test_keyset_pages_keep_the_filters_and_the_ordering(alpha):
    _many(alpha, 30)
    client = client_for(alpha.viewer)
    first = client.get("/messages/?sort=created_at&per_page=25&phone=500010")
    assert first.context["page"].per_page == 25
    link = _next_link(first)
    assert "sort=created_at" in link and "phone=500010" in link and "per_page=25" in link
    second = client.get("/messages/" + link)
    assert _phones(first) + _phones(second) == sorted(_phones(first) + _phones(second))
    assert len(_phones(second)) == 5


@pytest.mark.parametrize(
    "per_page, shown", [("1000000", 100), ("0", 1), ("abc", 50), ("60", 60), ("", 50)]
)
def test_per_page_is_bounded(alpha, settings, per_page, shown):
    settings.PORTAL_PAGE_SIZE, settings.PORTAL_MAX_PAGE_SIZE = 50, 100
    _many(alpha, 120)
    response = client_for(alpha.viewer).get(f"/messages/?per_page={per_page}")
    assert len(_phones(response)) == shown


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "a123_4",
        "d99999999999999999999999_1",
        "d1_x",
        pytest.param("d--5_1", id="two minus signs"),
        pytest.param("d%C2%B2_1", id="a superscript digit"),
        pytest.param("d1_%C2%B2", id="a superscript digit in the id"),
    ],
)
def test_a_bad_or_foreign_cursor_shows_the_first_page(alpha, cursor):
    _many(alpha, 3)
    response = client_for(alpha.viewer).get(f"/messages/?after={cursor}&before={cursor}")
    assert response.status_code == 200
    assert len(_phones(response)) == 3


def test_summary_past_the_cap_is_never_a_full_count(alpha, monkeypatch):
    from partner_portal import pagination

    monkeypatch.setattr(pagination, "COUNT_CAP", 20)
    _many(alpha, 55)
    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would keep them
        cursor.execute("ANALYZE billing_message")
    client = client_for(alpha.viewer)
    with CaptureQueriesContext(connection) as queries:
        summary = client.get("/messages/").context["summary"]
    assert summary.kind == "estimate"  # the planner's figure, shown as such
    assert summary.count > 20
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert all("LIMIT 21" in sql for sql in counts)
    page = client.get("/messages/").content.decode()
    assert "messages (estimate)" in page or "more than" in page


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


def test_a_phone_search_needs_four_digits(alpha):
    MessageFactory(account=alpha.account, phone="+48500600700")
    client = client_for(alpha.viewer)
    short = client.get("/messages/?phone=60")
    assert "Enter at least 4 digits of the phone number." in short.content.decode()
    assert _phones(short) == []
    assert _phones(client.get("/messages/?phone=0060")) == ["+48500600700"]
