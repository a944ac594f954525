"""The billing month has one rule (commission.billing_month of commission.billing_instant) and one
SQL form (the generated Message.billing_at column): they agree at Warsaw's month and daylight
saving edges."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import DateField
from django.db.models.functions import TruncMonth

from billing.commission import BILLING_ZONE, billing_instant, billing_month
from billing.models import Message
from billing.statuses import Status
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

EDGES = [
    datetime(2024, 10, 31, 22, 59, 59, 999_999, tzinfo=UTC),  # 31 Oct 23:59:59 CET
    datetime(2024, 10, 31, 23, 0, tzinfo=UTC),  # 1 Nov 00:00 CET
    datetime(2024, 10, 27, 0, 59, 59, tzinfo=UTC),  # 02:59:59 CEST, the hour before CET
    datetime(2024, 10, 27, 1, 0, tzinfo=UTC),  # 02:00 CET, the hour again
    datetime(2025, 3, 31, 21, 59, 59, tzinfo=UTC),  # 31 Mar 23:59:59 CEST
    datetime(2025, 3, 31, 22, 0, tzinfo=UTC),  # 1 Apr 00:00 CEST
]


def test_billing_at_and_commission_agree_on_the_month():
    made = []
    for instant in EDGES:
        # dispatched at the edge; never dispatched, created at the edge
        made.append(
            MessageFactory(
                status=Status.SENT, created_at=instant - timedelta(hours=3), dispatched_at=instant
            )
        )
        made.append(MessageFactory(status=Status.UNSENT, created_at=instant, dispatched_at=None))
    month = TruncMonth("billing_at", output_field=DateField(), tzinfo=BILLING_ZONE)
    in_sql = dict(Message.objects.annotate(month=month).values_list("pk", "month"))
    for message in made:
        rule = billing_month(billing_instant(message.dispatched_at, message.created_at))
        assert in_sql[message.pk] == rule, message
        assert Message.objects.in_billing_month(rule).filter(pk=message.pk).exists()
    assert {value.month for value in in_sql.values()} == {10, 11, 3, 4}
