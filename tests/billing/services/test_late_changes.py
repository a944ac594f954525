"""The late-change queue: written by services/derived.py in the changing transaction, read by
drafts.

A message that changes (status, parts, cost, billing time) or appears while its old or new
billing month has a closed statement is queued for that month, whatever writer changed it (the
status path, the ic proof, message creation, the tests' change_message shortcut); the next
draft's adjustments come from the queue (and earlier adjustments) only.
"""

import importlib
import re
import types
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.apps import apps
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext

from billing.commission import BILLING_ZONE
from billing.models import EventSource, LateChange, Message, Statement, StatementStatus
from billing.services.ic_proof import confirm_reported_messages
from billing.services.reporting import Reported, record_reported_messages
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from billing.services.status_updates import StatusChange, apply_reports, apply_status_changes
from billing.serwersms.types import ReportItem
from billing.statuses import COUNTED, Status
from tests.factories import (
    AgreementFactory,
    ClientAccountFactory,
    MessageFactory,
    PartnerFactory,
    change_message,
)

pytestmark = pytest.mark.django_db
D = Decimal
SEP, OCT, NOV = date(2024, 9, 1), date(2024, 10, 1), date(2024, 11, 1)
AFTER_SEP_WINDOW = datetime(2024, 10, 10, tzinfo=UTC)
AFTER_OCT_WINDOW = datetime(2024, 11, 10, tzinfo=UTC)
migration = importlib.import_module("billing.migrations.0010_stmt_late_changes")


def oct_day(day, hour=12):
    return datetime(2024, 10, day, hour, tzinfo=UTC)


def send(account, when, status=Status.DELIVERED, **kwargs):
    return MessageFactory(
        account=account, created_at=when, dispatched_at=when, status=status, **kwargs
    )


def report(message, status, **extra):
    return StatusChange(
        message.pk,
        ReportItem(serwersms_id=message.serwersms_id, phone=message.phone, status=status, **extra),
    )


def queued(partner):
    return sorted(LateChange.objects.filter(partner=partner).values_list("message_id", "period"))


@pytest.fixture
def account():
    partner = PartnerFactory()
    AgreementFactory(partner=partner, valid_from=date(2024, 1, 1))  # eco 0.01, full 0.02
    return ClientAccountFactory(partner=partner)


def test_a_late_status_lands_on_the_next_draft_through_the_queue(account):
    late = send(account, oct_day(31, 20), Status.QUEUED)
    send(account, oct_day(2))
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    assert queued(account.partner) == []

    apply_status_changes(
        [report(late, "delivered", sent_at=oct_day(31, 20), delivered_at=oct_day(31, 21))],
        EventSource.POLL,
        now=oct_day(31, 22),
    )
    assert queued(account.partner) == [(late.pk, OCT)]
    november = build_statement(account.partner, NOV, actor="op").statement
    adjustment = november.adjustments.get()
    assert (adjustment.message_id, adjustment.original_period) == (late.pk, OCT)
    assert (adjustment.old_status, adjustment.new_status, adjustment.amount) == (
        "pending",
        "delivered",
        D("0.0100"),
    )
    assert adjustment.reason == "counted after 2024-10 was closed"


def test_a_message_moving_into_a_closed_month_is_queued_for_it(account):
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    moving = send(account, datetime(2024, 11, 2, tzinfo=UTC))
    assert build_statement(account.partner, NOV, actor="op").statement.counted_messages == 1
    assert queued(account.partner) == []
    # A corrected dispatch time (23:30 in Warsaw on 31 October), by a shortcut past the status
    # path (through services/derived.py, like every writer).
    change_message(moving, dispatched_at=oct_day(31, 22) + timedelta(hours=0.5))
    assert queued(account.partner) == [(moving.pk, OCT)]

    november = build_statement(account.partner, NOV, actor="op").statement
    assert november.counted_messages == 0 and not november.items.exists()
    adjustment = november.adjustments.get()
    assert (adjustment.message_id, adjustment.original_period, adjustment.amount) == (
        moving.pk,
        OCT,
        D("0.0100"),
    )


def test_a_reported_message_serwersms_places_in_a_closed_month_is_queued(account, settings):
    """Recorded pending in the month of its recording; SerwerSMS's report places it in closed
    October (queued); SerwerSMS's partner billing confirming it makes the adjustment."""
    settings.API_REPORTED_MAX_AGE_DAYS = 60
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    results = record_reported_messages(
        account=account,
        items=[
            Reported(
                serwersms_id="old-1",
                phone="+48500600701",
                ic=account.partner.ic,
                sent_at=oct_day(20),
                message_type="full",
                status=Status.DELIVERED,
            )
        ],
        now=AFTER_OCT_WINDOW,
    )
    message = Message.objects.get(pk=results[0].message_id)
    assert (message.status, message.claimed_status) == (Status.QUEUED, "delivered")
    assert queued(account.partner) == []  # pending in November: no closed month touched
    report = ReportItem(
        serwersms_id="old-1",
        phone="+48500600701",
        status="delivered",
        queued_at=oct_day(20),
        sent_at=oct_day(20),
        delivered_at=oct_day(20),
        message_type="full",
        parts=1,
    )
    apply_reports(account, [report], EventSource.POLL, now=AFTER_OCT_WINDOW)
    assert queued(account.partner) == [(message.pk, OCT)]
    november = build_statement(account.partner, NOV, actor="op").statement
    assert not november.adjustments.exists()  # its ic is not confirmed yet
    confirm_reported_messages(
        confirmed_ids=[message.pk], refuted_ids=[], actor="op", now=AFTER_OCT_WINDOW
    )
    november = build_statement(account.partner, NOV, actor="op").statement
    adjustment = november.adjustments.get()
    assert (adjustment.message_id, adjustment.new_status, adjustment.amount) == (
        message.pk,
        "delivered",
        D("0.0200"),
    )


def test_a_message_changing_twice_is_queued_once_and_adjusted_once(account):
    message = send(account, oct_day(31, 20), Status.QUEUED, parts=1)
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    apply_status_changes(
        [report(message, "sent", sent_at=oct_day(31, 20))], EventSource.POLL, now=oct_day(31, 21)
    )
    apply_status_changes(
        [report(message, "undelivered", delivered_at=oct_day(31, 21), parts=2)],
        EventSource.CALLBACK,
        now=oct_day(31, 22),
    )
    assert queued(account.partner) == [(message.pk, OCT)]
    november = build_statement(account.partner, NOV, actor="op").statement
    adjustment = november.adjustments.get()
    assert (adjustment.old_status, adjustment.new_status, adjustment.amount) == (
        "pending",
        "undelivered",
        D("0.0100"),
    )
    assert build_statement(account.partner, NOV, actor="op").statement.adjustments.count() == 1


def test_another_partners_queue_and_statement_are_untouched(account):
    other = ClientAccountFactory(partner=PartnerFactory())
    AgreementFactory(partner=other.partner, valid_from=date(2024, 1, 1))
    mine = send(account, oct_day(3), Status.SENT)
    theirs = send(other, oct_day(3), Status.SENT)
    for partner in (account.partner, other.partner):
        close_statement(partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    change_message(mine, status=Status.UNSENT)
    assert queued(account.partner) == [(mine.pk, OCT)]
    assert queued(other.partner) == []
    assert build_statement(account.partner, NOV, actor="op").statement.adjustments_total == D(
        "-0.0100"
    )
    assert not build_statement(other.partner, NOV, actor="op").statement.adjustments.exists()
    theirs.refresh_from_db()
    assert theirs.status == Status.SENT


def test_only_real_changes_of_closed_months_are_queued(account):
    billed = send(account, oct_day(5), Status.SENT)
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    open_month = send(account, datetime(2024, 11, 5, tzinfo=UTC), Status.QUEUED)
    # The same status again (only last_checked_at moves), a reason, a delivery time: no change
    # the statement could see.
    apply_status_changes([report(billed, "sent")], EventSource.POLL, now=oct_day(6))
    billed.refresh_from_db()
    change_message(billed, reason="x", delivered_at=oct_day(6))
    # A real change, but in a month that is still open.
    apply_status_changes(
        [report(open_month, "delivered", sent_at=datetime(2024, 11, 5, 0, 5, tzinfo=UTC))],
        EventSource.POLL,
        now=datetime(2024, 11, 5, 1, tzinfo=UTC),
    )
    assert queued(account.partner) == []
    change_message(billed, cost=D("0.0650"))
    assert queued(account.partner) == [(billed.pk, OCT)]


def _reads_beyond(captured, draft):
    """Queries touching the items table other than for the draft's own items."""
    result = []
    for query in captured:
        sql = query["sql"]
        if "billing_statementitem" not in sql or sql.startswith('INSERT INTO "billing_st'):
            continue  # a bulk insert of the draft's items reads nothing
        named = set(re.findall(r'statement_id"?\s*=\s*(\d+)', sql))
        if named - {str(draft.pk)} or "'closed'" in sql or not named:
            result.append(sql)
    return result


def test_a_rebuild_reads_no_closed_items_when_the_queue_is_empty(account):
    for period, now in ((SEP, AFTER_SEP_WINDOW), (OCT, AFTER_OCT_WINDOW)):
        for day in (3, 4, 5):
            changed = send(account, datetime(period.year, period.month, day, tzinfo=UTC))
        close_statement(account.partner, period, actor="op", now=now)
    send(account, datetime(2024, 11, 3, tzinfo=UTC))
    draft = build_statement(account.partner, NOV, actor="op").statement

    with CaptureQueriesContext(connection) as captured:
        build_statement(account.partner, NOV, actor="op")
    # Only the draft's own items are written; nothing reads another statement's items.
    assert any("billing_statementitem" in q["sql"] for q in captured)
    assert _reads_beyond(captured, draft) == []

    # One queued message (billed in October): only its item is read, by its id.
    change_message(changed, status=Status.UNDELIVERED)
    with CaptureQueriesContext(connection) as captured:
        november = build_statement(account.partner, NOV, actor="op").statement
    reads = _reads_beyond(captured, draft)
    assert reads and all(f"IN ({changed.pk})" in sql for sql in reads)
    assert november.adjustments.count() == 0  # sent -> undelivered: still counted, same amount


def _other_connection():
    database = connection.settings_dict
    return psycopg.connect(
        dbname=database["NAME"],
        user=database["USER"],
        password=database["PASSWORD"] or None,
        host=database["HOST"] or None,
        port=database["PORT"] or None,
    )


def test_a_change_while_its_month_is_being_closed_is_queued(account):
    """PostgreSQL: the closing holds the month's exclusive lock; a change meanwhile cannot see
    whether the month will be closed, so it queues itself (the build re-checks exactly)."""
    # Written in November (this transaction now holds November's shared lock, not October's).
    message = send(account, datetime(2024, 11, 2, tzinfo=UTC), Status.SENT)
    build_statement(account.partner, OCT, actor="op")  # October: a draft, not closed

    closing = _other_connection()
    try:
        with closing.cursor() as cursor:  # what close_statement takes before it builds
            cursor.execute(
                "SELECT pg_advisory_xact_lock(billing_month_lock_key(%s, %s))",
                [account.partner.pk, OCT],
            )
        # Meanwhile its dispatch time is corrected into October: the change does not wait.
        change_message(message, dispatched_at=oct_day(31))
        assert queued(account.partner) == [(message.pk, OCT)]
    finally:
        closing.rollback()
        closing.close()
    # Harmless: October, closed later, bills the message as it is then; nothing to adjust.
    october = close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW).statement
    assert october.counted_messages == 1
    assert not build_statement(account.partner, NOV, actor="op").statement.adjustments.exists()


def test_closing_waits_for_changes_of_the_month_in_flight(account):
    """PostgreSQL: a transaction that changed a message of October (and so holds October's
    shared lock) keeps October's closing from building until it ends."""
    send(account, oct_day(3))
    changing = _other_connection()
    try:
        with changing.cursor() as cursor:  # what a change of October takes (derived.py)
            cursor.execute(
                "SELECT pg_advisory_xact_lock_shared(billing_month_lock_key(%s, %s))",
                [account.partner.pk, OCT],
            )
        with pytest.raises(OperationalError, match="lock timeout"):
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '200ms'")
                close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    finally:
        changing.rollback()
        changing.close()
    assert not Statement.objects.filter(partner=account.partner, status="closed").exists()
    assert close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW).changed


def test_the_migration_queues_what_closed_months_already_hold(account):
    changed = send(account, oct_day(3), Status.SENT)
    moved = send(account, oct_day(4))
    kept = send(account, oct_day(5))
    late = send(account, oct_day(6), Status.QUEUED)
    close_statement(account.partner, OCT, actor="op", now=AFTER_OCT_WINDOW)
    change_message(changed, status=Status.UNSENT)
    change_message(moved, dispatched_at=datetime(2024, 11, 4, tzinfo=UTC))
    change_message(late, status=Status.DELIVERED)
    by_writers = queued(account.partner)
    before = build_statement(account.partner, NOV, actor="op").statement.adjustments_total

    LateChange.objects.all().delete()  # as before the migration
    migration.fill_queue(apps, types.SimpleNamespace(connection=connection))
    assert (
        queued(account.partner)
        == by_writers
        == sorted([(changed.pk, OCT), (moved.pk, OCT), (late.pk, OCT)])
    )
    assert kept.pk not in {m for m, _ in by_writers}
    november = build_statement(account.partner, NOV, actor="op").statement
    assert november.adjustments_total == before == D("-0.0100") + D("0.0100")


def test_the_triggers_months_are_the_billing_zones():
    assert migration.ZONE == BILLING_ZONE.key


def test_the_words_in_the_triggers_and_the_fill_are_the_models():
    assert StatementStatus.CLOSED == "closed"
    assert Statement._meta.db_table == "billing_statement"
    assert set(migration.COUNTED) == {s.value for s in COUNTED}
