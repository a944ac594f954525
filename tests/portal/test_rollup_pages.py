"""The dashboard, the client-accounts page and the API's /commission count from the daily
rollups of the partner's own open months and from the closed statement of a closed month; none
of them reads messages or statement items."""

import datetime as dt

import pytest
from django.db import connection
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from billing import selectors
from billing.commission import billing_month, previous_month
from billing.models import DailyRollup, EventSource
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from billing.services.status_updates import StatusChange, apply_status_changes
from billing.serwersms.types import ReportItem
from billing.statuses import Status
from partner_api.keys import create_api_key
from tests.factories import AgreementFactory, MessageFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mid_month():
    """The clock runs from a fixed instant mid-month, so "a moment ago" and "this month" never
    fall on two sides of a month's (or day's) boundary."""
    with freeze_time("2026-11-20 12:00:00", tick=True):
        yield


def api_client(side) -> Client:
    _key, raw = create_api_key(account=side.account, name="software", actor="test")
    return Client(headers={"authorization": f"Bearer {raw}"})


def _traffic(side, when: dt.datetime, statuses) -> list:
    return [
        MessageFactory(account=side.account, status=s, created_at=when, dispatched_at=when)
        for s in statuses
    ]


def _just_now() -> dt.datetime:
    """A moment ago: in the current billing month (and day)."""
    return timezone.now() - dt.timedelta(seconds=1)


@pytest.mark.rollups_unchecked  # alters rollup rows to see which ones the pages read
def test_pages_and_the_api_count_from_the_partners_own_rollups(alpha, beta):
    when = _just_now()
    _traffic(alpha, when, [Status.DELIVERED] * 2)
    _traffic(beta, when, [Status.DELIVERED] * 5)
    # Beta's rows grow a hundredfold, alpha's one row by 1000: alpha's figures must show
    # exactly its own row, so they come from the rollups and only from alpha's.
    DailyRollup.objects.filter(partner=beta.partner).update(messages=F("messages") * 100)
    DailyRollup.objects.filter(partner=alpha.partner).update(messages=F("messages") + 1000)

    dashboard = client_for(alpha.viewer).get("/").context["figures"]
    assert (dashboard.this_month.counted, dashboard.this_month.delivered) == (1002, 1002)
    assert [row.counted for row in dashboard.top_accounts] == [1002]
    assert sum(p.counted for p in dashboard.series) == 1002

    page = client_for(alpha.viewer).get("/client-accounts/").context
    assert [(row.account, row.counted) for row in page["rows"]] == [(alpha.account, 1002)]
    assert page["month"].counted == 1002

    body = api_client(alpha).get("/api/v1/commission").json()
    assert (body["counted"], body["delivered"], body["counts_live"]) == (1002, 1002, True)
    assert [a["counted"] for a in body["accounts"]] == [1002]

    assert api_client(beta).get("/api/v1/commission").json()["counted"] == 500


def _closed_last_month_and_draft(side):
    """Last month closed (3 delivered, 1 undelivered, 1 queued), this month a draft."""
    AgreementFactory(partner=side.partner, rate_eco="0.0100")
    this_period = billing_month(timezone.now())
    last_period = previous_month(this_period)
    last_day = dt.datetime.combine(last_period, dt.time(12), tzinfo=dt.UTC) + dt.timedelta(days=9)
    messages = _traffic(
        side,
        last_day,
        [Status.DELIVERED] * 3 + [Status.UNDELIVERED, Status.QUEUED],
    )
    far_later = timezone.now() + dt.timedelta(days=40)  # past last month's review window
    close_statement(side.partner, last_period, actor="test", now=far_later)
    _traffic(side, _just_now(), [Status.DELIVERED, Status.SENT])
    build_statement(side.partner, this_period, actor="test")
    return last_period, this_period, messages


def test_dashboard_accounts_and_api_read_no_messages_and_no_statement_items(alpha, beta):
    _closed_last_month_and_draft(alpha)
    _closed_last_month_and_draft(beta)
    viewer, api = client_for(alpha.viewer), api_client(alpha)
    last = previous_month(billing_month(timezone.now()))
    with CaptureQueriesContext(connection) as queries:
        assert viewer.get("/").status_code == 200
        assert viewer.get("/client-accounts/").status_code == 200
        assert viewer.get("/client-accounts/", {"period": f"{last:%Y-%m}"}).status_code == 200
        assert api.get("/api/v1/commission").status_code == 200
        assert api.get("/api/v1/commission", {"period": f"{last:%Y-%m}"}).status_code == 200
    scans = [
        q["sql"]
        for q in queries
        if '"billing_message"' in q["sql"]
        or '"billing_statementitem"' in q["sql"]
        or "billing_message " in q["sql"]
    ]
    assert scans == []
    assert any("billing_dailyrollup" in q["sql"] for q in queries)


def test_a_closed_month_keeps_showing_what_its_statement_billed_after_a_late_change(alpha):
    last_period, this_period, messages = _closed_last_month_and_draft(alpha)
    late = messages[-1]  # queued when the month was closed; SerwerSMS reports it delivered now
    item = ReportItem(
        serwersms_id=late.serwersms_id,
        phone=late.phone,
        status="delivered",
        sent_at=late.created_at + dt.timedelta(minutes=1),
        delivered_at=late.created_at + dt.timedelta(minutes=2),
    )
    apply_status_changes([StatusChange(late.pk, item)], EventSource.POLL)

    figures = selectors.dashboard_figures(alpha.partner, timezone.now()).last_month
    statement = figures.statement
    assert figures.is_closed
    shown = (figures.counted, figures.pending, figures.delivered, figures.undelivered)
    assert (
        shown
        == (4, 1, 3, 1)
        == (
            statement.counted_messages,
            statement.pending_messages,
            sum(line.delivered_messages for line in statement.lines.all()),
            sum(line.undelivered_messages for line in statement.lines.all()),
        )
    )
    [row] = selectors.account_figures(alpha.partner, last_period)
    assert (row.counted, row.pending, row.delivered) == (4, 1, 3)
    series = selectors.daily_series(alpha.partner, timezone.localdate(), days=90)
    in_last_month = [p for p in series if p.day.replace(day=1) == last_period]
    assert len(in_last_month) >= 28  # the chart's 90 days hold all of last month
    assert sum(p.counted for p in in_last_month) == statement.counted_messages
    # The rollups already count the late delivery; the next statement carries it.
    live = selectors.live_counts(alpha.partner, last_period)
    assert (live.counted, live.pending) == (5, 0)
    draft = build_statement(alpha.partner, this_period, actor="test").statement
    assert draft.adjustments.get().message_id == late.pk


def test_an_open_month_is_counted_live_and_its_commission_shown_as_of_the_draft(alpha):
    when = _just_now()
    AgreementFactory(partner=alpha.partner, rate_eco="0.0100")
    [message] = _traffic(alpha, when, [Status.QUEUED])
    statement = build_statement(alpha.partner, billing_month(when), actor="test").statement
    item = ReportItem(
        serwersms_id=message.serwersms_id, phone=message.phone, status="sent", sent_at=when
    )
    apply_status_changes([StatusChange(message.pk, item)], EventSource.POLL)  # no rebuild yet

    page = client_for(alpha.viewer).get("/")
    figures = page.context["figures"].this_month
    assert (figures.counted, figures.pending) == (1, 0)  # live
    assert figures.as_of == statement.built_at and figures.commission == statement.total
    assert "counted live" in page.content.decode()
    accounts = client_for(alpha.viewer).get("/client-accounts/").content.decode()
    assert "Messages counted live; commission of the draft statement as of" in accounts
