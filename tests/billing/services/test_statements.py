"""Building, closing and adjusting monthly statements against the real database."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from billing.models import (
    Adjustment,
    AuditEntry,
    CommissionBasis,
    Statement,
    StatementItem,
    StatementLine,
)
from billing.services.agreements import create_agreement
from billing.services.statement_closing import close_statement, statement_checksum
from billing.services.statements import StatementError, build_statement, build_statements
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
D = Decimal
OCT = date(2024, 10, 1)
NOV = date(2024, 11, 1)
DEC = date(2024, 12, 1)
AFTER_OCT_WINDOW = datetime(2024, 11, 10, tzinfo=UTC)
AFTER_NOV_WINDOW = datetime(2024, 12, 10, tzinfo=UTC)


def send(account, when, status=Status.DELIVERED, **kwargs):
    return MessageFactory(
        account=account, created_at=when, dispatched_at=when, status=status, **kwargs
    )


@pytest.fixture
def account():
    partner = PartnerFactory(name="Zażółć Soft")
    AgreementFactory(partner=partner, valid_from=date(2024, 1, 1))  # eco 0.01, full 0.02
    return ClientAccountFactory(partner=partner)


def oct_day(day, hour=12):
    return datetime(2024, 10, day, hour, tzinfo=UTC)


def test_per_message_statement_hand_worked(account):
    for _ in range(3):
        send(account, oct_day(5), Status.DELIVERED)
    send(account, oct_day(6), Status.SENT, message_type="full", parts=2)
    send(account, oct_day(7), Status.UNDELIVERED)
    send(account, oct_day(7), Status.UNSENT)
    send(account, oct_day(8), Status.QUEUED)
    send(account, oct_day(8), Status.IN_PROGRESS)

    statement = build_statement(account.partner, OCT, actor="test").statement

    # 4 ECO x 0.01 + 1 FULL x 0.02 = 0.06 PLN; unsent earns nothing; pending is a forecast.
    assert statement.counted_messages == 5
    assert statement.counted_parts == 6
    assert statement.unsent_messages == 1
    assert statement.pending_messages == 2
    assert statement.commission == D("0.0600")
    assert statement.forecast_commission == D("0.0200")
    assert statement.total == D("0.06")
    eco = statement.lines.get(message_type="eco")
    assert (eco.counted_messages, eco.unsent_messages, eco.pending_messages) == (4, 1, 2)
    assert eco.commission == D("0.0400")
    assert statement.items.count() == 5


def test_per_part_statement_hand_worked():
    partner = PartnerFactory()
    AgreementFactory(
        partner=partner,
        valid_from=date(2024, 1, 1),
        basis=CommissionBasis.PER_PART,
        rate_eco="0.0070",
    )
    account = ClientAccountFactory(partner=partner)
    send(account, oct_day(1), parts=1)
    send(account, oct_day(2), parts=3)
    send(account, oct_day(3), Status.UNSENT, parts=4)
    statement = build_statement(partner, OCT, actor="test").statement
    # (1 + 3) parts x 0.007 = 0.028 -> total 0.03
    assert statement.commission == D("0.0280")
    assert statement.total == D("0.03")


def test_percent_of_cost_statement_hand_worked():
    partner = PartnerFactory()
    AgreementFactory(
        partner=partner,
        valid_from=date(2024, 1, 1),
        basis=CommissionBasis.PERCENT_OF_COST,
        rate_eco="10",
    )
    account = ClientAccountFactory(partner=partner)
    send(account, oct_day(1), cost=D("0.1650"))  # 10 % -> 0.0165
    send(account, oct_day(2), cost=D("0.3305"))  # 10 % -> 0.03305, kept exact
    statement = build_statement(partner, OCT, actor="test").statement
    assert sorted(statement.items.values_list("amount", flat=True)) == [D("0.0165"), D("0.03305")]
    assert statement.commission == D("0.04955")  # exact; rounded once, at the total
    assert statement.total == D("0.05")


def test_tiers_follow_the_months_counted_volume(account):
    agreement = account.partner.agreements.get()
    AgreementTierFactory(agreement=agreement, from_volume=3, rate_eco="0.0040")
    for day in range(1, 6):
        send(account, oct_day(day))
    send(account, oct_day(3, 13), Status.UNSENT)  # unsent does not move the volume
    statement = build_statement(account.partner, OCT, actor="test").statement
    amounts = list(
        statement.items.order_by("message__dispatched_at").values_list("amount", flat=True)
    )
    # First 3 at 0.01, the rest at 0.004: 0.03 + 0.008 = 0.038
    assert amounts == [D("0.0100")] * 3 + [D("0.0040")] * 2
    assert statement.commission == D("0.0380")


def test_billing_month_is_the_warsaw_month_of_the_dispatch_time(account):
    last_oct = send(account, datetime(2024, 10, 31, 22, 59, 59, tzinfo=UTC))
    first_nov = send(account, datetime(2024, 10, 31, 23, 0, 0, tzinfo=UTC))  # 00:00 CET 1 Nov
    dst_night = send(account, datetime(2024, 10, 27, 1, 30, tzinfo=UTC))  # the repeated hour
    first_oct = send(account, datetime(2024, 9, 30, 22, 0, tzinfo=UTC))  # 00:00 CEST 1 Oct
    last_sep = send(account, datetime(2024, 9, 30, 21, 59, 59, tzinfo=UTC))
    october = build_statement(account.partner, OCT, actor="t").statement
    november = build_statement(account.partner, NOV, actor="t").statement
    assert set(october.items.values_list("message_id", flat=True)) == {
        last_oct.pk,
        dst_night.pk,
        first_oct.pk,
    }
    assert set(november.items.values_list("message_id", flat=True)) == {first_nov.pk}
    assert not StatementItem.objects.filter(message=last_sep).exists()


def test_the_agreement_version_valid_at_dispatch_applies(account):
    partner = account.partner
    first = partner.agreements.get()
    first.valid_to = date(2024, 10, 15)
    first.save()
    second = AgreementFactory(
        partner=partner, version=2, valid_from=date(2024, 10, 16), rate_eco="0.0300"
    )
    send(account, datetime(2024, 10, 15, 21, 59, tzinfo=UTC))  # 23:59 on 15 Oct in Warsaw: v1
    send(account, datetime(2024, 10, 15, 22, 0, tzinfo=UTC))  # 00:00 on 16 Oct in Warsaw: v2
    statement = build_statement(partner, OCT, actor="t").statement
    lines = {line.agreement_id: line.commission for line in statement.lines.all()}
    assert lines == {first.pk: D("0.0100"), second.pk: D("0.0300")}


def test_rebuilding_a_draft_follows_new_statuses_and_keeps_no_stale_rows(account):
    pending = send(account, oct_day(3), Status.QUEUED)
    build_statement(account.partner, OCT, actor="t")
    change_message(pending, status=Status.DELIVERED)
    statement = build_statement(account.partner, OCT, actor="t").statement
    assert statement.counted_messages == 1
    assert statement.pending_messages == 0
    assert StatementLine.objects.filter(statement=statement).count() == 1
    assert Statement.objects.filter(partner=account.partner).count() == 1


def test_build_statements_for_every_partner(account):
    other = MessageFactory(dispatched_at=oct_day(4), status=Status.SENT)
    results = build_statements(OCT, actor="t")
    partners = {r.statement.partner_id for r in results}
    assert {account.partner_id, other.partner_id} <= partners


def test_close_is_refused_before_the_review_window(account, settings):
    settings.STATEMENT_REVIEW_WINDOW_DAYS = 3
    send(account, oct_day(3))
    build_statement(account.partner, OCT, actor="t")
    with pytest.raises(StatementError, match="cannot be closed yet"):
        close_statement(
            account.partner, OCT, actor="op", now=datetime(2024, 11, 3, 22, 59, tzinfo=UTC)
        )
    assert Statement.objects.get(partner=account.partner).status == "draft"
    result = close_statement(
        account.partner, OCT, actor="op", now=datetime(2024, 11, 3, 23, 0, tzinfo=UTC)
    )
    assert result.changed and result.statement.is_closed


def test_closing_freezes_with_checksum_and_audit(account):
    send(account, oct_day(3))
    statement = close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW).statement
    statement.refresh_from_db()
    assert statement.is_closed and statement.closed_by == "op"
    assert len(statement.checksum) == 64
    assert statement.checksum == statement_checksum(statement)
    actions = list(AuditEntry.objects.filter(statement=statement).values_list("action", "actor"))
    assert actions == [("build", "op"), ("close", "op")]


def test_closing_twice_changes_nothing(account):
    send(account, oct_day(3))
    first = close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW).statement
    send(account, oct_day(4))  # even with new traffic, the closed month stays as it was
    second = close_statement(account.partner, OCT, actor="someone", now=AFTER_OCT_WINDOW)
    assert not second.changed
    second.statement.refresh_from_db()
    assert (second.statement.checksum, second.statement.closed_by, second.statement.total) == (
        first.checksum,
        "op",
        first.total,
    )
    assert build_statement(account.partner, OCT, actor="t").skipped_closed
    assert second.statement.items.count() == 1


def test_closed_statement_refuses_model_save_and_delete(account):
    send(account, oct_day(3))
    statement = close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW).statement
    line = statement.lines.get()
    item = statement.items.get()
    statement.total = D("999")
    # The one guard is the database's: every writer, the models' save() and delete() included.
    with pytest.raises(IntegrityError), transaction.atomic():
        statement.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        statement.delete()
    line.commission = D("5")
    with pytest.raises(IntegrityError), transaction.atomic():
        line.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        StatementLine(statement=statement, account=account, message_type="eco").save()
    with pytest.raises(IntegrityError), transaction.atomic():
        item.delete()
    statement.refresh_from_db()
    assert statement.total != D("999") and statement.checksum == statement_checksum(statement)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE billing_statement SET total = 999 WHERE id = {statement}",
        "UPDATE billing_statement SET status = 'draft' WHERE id = {statement}",
        "DELETE FROM billing_statement WHERE id = {statement}",
        "UPDATE billing_statementline SET commission = 5 WHERE statement_id = {statement}",
        "DELETE FROM billing_statementline WHERE statement_id = {statement}",
        "UPDATE billing_statementitem SET amount = 5 WHERE statement_id = {statement}",
        "DELETE FROM billing_statementitem WHERE statement_id = {statement}",
        "INSERT INTO billing_statementline (statement_id, account_id, message_type, "
        "counted_messages, counted_parts, pending_messages, unsent_messages, commission) "
        "VALUES ({statement}, {account}, 'mms', 1, 1, 0, 0, 1)",
        "UPDATE billing_statementitem SET statement_id = {statement} WHERE statement_id = {draft}",
    ],
)
def test_closed_statement_refuses_raw_sql(account, sql):
    send(account, oct_day(3))
    send(account, datetime(2024, 11, 5, tzinfo=UTC))
    closed = close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW).statement
    draft = build_statement(account.partner, NOV, actor="t").statement
    before = statement_checksum(closed)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.format(statement=closed.pk, account=account.pk, draft=draft.pk))
    closed.refresh_from_db()
    assert closed.is_closed and statement_checksum(closed) == before == closed.checksum


def test_closed_statement_refuses_new_adjustment_rows_in_sql(account):
    message = send(account, oct_day(3))
    closed = close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW).statement
    with pytest.raises(IntegrityError), transaction.atomic():
        Adjustment.objects.bulk_create(
            [
                Adjustment(
                    statement=closed,
                    message=message,
                    original_period=OCT,
                    old_status="sent",
                    new_status="sent",
                    old_amount=0,
                    new_amount=0,
                    amount=0,
                )
            ]
        )
    assert not closed.adjustments.exists()


def test_a_late_status_becomes_an_adjustment_on_the_next_open_statement(account):
    late = send(account, oct_day(30), Status.QUEUED)
    send(account, oct_day(2))
    october = close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW).statement
    assert october.pending_messages == 1 and october.commission == D("0.0100")

    change_message(late, status=Status.DELIVERED)
    send(account, datetime(2024, 11, 5, tzinfo=UTC))
    november = build_statement(account.partner, NOV, actor="op").statement
    adjustment = november.adjustments.get()
    assert (adjustment.message_id, adjustment.original_period) == (late.pk, OCT)
    assert (adjustment.old_status, adjustment.new_status) == ("pending", "delivered")
    assert adjustment.amount == D("0.0100")
    assert november.commission == D("0.0100")
    assert november.adjustments_total == D("0.0100")
    assert november.total == D("0.02")
    assert AuditEntry.objects.filter(statement=november, action="adjust").exists()

    # The closed month is unchanged; rebuilding November does not double the adjustment.
    october.refresh_from_db()
    assert october.commission == D("0.0100") and october.items.count() == 1
    november = build_statement(account.partner, NOV, actor="op").statement
    assert november.adjustments.count() == 1 and november.adjustments_total == D("0.0100")

    # Once November is closed, December carries nothing more for October.
    close_statement(account.partner, NOV, actor="op", now=AFTER_NOV_WINDOW)
    december = build_statement(account.partner, DEC, actor="op").statement
    assert not december.adjustments.exists()


def test_a_parts_correction_of_a_billed_message_is_adjusted_by_the_difference():
    partner = PartnerFactory()
    AgreementFactory(
        partner=partner,
        valid_from=date(2024, 1, 1),
        basis=CommissionBasis.PER_PART,
        rate_eco="0.0100",
    )
    account = ClientAccountFactory(partner=partner)
    message = send(account, oct_day(3), Status.SENT, parts=2)
    close_statement(partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    change_message(message, status=Status.DELIVERED, parts=3)
    adjustment = build_statement(partner, NOV, actor="op").statement.adjustments.get()
    assert (adjustment.old_amount, adjustment.new_amount, adjustment.amount) == (
        D("0.0200"),
        D("0.0300"),
        D("0.0100"),
    )
    assert adjustment.old_status == "sent"


def test_adjustments_land_on_the_earliest_open_month_only(account):
    late = send(account, oct_day(30), Status.QUEUED)
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    change_message(late, status=Status.SENT)
    november = build_statement(account.partner, NOV, actor="op").statement  # still a draft
    december = build_statement(account.partner, DEC, actor="op").statement
    assert november.adjustments.count() == 1
    assert not december.adjustments.exists()


def test_agreement_service_refuses_overlaps_with_a_clear_error():
    partner = PartnerFactory()
    first = create_agreement(
        partner,
        valid_from=date(2024, 1, 1),
        valid_to=date(2024, 6, 30),
        basis="per_message",
        rates={"eco": "0.01"},
        tiers=[(10_000, {"eco": "0.005"})],
        actor="op",
    )
    second = create_agreement(
        partner,
        valid_from=date(2024, 7, 1),
        valid_to=None,
        basis="per_part",
        rates={"eco": "0.02"},
        actor="op",
    )
    assert (first.version, second.version) == (1, 2)
    assert first.tiers.get().rate_eco == D("0.0050")
    with pytest.raises(ValidationError, match="overlaps agreement version 2"):
        create_agreement(
            partner,
            valid_from=date(2025, 1, 1),
            valid_to=None,
            basis="per_message",
            rates={"eco": "0.01"},
            actor="op",
        )
    with pytest.raises(ValidationError, match="negative"):
        create_agreement(
            partner,
            valid_from=date(2020, 1, 1),
            valid_to=date(2020, 2, 1),
            basis="per_message",
            rates={"eco": "-1"},
            actor="op",
        )
    assert partner.agreements.count() == 2
    assert AuditEntry.objects.filter(partner=partner, action="agreement_create").count() == 2


def test_statement_totals_match_lines_and_items(account):
    for day, parts in [(1, 1), (2, 2), (3, 3)]:
        send(account, oct_day(day), parts=parts, message_type="mms")
    statement = build_statement(account.partner, OCT, actor="t").statement
    line_sum = statement.lines.aggregate(s=Sum("commission"))["s"]
    item_sum = statement.items.aggregate(s=Sum("amount"))["s"]
    assert line_sum == item_sum == statement.commission == D("0.1500")


def test_messages_billed_on_a_closed_statement_are_not_billed_again(account):
    message = send(account, oct_day(31, 12))
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    # A corrected sent time moves the dispatch into November: still billed once.
    change_message(message, dispatched_at=message.dispatched_at + timedelta(days=2))
    november = build_statement(account.partner, NOV, actor="t").statement
    assert not november.items.exists()
