"""Reads: one message, cursor pages (no OFFSET, no COUNT), commission, statements + documents."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from billing.services.statements import build_statement
from billing.statuses import Status
from tests.factories import AgreementFactory, MessageFactory, StatementFactory

pytestmark = pytest.mark.django_db
# A fixed instant mid-month: the month read and the messages' month cannot straddle a boundary.
MID_MONTH = "2026-11-20 12:00:00+00:00"


def test_one_message_with_its_history(alpha):
    message = MessageFactory(account=alpha.account, status=Status.DELIVERED)
    response = alpha.client.get(f"/api/v1/messages/{message.pk}")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["billing"]) == (message.pk, "delivered", "counted")
    assert body["events"] == []
    assert alpha.client.get("/api/v1/messages/999999").status_code == 404


def test_pages_walk_every_message_once_without_offset_or_count(alpha):
    start = timezone.now() - dt.timedelta(hours=1)
    made = [
        MessageFactory(account=alpha.account, created_at=start + dt.timedelta(seconds=n // 2))
        for n in range(25)
    ]  # pairs share a created_at: the id breaks the tie
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        with CaptureQueriesContext(connection) as queries:
            body = alpha.client.get("/api/v1/messages", query).json()
        sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
        assert "OFFSET" not in sql and "COUNT(" not in sql
        seen += [m["id"] for m in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert seen == [m.pk for m in sorted(made, key=lambda m: (m.created_at, m.pk), reverse=True)]


def test_filters_status_since_and_account(alpha):
    old = MessageFactory(account=alpha.account, created_at=timezone.now() - dt.timedelta(days=3))
    new = MessageFactory(account=alpha.account, status=Status.UNSENT)
    ids = lambda **q: [m["id"] for m in alpha.client.get("/api/v1/messages", q).json()["items"]]  # noqa: E731
    assert ids(status="unsent") == [new.pk]
    assert ids(status="pending") == [old.pk]
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert ids(since=since) == [new.pk]
    assert ids(account=alpha.account.pk) == [new.pk, old.pk]


def test_since_far_outside_our_years_or_with_a_wild_offset_is_400_or_read_in_utc(alpha):
    new = MessageFactory(account=alpha.account)
    for since in ("0007-07-28T10:53:27.02-20:15", "9999-12-31T23:59:59+00:00"):
        response = alpha.client.get("/api/v1/messages", {"since": since})
        assert response.status_code == 400, since
        assert response.json()["errors"][0]["field"] == "since"
    # An offset PostgreSQL refuses (over 15:59) is read as the instant it names.
    earlier = (timezone.now() - dt.timedelta(days=1)).astimezone(
        dt.timezone(-dt.timedelta(hours=20))
    )
    body = alpha.client.get("/api/v1/messages", {"since": earlier.isoformat()}).json()
    assert [m["id"] for m in body["items"]] == [new.pk]


def test_a_cursor_not_from_the_api_is_400(alpha):
    response = alpha.client.get("/api/v1/messages", {"cursor": "bm90IGEgY3Vyc29y"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"


@freeze_time(MID_MONTH)
def test_commission_reads_the_month_figures(alpha):
    period = timezone.localdate().replace(day=1)
    AgreementFactory(partner=alpha.partner, rate_eco="0.0125")
    MessageFactory(account=alpha.account, status=Status.DELIVERED)
    MessageFactory(account=alpha.account, status=Status.QUEUED)
    statement = build_statement(alpha.partner, period, actor="test").statement
    body = alpha.client.get("/api/v1/commission", {"period": f"{period:%Y-%m}"}).json()
    assert (body["counted"], body["pending"]) == (1, 1)
    assert body["commission"] == str(statement.printed_commission) == "0.01"
    assert body["statement_id"] == statement.pk
    assert body["accounts"][0]["account"]["id"] == alpha.account.pk
    assert body["accounts"][0]["counted"] == 1
    assert alpha.client.get("/api/v1/commission", {"period": "2024-13"}).status_code == 400


def test_statements_list_their_documents(alpha):
    statement = StatementFactory(partner=alpha.partner)
    body = alpha.client.get("/api/v1/statements").json()
    assert [s["id"] for s in body["items"]] == [statement.pk]
    documents = {d["format"]: d["url"] for d in body["items"][0]["documents"]}
    assert set(documents) == {"csv", "xlsx", "pdf"}
    response = alpha.client.get(documents["csv"])
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert statement.audit_entries.filter(action="download").exists()


@freeze_time(MID_MONTH)
def test_commission_without_a_period_is_this_billing_month(alpha):
    from billing.commission import billing_month

    body = alpha.client.get("/api/v1/commission").json()
    assert body["period"] == f"{billing_month(timezone.now()):%Y-%m}" == "2026-11"
