"""Properties of statements over random traffic (hypothesis), each example rolled back."""

from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.commission import round_total
from billing.models import CommissionBasis, Statement
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from billing.statuses import COUNTED, Status
from tests.factories import (
    AgreementFactory,
    AgreementTierFactory,
    ClientAccountFactory,
    MessageFactory,
    PartnerFactory,
    change_message,
)

pytestmark = pytest.mark.django_db
OCT = date(2024, 10, 1)
NOV = date(2024, 11, 1)
DEC = date(2024, 12, 1)
MONTH_START = datetime(2024, 9, 30, 22, 0, tzinfo=UTC)
AFTER_WINDOW = datetime(2024, 11, 10, tzinfo=UTC)
AFTER_NOV_WINDOW = datetime(2024, 12, 10, tzinfo=UTC)
PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

messages = st.lists(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(list(Status)),
            "parts": st.integers(1, 6),
            "cost": st.one_of(st.none(), st.decimals("0", "2", places=4)),
            "message_type": st.sampled_from(["eco", "full", "mms", "voice"]),
            "minutes": st.integers(0, 31 * 24 * 60 - 1),
            "account": st.integers(0, 2),
        }
    ),
    max_size=25,
)
bases = st.sampled_from([b.value for b in CommissionBasis])


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def make_traffic(basis, rows, tier):
    partner = PartnerFactory()
    agreement = AgreementFactory(partner=partner, valid_from=date(2024, 1, 1), basis=basis)
    if tier is not None:
        AgreementTierFactory(agreement=agreement, from_volume=tier)
    accounts = [ClientAccountFactory(partner=partner) for _ in range(3)]
    created = []
    for row in rows:
        when = MONTH_START + timedelta(minutes=row["minutes"])
        created.append(
            MessageFactory(
                account=accounts[row["account"]],
                status=row["status"],
                parts=row["parts"],
                cost=row["cost"],
                message_type=row["message_type"],
                created_at=when,
                dispatched_at=when,
            )
        )
    return partner, created


def snapshot(statement: Statement):
    lines = list(
        statement.lines.order_by("account_id", "message_type", "agreement_id").values_list(
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
    items = sorted(statement.items.values_list("message_id", "amount", "rate", "parts"))
    statement.refresh_from_db()
    totals = (
        statement.counted_messages,
        statement.commission,
        statement.forecast_commission,
        statement.total,
        statement.pending_messages,
        statement.unsent_messages,
    )
    return lines, items, totals


def assert_adds_up_as_printed(statement: Statement) -> None:
    """What a clerk adds up with a calculator equals the printed total, and the total is the
    half-up rounding of the exact sum (never below zero: the rest is a credit carried forward)."""
    statement.refresh_from_db()
    exact_lines = list(statement.lines.values_list("commission", flat=True))
    exact_adjustments = list(statement.adjustments.values_list("amount", flat=True))
    printed_lines = [round_total(v) for v in exact_lines]
    printed_adjustments = [round_total(v) for v in exact_adjustments]
    assert statement.printed_commission == sum(printed_lines, Decimal(0))
    assert statement.printed_adjustments == sum(printed_adjustments, Decimal(0))
    printed = (
        sum(printed_lines, Decimal(0))
        + sum(printed_adjustments, Decimal(0))
        + statement.opening_credit
        + statement.rounding
        + statement.carried_forward
    )
    assert printed == statement.total
    exact = sum(exact_lines, Decimal(0)) + sum(exact_adjustments, Decimal(0))
    balance = round_total(exact + statement.opening_credit)
    assert statement.total == max(balance, Decimal(0))
    assert statement.carried_forward == max(-balance, Decimal(0))


@PROPERTY_SETTINGS
@given(basis=bases, rows=messages, tier=st.one_of(st.none(), st.integers(0, 10)))
def test_unsent_is_never_billed_and_totals_add_up(basis, rows, tier):
    with rolled_back():
        partner, created = make_traffic(basis, rows, tier)
        statement = build_statement(partner, OCT, actor="t").statement
        unsent = {m.pk for m in created if m.status == Status.UNSENT}
        billed = set(statement.items.values_list("message_id", flat=True))
        assert not unsent & billed
        assert billed == {m.pk for m in created if m.status in COUNTED}
        line_sum = statement.lines.aggregate(s=Sum("commission"))["s"] or Decimal(0)
        item_sum = statement.items.aggregate(s=Sum("amount"))["s"] or Decimal(0)
        assert line_sum == item_sum == statement.commission
        assert statement.total == round_total(line_sum)
        assert statement.unsent_messages == len(unsent)
        assert_adds_up_as_printed(statement)


@PROPERTY_SETTINGS
@given(basis=bases, rows=messages, tier=st.one_of(st.none(), st.integers(0, 10)))
def test_rebuilding_a_draft_gives_the_same_result(basis, rows, tier):
    with rolled_back():
        partner, _ = make_traffic(basis, rows, tier)
        first = snapshot(build_statement(partner, OCT, actor="t").statement)
        second = snapshot(build_statement(partner, OCT, actor="t").statement)
        assert first == second


@PROPERTY_SETTINGS
@given(basis=bases, rows=messages)
def test_closing_twice_changes_nothing(basis, rows):
    with rolled_back():
        partner, _ = make_traffic(basis, rows, None)
        first = close_statement(partner, OCT, actor="a", now=AFTER_WINDOW).statement
        before = snapshot(first) + (first.checksum,)
        again = close_statement(partner, OCT, actor="b", now=AFTER_WINDOW)
        assert not again.changed
        assert snapshot(again.statement) + (again.statement.checksum,) == before


late_changes = st.lists(
    st.tuples(
        st.integers(0, 24),
        st.sampled_from([Status.SENT, Status.DELIVERED, Status.UNDELIVERED, Status.UNSENT]),
        st.integers(1, 6),
        st.one_of(st.none(), st.decimals("0", "2", places=4)),
    ),
    max_size=10,
)


@PROPERTY_SETTINGS
@given(basis=bases, rows=messages, changes=late_changes, rounds=st.integers(1, 2))
def test_adjustments_add_up_to_the_late_difference(basis, rows, changes, rounds):
    with rolled_back():
        partner, created = make_traffic(basis, rows, None)
        october = close_statement(partner, OCT, actor="op", now=AFTER_WINDOW).statement
        for index, status, parts, cost in changes:
            if created and index < len(created):
                message = created[index % len(created)]
                change_message(message, status=status, parts=parts, cost=cost)
        for _ in range(rounds):  # rebuilding must never double an adjustment
            november = build_statement(partner, NOV, actor="op").statement
        # What October would bill now, priced at the rates it was closed with.
        rebuilt = _october_as_if_built_now(partner)
        assert november.adjustments_total == rebuilt - october.commission
        october.refresh_from_db()
        assert october.is_closed
        assert_adds_up_as_printed(october)
        assert_adds_up_as_printed(november)  # corrections may make it negative: a credit
        if november.carried_forward:  # the credit opens December, once and in full
            november = close_statement(partner, NOV, actor="op", now=AFTER_NOV_WINDOW).statement
            december = build_statement(partner, DEC, actor="op").statement
            assert december.opening_credit == -november.carried_forward
            assert december.opening_credit_from == november
            assert_adds_up_as_printed(december)


def _october_as_if_built_now(partner):
    """October rebuilt from scratch in a throwaway partner copy (no tiers, so order-free)."""
    with transaction.atomic():
        sid = transaction.savepoint()
        copy = PartnerFactory()
        agreement = partner.agreements.get()
        agreement.pk, agreement.partner = None, copy
        agreement.save()
        account = ClientAccountFactory(partner=copy)
        for message in partner.messages.all():
            MessageFactory(
                account=account,
                status=message.status,
                parts=message.parts,
                cost=message.cost,
                message_type=message.message_type,
                created_at=message.created_at,
                dispatched_at=message.dispatched_at,
            )
        total = build_statement(copy, OCT, actor="t").statement.commission
        transaction.savepoint_rollback(sid)
    return total


@PROPERTY_SETTINGS
@given(
    basis=bases,
    rows=messages.filter(lambda rows: any(r["status"] in COUNTED for r in rows)),
    lost=st.lists(st.integers(0, 24), min_size=1, max_size=10),
    december_rows=st.lists(st.integers(0, 30 * 24 * 60), max_size=5),
)
def test_a_negative_month_carries_its_credit_to_the_next_open_month_once(
    basis, rows, lost, december_rows
):
    with rolled_back():
        partner, created = make_traffic(basis, rows, None)
        close_statement(partner, OCT, actor="op", now=AFTER_WINDOW)
        counted = [m for m in created if m.status in COUNTED]
        for index in lost:  # SerwerSMS takes back dispatches of a closed month: unsent now
            message = counted[index % len(counted)]
            change_message(message, status=Status.UNSENT)
        november = close_statement(partner, NOV, actor="op", now=AFTER_NOV_WINDOW).statement
        assert_adds_up_as_printed(november)
        assert november.total >= 0
        account = partner.accounts.first()
        for minutes in december_rows:
            when = datetime(2024, 11, 30, 23, tzinfo=UTC) + timedelta(minutes=minutes)
            MessageFactory(
                account=account, status=Status.DELIVERED, created_at=when, dispatched_at=when
            )
        december = build_statement(partner, DEC, actor="op").statement
        assert december.opening_credit == -november.carried_forward
        assert december.opening_credit_from == (november if november.carried_forward else None)
        assert_adds_up_as_printed(december)
        january = build_statement(partner, date(2025, 1, 1), actor="op").statement
        assert january.opening_credit == 0  # December is still open: the credit lands once
