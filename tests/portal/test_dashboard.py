"""Dashboard figures: Europe/Warsaw months by dispatch time; an open month counted live from the
daily rollups with its draft statement's commission, a closed month as its statement billed it
(the sources the statement page, the client-accounts page and the API read too)."""

import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time

from billing import selectors
from billing.models import StatementDay
from billing.services.statements import build_statement
from billing.statuses import Status
from tests.factories import AgreementFactory, MessageFactory, StatementFactory, StatementItemFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _message(side, when: dt.datetime, status: str, parts: int = 1):
    return MessageFactory(
        account=side.account, status=status, parts=parts, created_at=when, dispatched_at=when
    )


def test_month_figures_follow_warsaw_months_by_dispatch_time(alpha, beta):
    # 23:30 UTC on 31 October is 00:30 on 1 November in Warsaw: a November message.
    _message(alpha, dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC), Status.DELIVERED, parts=2)
    _message(alpha, dt.datetime(2026, 10, 31, 22, 30, tzinfo=UTC), Status.SENT)  # 23:30 Oct 31
    _message(alpha, dt.datetime(2026, 11, 5, tzinfo=UTC), Status.UNDELIVERED)
    _message(alpha, dt.datetime(2026, 11, 6, tzinfo=UTC), Status.QUEUED)
    _message(alpha, dt.datetime(2026, 11, 7, tzinfo=UTC), Status.UNSENT)
    _message(beta, dt.datetime(2026, 11, 7, tzinfo=UTC), Status.DELIVERED)

    # A message refused at send time has no dispatch time: it counts in its submission month.
    MessageFactory(
        account=alpha.account,
        status=Status.UNSENT,
        created_at=dt.datetime(2026, 11, 8, tzinfo=UTC),
        queued_at=None,
        dispatched_at=None,
    )

    figures = selectors.dashboard_figures(alpha.partner, NOW)
    assert figures.this_month.commission is None  # nothing built yet: no money invented
    month = figures.this_month  # an open month is counted live from the daily rollups
    assert (month.counted, month.counted_parts, month.pending, month.unsent) == (2, 3, 1, 2)

    for period in (dt.date(2026, 10, 1), dt.date(2026, 11, 1)):
        build_statement(alpha.partner, period, actor="test")
    figures = selectors.dashboard_figures(alpha.partner, NOW)

    month = figures.this_month
    assert (month.counted, month.counted_parts, month.pending, month.unsent) == (2, 3, 1, 2)
    assert month.delivery_rate == Decimal("50.0")
    statement = month.statement
    assert (statement.counted_messages, statement.pending_messages) == (2, 1)
    assert statement.unsent_messages == month.unsent  # one set of numbers for one month
    assert month.as_of == statement.built_at
    assert figures.last_month.period == dt.date(2026, 10, 1)
    assert figures.last_month.counted == 1


def test_commission_comes_from_the_months_statement_items(alpha, beta):
    message = _message(alpha, dt.datetime(2026, 11, 3, tzinfo=UTC), Status.DELIVERED)
    statement = StatementFactory(partner=alpha.partner, period=dt.date(2026, 11, 1))
    StatementItemFactory(statement=statement, message=message, amount=Decimal("1234.5600"))
    other = StatementFactory(partner=beta.partner, period=dt.date(2026, 11, 1))
    StatementItemFactory(
        statement=other,
        message=_message(beta, dt.datetime(2026, 11, 3, tzinfo=UTC), Status.SENT),
        amount=Decimal("99"),
    )
    # the daily series reads the days the statement build keeps with the items
    for kept, amount in ((statement, "1234.5600"), (other, "99")):
        StatementDay.objects.create(
            statement=kept, day=dt.date(2026, 11, 3), counted_messages=1, commission=Decimal(amount)
        )

    figures = selectors.dashboard_figures(alpha.partner, NOW)

    day = next(p for p in figures.series if p.day == dt.date(2026, 11, 3))
    assert (day.counted, day.commission) == (1, Decimal("1234.56"))
    assert len(figures.series) == 90
    assert figures.series[-1].day == dt.date(2026, 11, 20)


@freeze_time(NOW)
def test_dashboard_page_shows_figures_chart_and_top_accounts(alpha, beta):
    AgreementFactory(partner=alpha.partner, rate_eco="1234.5649")
    _message(alpha, dt.datetime(2026, 11, 3, tzinfo=UTC), Status.DELIVERED)
    build_statement(alpha.partner, dt.date(2026, 11, 1), actor="test")

    english = client_for(alpha.viewer).get("/").content.decode()
    assert "<svg" in english and 'class="bar"' in english
    assert "1,234.56\xa0PLN" in english
    assert alpha.account.name in english
    assert "statement not built yet" in english  # October has no statement

    polish = client_for(alpha.viewer, "pl").get("/").content.decode()
    assert "1\xa0234,56\xa0zł" in polish


def test_dashboard_without_messages_explains_how_to_start(alpha):
    page = client_for(alpha.viewer).get("/").content.decode()
    assert "No messages yet" in page
    assert "manage.py send_sms" in page
