"""StatementDay: the statement build keeps each Warsaw day's counted messages and commission, so
the dashboard's series equals a fresh aggregate of items joined to messages without that join."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from billing.models import StatementDay, StatementItem
from billing.selectors import daily_series
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from billing.statuses import Status
from tests.factories import (
    AgreementFactory,
    AgreementTierFactory,
    ClientAccountFactory,
    MessageFactory,
    PartnerFactory,
    change_message,
)

pytestmark = pytest.mark.django_db
WARSAW = ZoneInfo("Europe/Warsaw")
OCT, NOV = date(2024, 10, 1), date(2024, 11, 1)
STATUSES = [Status.DELIVERED, Status.SENT, Status.UNDELIVERED, Status.UNSENT, Status.QUEUED]


def _partner_with_traffic(seed: int, messages: int):
    partner = PartnerFactory()
    agreement = AgreementFactory(partner=partner, valid_from=date(2024, 1, 1), rate_eco="0.0133")
    AgreementTierFactory(agreement=agreement, from_volume=7, rate_eco="0.0071", rate_full="0.0119")
    accounts = [ClientAccountFactory(partner=partner) for _ in range(2)]
    rng = random.Random(seed)
    # October in Warsaw runs from Sep 30 22:00 UTC; the DST change is on Oct 27 (01:00 UTC).
    start = datetime(2024, 9, 30, 21, 30, tzinfo=UTC)
    for _ in range(messages):
        when = start + timedelta(minutes=rng.randrange(0, 62 * 24 * 60))
        MessageFactory(
            account=rng.choice(accounts),
            created_at=when,
            dispatched_at=when,
            status=rng.choice(STATUSES),
            message_type=rng.choice(["eco", "full"]),
            parts=rng.randint(1, 3),
        )
    # around midnight in Warsaw on both sides of the DST change
    for when in (
        datetime(2024, 10, 26, 21, 59, 59, tzinfo=UTC),
        datetime(2024, 10, 26, 22, 0, tzinfo=UTC),
        datetime(2024, 10, 27, 22, 59, 59, tzinfo=UTC),
        datetime(2024, 10, 27, 23, 0, tzinfo=UTC),
    ):
        MessageFactory(account=accounts[0], created_at=when, dispatched_at=when, status="delivered")
    return partner


def _fresh(partner) -> dict[date, tuple[int, Decimal]]:
    rows = (
        StatementItem.objects.filter(statement__partner=partner)
        .annotate(day=TruncDate("message__billing_at", tzinfo=WARSAW))
        .values("day")
        .annotate(n=Count("id"), total=Sum("amount"))
        .order_by()
    )
    return {row["day"]: (row["n"], row["total"]) for row in rows}


def _kept(partner) -> dict[date, tuple[int, Decimal]]:
    rows = (
        StatementDay.objects.filter(statement__partner=partner)
        .values("day")
        .annotate(n=Sum("counted_messages"), total=Sum("commission"))
        .order_by()
    )
    return {row["day"]: (row["n"], row["total"]) for row in rows}


def test_days_sum_to_the_statement_and_equal_a_fresh_aggregate():
    alpha = _partner_with_traffic(1, 120)
    beta = _partner_with_traffic(2, 40)
    for partner in (alpha, beta):
        for period in (OCT, NOV):
            statement = build_statement(partner, period, actor="test").statement
            days = list(statement.days.all())
            assert sum(d.counted_messages for d in days) == statement.counted_messages > 0
            assert sum((d.commission for d in days), Decimal(0)) == statement.commission
            assert {d.day.replace(day=1) for d in days} == {period}
    for partner in (alpha, beta):
        assert _kept(partner) == _fresh(partner)
    assert date(2024, 10, 27) in _kept(alpha)
    assert _kept(alpha)[date(2024, 10, 28)][0] >= 2


def test_a_rebuild_replaces_the_days():
    partner = _partner_with_traffic(3, 30)
    build_statement(partner, OCT, actor="test")
    first = partner.messages.filter(status=Status.DELIVERED, billing_at__month=10).first()
    change_message(first, status=Status.UNSENT)  # (a test shortcut past the status path)
    build_statement(partner, OCT, actor="test")
    assert _kept(partner) == _fresh(partner)
    assert StatementDay.objects.filter(statement__partner=partner).count() == len(_fresh(partner))


def test_the_dashboard_series_reads_the_kept_days():
    alpha = _partner_with_traffic(4, 80)
    beta = _partner_with_traffic(5, 80)
    for partner in (alpha, beta):
        build_statement(partner, OCT, actor="test")
        build_statement(partner, NOV, actor="test")
    fresh = _fresh(alpha)
    series = daily_series(alpha, date(2024, 11, 30), days=70)
    assert len(series) == 70
    for point in series:
        n, total = fresh.get(point.day, (0, Decimal(0)))
        assert point.counted == n
        assert point.commission == total.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert sum(p.counted for p in series) == sum(n for n, _ in fresh.values())


def test_days_of_a_closed_statement_are_frozen():
    partner = _partner_with_traffic(6, 20)
    close_statement(partner, OCT, actor="test", now=datetime(2024, 11, 20, tzinfo=UTC))
    day = StatementDay.objects.filter(statement__partner=partner).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        StatementDay.objects.filter(pk=day.pk).update(counted_messages=0)
