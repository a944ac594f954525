"""Draft statements follow every status change: a poll pass, a callback or a send answer queues
one refresh of the partner's drafts, and every page then shows the same, fresh figures."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import selectors
from billing.commission import billing_month
from billing.models import Statement
from billing.services import polling
from billing.services.outbox import send_sms
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement, refresh_draft_statements
from billing.statuses import Status
from tests.factories import AgreementFactory, ClientAccountFactory, MessageFactory, change_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(simulator_settings):
    account = ClientAccountFactory(api_token="tok-fresh")
    AgreementFactory(partner=account.partner, rate_eco="0.0125")
    simulator_settings.register_account(token="tok-fresh")
    return account


def test_a_callback_refreshes_the_months_draft(
    client, queued_refreshes, django_capture_on_commit_callbacks
):
    message = MessageFactory(status=Status.QUEUED)
    AgreementFactory(partner=message.partner, rate_eco="0.0125")
    period = billing_month(message.billing_at)
    stale = build_statement(message.partner, period, actor="test").statement
    assert (stale.counted_messages, stale.pending_messages) == (0, 1)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("serwersms_callback", args=[message.account.callback_secret]),
            {"smsid": message.serwersms_id, "stan": "delivered"},
        )
    assert response.status_code == 200
    assert len(queued_refreshes) == 1
    fresh = Statement.objects.get(pk=stale.pk)
    assert (fresh.counted_messages, fresh.pending_messages) == (1, 0)
    assert fresh.commission == Decimal("0.0125") and fresh.built_at > stale.built_at
    # The dashboard's month is the statement's month, to the message.
    figures = selectors.month_figures(message.partner, period)
    assert (figures.counted, figures.pending, figures.commission) == (1, 0, fresh.total)


def test_a_duplicate_report_queues_no_refresh(
    client, queued_refreshes, django_capture_on_commit_callbacks
):
    message = MessageFactory(status=Status.DELIVERED)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("serwersms_callback", args=[message.account.callback_secret]),
            {"smsid": message.serwersms_id, "stan": "delivered"},
        )
    assert queued_refreshes == []


def test_a_poll_pass_refreshes_the_draft_and_sending_creates_it(
    account, simulator_settings, queued_refreshes, django_capture_on_commit_callbacks, celery_eager
):
    with django_capture_on_commit_callbacks(execute=True):
        sent = send_sms(account, ["+48500600700", "+48500600701"], "fresh figures")
    period = billing_month(sent[0].billing_at)
    draft = Statement.objects.get(partner=account.partner, period=period)
    assert (draft.pending_messages, draft.counted_messages) == (2, 0)  # today, right away

    simulator_settings.advance(to="final")
    with django_capture_on_commit_callbacks(execute=True):
        summary = polling.poll_account(account)
    assert summary.changed == 2
    draft.refresh_from_db()
    assert draft.pending_messages == 0
    assert draft.counted_messages + draft.unsent_messages == 2


def test_a_refresh_requested_before_the_last_build_is_skipped(account):
    MessageFactory(account=account, status=Status.DELIVERED)
    now = timezone.now()
    period = billing_month(now)
    built = build_statement(account.partner, period, actor="test").statement
    assert refresh_draft_statements(account.partner, [period], requested_at=now) == []
    later = built.built_at + timedelta(seconds=1)
    assert [
        s.pk for s in refresh_draft_statements(account.partner, [period], requested_at=later)
    ] == [built.pk]


def test_closed_months_are_never_rebuilt_by_a_refresh(account):
    MessageFactory(
        account=account, status=Status.DELIVERED, dispatched_at=datetime(2024, 10, 5, tzinfo=UTC)
    )
    october = close_statement(
        account.partner, date(2024, 10, 1), actor="op", now=datetime(2024, 11, 9, tzinfo=UTC)
    ).statement
    rebuilt = refresh_draft_statements(account.partner, [date(2024, 10, 1)])
    assert october.pk not in {s.pk for s in rebuilt}
    again = Statement.objects.get(pk=october.pk)
    assert again.is_closed and again.built_at == october.built_at
    assert again.checksum == october.checksum


def test_a_late_change_of_a_closed_month_creates_the_next_months_draft(account):
    message = MessageFactory(
        account=account, status=Status.SENT, dispatched_at=datetime(2024, 10, 5, tzinfo=UTC)
    )
    close_statement(
        account.partner, date(2024, 10, 1), actor="op", now=datetime(2024, 11, 9, tzinfo=UTC)
    )
    change_message(message, status=Status.UNSENT)  # e.g. SerwerSMS corrects it after the close
    [november] = refresh_draft_statements(account.partner, [date(2024, 10, 1)])
    assert november.period == date(2024, 11, 1)
    assert november.adjustments_total == Decimal("-0.0125")
    assert november.carried_forward == Decimal("0.01")  # never paid below zero
