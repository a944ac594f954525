"""The month priced in SQL: a rebuild, which rewrites only the items that differ, gives the
statement a build from nothing gives (tiers, agreement versions, the DST night, pending, unsent,
messages billed on a closed month)."""

from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import CommissionBasis, Message, Statement, StatementItem
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

# These tests change messages of open months with plain queryset updates (the build must follow
# any change), so the daily rollups (kept by services/derived.py) are not checked after them; a
# change of a closed month goes through change_message, which queues it like every writer.
pytestmark = [pytest.mark.django_db, pytest.mark.rollups_unchecked]
D = Decimal
SEP, OCT = date(2024, 9, 1), date(2024, 10, 1)
OCT_START = datetime(2024, 9, 30, 22, 0, tzinfo=UTC)  # 1 October 00:00 in Warsaw (CEST)
OCT_END = datetime(2024, 10, 31, 23, 0, tzinfo=UTC)  # 1 November 00:00 in Warsaw (CET)
DST_NIGHT = datetime(2024, 10, 27, 1, 0, tzinfo=UTC)  # 03:00 CEST becomes 02:00 CET


def snapshot(statement: Statement):
    """Everything a build writes: items (by message: a rebuild in SQL keeps the ids of items
    that did not change), lines, days, adjustments and totals."""
    statement.refresh_from_db()
    items = list(
        statement.items.order_by("message_id").values_list(
            "message_id", "agreement_id", "status", "parts", "rate", "cost", "amount"
        )
    )
    lines = list(
        statement.lines.order_by("id").values_list(
            "account_id",
            "message_type",
            "agreement_id",
            "counted_messages",
            "counted_parts",
            "pending_messages",
            "unsent_messages",
            "commission",
        )
    )
    days = list(statement.days.order_by("id").values_list("day", "counted_messages", "commission"))
    adjustments = list(
        statement.adjustments.order_by("id").values_list(
            "message_id", "original_period", "old_status", "new_status", "amount", "reason"
        )
    )
    totals = {
        f.name: getattr(statement, f.name)
        for f in Statement._meta.concrete_fields
        if f.name not in ("id", "built_at")
    }
    return {"items": items, "lines": lines, "days": days, "adj": adjustments, "totals": totals}


def both_paths(partner, period=OCT):
    """A build (from nothing, or rewriting only what differs), then a build from nothing."""
    rebuilt = build_statement(partner, period, actor="t").statement
    sql = snapshot(rebuilt)
    StatementItem.objects.filter(statement=rebuilt).delete()
    python = snapshot(build_statement(partner, period, actor="t").statement)
    return python, sql


def test_new_items_are_written_in_billing_order():
    partner = PartnerFactory()
    AgreementFactory(partner=partner, valid_from=date(2024, 1, 1))
    account = ClientAccountFactory(partner=partner)
    later = at(OCT_START + timedelta(days=9), account)
    earlier = at(OCT_START + timedelta(days=1), account)
    statement = build_statement(partner, OCT, actor="t").statement
    assert list(statement.items.order_by("id").values_list("message_id", flat=True)) == [
        earlier.pk,
        later.pk,
    ]


def at(when, account, status=Status.DELIVERED, **kwargs):
    return MessageFactory(
        account=account, created_at=when, dispatched_at=when, status=status, **kwargs
    )


def test_hand_made_month_is_the_same_rebuilt_and_from_nothing():
    """Tiers crossed inside the month, a new agreement version (another basis) mid-month, NULL
    costs, the DST night, the month's first and last instants, ties in billing time, pending,
    unsent, and a message billed on a closed September that moved into October."""
    partner = PartnerFactory()
    first = AgreementFactory(
        partner=partner,
        valid_from=date(2024, 1, 1),
        valid_to=date(2024, 10, 15),
        basis=CommissionBasis.PER_PART,
        rate_eco="0.0100",
    )
    AgreementTierFactory(agreement=first, from_volume=3, rate_eco="0.0070")
    AgreementTierFactory(agreement=first, from_volume=5, rate_eco="0.0050")
    second = AgreementFactory(
        partner=partner,
        version=2,
        valid_from=date(2024, 10, 16),
        basis=CommissionBasis.PERCENT_OF_COST,
        rate_eco="7.5",
        rate_full="12.345678",
    )
    AgreementTierFactory(agreement=second, from_volume=8, rate_eco="5", rate_full="10")
    account, other = ClientAccountFactory(partner=partner), ClientAccountFactory(partner=partner)

    moved = at(datetime(2024, 9, 20, tzinfo=UTC), account)
    close_statement(partner, SEP, actor="op", now=datetime(2024, 10, 10, tzinfo=UTC))
    # Corrected: it was October after all (queued for closed September, as any writer does).
    change_message(moved, dispatched_at=OCT_START + timedelta(days=3))

    at(OCT_START, account, parts=2)
    at(OCT_START, other, parts=3, message_type="full")  # the same instant: id decides
    at(OCT_START + timedelta(days=1), other)  # the 3rd and 4th at one instant: the tier
    at(OCT_START + timedelta(days=1), account)  # starts between them, by id
    for day in range(2, 15):
        at(OCT_START + timedelta(days=day, hours=day), account, parts=1 + day % 3)
    at(OCT_START + timedelta(days=5), account, Status.UNSENT)
    at(OCT_START + timedelta(days=6), other, Status.UNDELIVERED, message_type="mms")
    at(DST_NIGHT - timedelta(minutes=30), account, cost=D("0.0650"))
    at(DST_NIGHT + timedelta(minutes=30), other, cost=D("0.0650"), message_type="full")
    at(DST_NIGHT + timedelta(hours=22), account, cost=None)  # 28 October 00:00 CET
    at(DST_NIGHT + timedelta(hours=22, microseconds=-1), other, cost=D("0.0001"))  # 27th
    at(DST_NIGHT - timedelta(hours=3, minutes=1), account, cost=D("0.1234"))  # 26th, 23:59
    for day in range(16, 31):
        at(OCT_START + timedelta(days=day, minutes=day), account, cost=D("0.0651"))
        at(OCT_START + timedelta(days=day, minutes=day), other, Status.SENT, cost=D("0.16"))
    at(OCT_END - timedelta(microseconds=1), other, cost=D("0.3333"), message_type="full")
    at(OCT_END, account)  # November already
    at(OCT_END - timedelta(hours=3), account, Status.QUEUED, cost=D("1.0000"))
    at(OCT_END - timedelta(hours=2), other, Status.IN_PROGRESS, cost=None)
    at(OCT_START + timedelta(days=10), account, Status.SUBMITTING, message_type="full")

    python, sql = both_paths(partner)
    assert sql == python
    october = Statement.objects.get(partner=partner, period=OCT)
    assert moved.pk not in set(october.items.values_list("message_id", flat=True))
    assert len(python["items"]) == october.counted_messages == 54
    assert {a for _, a, *_ in python["items"]} == {first.pk, second.pk}
    assert len({rate for *_, rate, _, _ in python["items"]}) >= 5  # every tier was reached
    days = {day for day, _, _ in python["days"]}
    assert {date(2024, 10, 26), date(2024, 10, 27), date(2024, 10, 28)} <= days
    assert october.pending_messages == 3 and october.unsent_messages == 1
    assert october.forecast_commission > 0

    # A rebuild in SQL rewrites only what differs: new messages ahead of others (their tiers
    # shift), statuses, parts and costs changed, a message leaving the month.
    messages = list(Message.objects.filter(partner=partner).order_by("billing_at", "id"))
    at(OCT_START + timedelta(hours=1), account, parts=4)
    at(OCT_START + timedelta(days=16, hours=1), other, message_type="full", cost=D("0.5"))
    Message.objects.filter(pk=messages[3].pk).update(status=Status.UNSENT)
    Message.objects.filter(pk=messages[10].pk).update(parts=6, status=Status.UNDELIVERED)
    Message.objects.filter(pk=messages[40].pk).update(cost=None)
    Message.objects.filter(pk=messages[45].pk).update(dispatched_at=OCT_END + timedelta(days=1))
    python, sql = both_paths(partner)
    assert sql == python
    assert messages[45].pk not in {m for m, *_ in python["items"]}


def test_a_month_with_no_agreement_is_the_same_rebuilt_and_from_nothing():
    partner = PartnerFactory()
    account = ClientAccountFactory(partner=partner)
    for hour in range(5):
        at(OCT_START + timedelta(hours=hour), account, parts=hour + 1)
    at(OCT_START + timedelta(hours=6), account, Status.QUEUED)
    python, sql = both_paths(partner)
    assert sql == python
    assert python["totals"]["commission"] == 0 and python["lines"][0][2] is None


def test_an_empty_month_is_the_same_rebuilt_and_from_nothing():
    partner = PartnerFactory()
    AgreementFactory(partner=partner, valid_from=date(2024, 1, 1))
    python, sql = both_paths(partner)
    assert sql == python
    assert python["items"] == python["lines"] == python["days"] == []


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


traffic = st.lists(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(list(Status)),
            "parts": st.integers(1, 6),
            "cost": st.one_of(st.none(), st.decimals("0", "2", places=4)),
            "message_type": st.sampled_from(["eco", "full", "mms", "voice"]),
            # Around the DST night more often: that is where the days can go wrong.
            "minutes": st.one_of(
                st.integers(0, 31 * 24 * 60 - 1), st.integers(37 * 60, 39 * 60 + 60 * 24 * 26)
            ),
            "same_as_previous": st.booleans(),
            "account": st.integers(0, 1),
        }
    ),
    max_size=40,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    basis=st.sampled_from([b.value for b in CommissionBasis]),
    second_basis=st.sampled_from([b.value for b in CommissionBasis]),
    switch_day=st.one_of(st.none(), st.integers(2, 30)),
    tiers=st.lists(st.integers(0, 30), max_size=3, unique=True),
    rows=traffic,
)
def test_random_months_are_the_same_on_both_paths(basis, second_basis, switch_day, tiers, rows):
    with rolled_back():
        partner = PartnerFactory()
        first = AgreementFactory(
            partner=partner,
            valid_from=date(2024, 1, 1),
            valid_to=date(2024, 10, switch_day - 1) if switch_day else None,
            basis=basis,
            rate_full="0.123457",
        )
        for index, volume in enumerate(sorted(tiers)):
            AgreementTierFactory(
                agreement=first, from_volume=volume, rate_eco=D("0.0090") - index * D("0.001")
            )
        if switch_day:
            second = AgreementFactory(
                partner=partner,
                version=2,
                valid_from=date(2024, 10, switch_day),
                basis=second_basis,
                rate_eco="3.333333",
            )
            AgreementTierFactory(agreement=second, from_volume=5, rate_eco="2.5")
        accounts = [ClientAccountFactory(partner=partner) for _ in range(2)]
        when = OCT_START
        for row in rows:
            if not row["same_as_previous"]:
                when = OCT_START + timedelta(minutes=row["minutes"])
            at(
                when,
                accounts[row["account"]],
                row["status"],
                parts=row["parts"],
                cost=row["cost"],
                message_type=row["message_type"],
            )
        python, sql = both_paths(partner)
        assert sql == python
        # Then a rebuild over the items the Python path wrote: every other message changes.
        for message in Message.objects.filter(partner=partner)[::2]:
            message.status = Status.DELIVERED if message.status != Status.DELIVERED else "unsent"
            message.parts = message.parts % 6 + 1
            message.save()
        python, sql = both_paths(partner)
        assert sql == python
