"""Statements a billing clerk can invoice from: credits carried forward, VAT, numbers, payouts,
the closing mail, tiered forecasts and the billing month of a message refused at send time."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core import mail

from billing.models import AuditAction, AuditEntry, PayoutStatus, StaffRole
from billing.services.payouts import set_payout
from billing.services.statement_closing import close_statement
from billing.services.statements import StatementError, build_statement
from billing.statuses import Status
from tests.factories import (
    AgreementFactory,
    AgreementTierFactory,
    ClientAccountFactory,
    MessageFactory,
    PartnerFactory,
    PartnerStaffFactory,
    change_message,
)

pytestmark = pytest.mark.django_db
D = Decimal
OCT, NOV, DEC, JAN = date(2024, 10, 1), date(2024, 11, 1), date(2024, 12, 1), date(2025, 1, 1)
AFTER = {
    OCT: datetime(2024, 11, 10, tzinfo=UTC),
    NOV: datetime(2024, 12, 10, tzinfo=UTC),
    DEC: datetime(2025, 1, 10, tzinfo=UTC),
}


def send(account, when, status=Status.DELIVERED, **kwargs):
    return MessageFactory(
        account=account, created_at=when, dispatched_at=when, status=status, **kwargs
    )


@pytest.fixture
def account():
    partner = PartnerFactory(name="Zażółć Soft", ic=7070)
    AgreementFactory(
        partner=partner, valid_from=date(2024, 1, 1), basis="per_part", rate_eco="0.0105"
    )
    return ClientAccountFactory(partner=partner)


def test_a_correction_after_closing_never_pays_below_zero_and_carries_a_credit(account):
    partner = account.partner
    message = send(account, datetime(2024, 10, 5, tzinfo=UTC), parts=3)  # 3 x 0.0105 = 0.0315
    october = close_statement(partner, OCT, actor="op", now=AFTER[OCT]).statement
    assert october.total == D("0.03")
    change_message(message, parts=1)  # SerwerSMS corrects the parts: 0.0105, i.e. -0.021

    november = close_statement(partner, NOV, actor="op", now=AFTER[NOV]).statement
    assert november.adjustments_total == D("-0.021")
    assert november.total == D("0.00")  # never negative
    assert november.carried_forward == D("0.02")  # the -0.02 balance becomes a credit
    assert november.printed_adjustments + november.rounding + november.carried_forward == 0

    send(account, datetime(2024, 12, 3, tzinfo=UTC), parts=10)  # 0.105
    december = build_statement(partner, DEC, actor="op").statement
    assert december.opening_credit == D("-0.02")
    assert december.opening_credit_from == november  # the opening line names its source
    assert december.total == D("0.09")  # 0.105 - 0.02 = 0.085 -> 0.09 (half-up)
    close_statement(partner, DEC, actor="op", now=AFTER[DEC])

    # The credit is used once: January opens without it.
    january = build_statement(partner, JAN, actor="op").statement
    assert january.opening_credit == D("0") and january.opening_credit_from is None


def test_a_credit_lands_on_the_first_open_month_only(account):
    partner = account.partner
    message = send(account, datetime(2024, 10, 5, tzinfo=UTC), parts=3)
    close_statement(partner, OCT, actor="op", now=AFTER[OCT])
    change_message(message, parts=1)
    close_statement(partner, NOV, actor="op", now=AFTER[NOV])
    december = build_statement(partner, DEC, actor="op").statement
    january = build_statement(partner, JAN, actor="op").statement  # December is still open
    assert december.opening_credit == D("-0.02")
    assert january.opening_credit == D("0")


def test_statement_number_and_vat_give_net_vat_and_gross(account):
    partner = account.partner
    partner.vat_rate = D("23")
    partner.save()
    for day in range(1, 11):
        send(account, datetime(2024, 10, day, tzinfo=UTC), parts=100)  # 1.05 each
    statement = build_statement(partner, OCT, actor="op").statement
    assert statement.number == "PP/7070/2024/10"
    assert (statement.total, statement.vat, statement.gross) == (D("10.50"), D("2.42"), D("12.92"))
    assert statement.vat_rate == D("23")


def test_forecast_prices_pending_messages_at_the_tier_they_would_reach():
    partner = PartnerFactory()
    agreement = AgreementFactory(partner=partner, valid_from=date(2024, 1, 1), rate_eco="0.02")
    AgreementTierFactory(agreement=agreement, from_volume=2, rate_eco="0.01")
    account = ClientAccountFactory(partner=partner)
    send(account, datetime(2024, 10, 1, tzinfo=UTC))
    for day in (2, 3, 4):
        send(account, datetime(2024, 10, day, tzinfo=UTC), Status.QUEUED)
    statement = build_statement(partner, OCT, actor="op").statement
    # 1 counted; pending become the 2nd (0.02), 3rd and 4th (0.01 each) counted messages.
    assert statement.forecast_commission == D("0.04")


def test_a_message_refused_at_send_time_counts_as_unsent_in_its_submission_month(account):
    MessageFactory(
        account=account,
        status=Status.UNSENT,
        created_at=datetime(2024, 10, 31, 23, 30, tzinfo=UTC),  # 1 November 00:30 in Warsaw
        queued_at=None,
        dispatched_at=None,
    )
    assert build_statement(account.partner, OCT, actor="op").statement.unsent_messages == 0
    assert build_statement(account.partner, NOV, actor="op").statement.unsent_messages == 1


def test_operators_record_invoiced_then_paid_with_dates(account):
    partner = account.partner
    send(account, datetime(2024, 10, 5, tzinfo=UTC))
    draft = build_statement(partner, OCT, actor="op").statement
    with pytest.raises(StatementError, match="closed statement"):
        set_payout(draft, status=PayoutStatus.INVOICED, invoiced_on=date(2024, 11, 12), actor="op")
    closed = close_statement(partner, OCT, actor="op", now=AFTER[OCT]).statement
    with pytest.raises(StatementError, match="invoice date"):
        set_payout(closed, status=PayoutStatus.INVOICED, actor="op")
    set_payout(
        closed,
        status=PayoutStatus.INVOICED,
        invoiced_on=date(2024, 11, 12),
        invoice_number="FV/11/2024",
        actor="op",
    )
    with pytest.raises(StatementError, match="before the invoice"):
        set_payout(
            closed,
            status=PayoutStatus.PAID,
            invoiced_on=date(2024, 11, 12),
            paid_on=date(2024, 11, 1),
            actor="op",
        )
    payout = set_payout(
        closed,
        status=PayoutStatus.PAID,
        invoiced_on=date(2024, 11, 12),
        paid_on=date(2024, 11, 20),
        invoice_number="FV/11/2024",
        actor="op",
    )
    closed.refresh_from_db()
    assert closed.payout == payout and payout.paid_on == date(2024, 11, 20)
    assert closed.is_closed  # the statement itself did not change
    actions = list(AuditEntry.objects.filter(statement=closed).values_list("action", flat=True))
    assert actions.count(AuditAction.PAYOUT) == 2


def test_closing_mails_the_partners_billing_managers(account, django_capture_on_commit_callbacks):
    partner = account.partner
    PartnerStaffFactory(
        partner=partner, role=StaffRole.BILLING_MANAGER, user__email="billing@zazolc.example"
    )
    PartnerStaffFactory(partner=partner, role=StaffRole.VIEWER, user__email="viewer@zazolc.ex")
    PartnerStaffFactory(role=StaffRole.BILLING_MANAGER, user__email="other@partner.example")
    send(account, datetime(2024, 10, 5, tzinfo=UTC))
    with django_capture_on_commit_callbacks(execute=True):
        statement = close_statement(partner, OCT, actor="op", now=AFTER[OCT]).statement
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["billing@zazolc.example"]
    # Polish by default, with the Polish month name and the number.
    assert "PP/7070/2024/10" in sent.subject and "październik" in sent.subject.lower()
    assert f"/statements/{statement.pk}/" in sent.body
    assert AuditEntry.objects.filter(statement=statement, action=AuditAction.NOTIFY).exists()
