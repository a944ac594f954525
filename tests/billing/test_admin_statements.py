"""Operators' admin: agreements, statements with rebuild and close actions."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Agreement, Statement, StatementStatus
from billing.statuses import Status
from tests.factories import AgreementFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("op", "op@example.com", "pw-op-123456")
    client.force_login(user)
    return client


def _post_action(client, action, statements):
    return client.post(
        reverse("admin:billing_statement_changelist"),
        {"action": action, "_selected_action": [s.pk for s in statements]},
        follow=True,
    )


def test_rebuild_action_builds_the_draft_from_messages(operator_client):
    agreement = AgreementFactory()
    when = timezone.now() - timedelta(days=70)
    MessageFactory(account__partner=agreement.partner, status=Status.DELIVERED, dispatched_at=when)
    period = timezone.localtime(when).date().replace(day=1)
    statement = Statement.objects.create(partner=agreement.partner, period=period)
    _post_action(operator_client, "rebuild", [statement])
    statement.refresh_from_db()
    assert statement.counted_messages == 1
    assert statement.total > 0


def test_close_action_refuses_a_month_inside_its_review_window(operator_client):
    agreement = AgreementFactory()
    period = timezone.localdate().replace(day=1)
    statement = Statement.objects.create(partner=agreement.partner, period=period)
    response = _post_action(operator_client, "close", [statement])
    statement.refresh_from_db()
    assert statement.status == StatementStatus.DRAFT
    assert "cannot be closed yet" in response.content.decode()


def test_close_action_closes_a_past_month_and_records_who(operator_client):
    agreement = AgreementFactory()
    statement = Statement.objects.create(partner=agreement.partner, period=date(2024, 1, 1))
    _post_action(operator_client, "close", [statement])
    statement.refresh_from_db()
    assert statement.status == StatementStatus.CLOSED
    assert statement.audit_entries.filter(action="close", actor="op").exists()


def test_overlapping_agreement_is_refused_in_the_admin(operator_client):
    existing = AgreementFactory(valid_from=date(2025, 1, 1), valid_to=None)
    response = operator_client.post(
        reverse("admin:billing_agreement_add"),
        {
            "partner": existing.partner.pk,
            "version": 2,
            "valid_from": "2025-06-01",
            "currency": "PLN",
            "basis": "per_message",
            "rate_eco": "0.01",
            "rate_full": "0.02",
            "rate_mms": "0.03",
            "rate_voice": "0.04",
            "tiers-TOTAL_FORMS": 0,
            "tiers-INITIAL_FORMS": 0,
        },
        headers={"accept-language": "en"},  # the admin is Polish by default
    )
    assert response.status_code == 200
    assert "overlaps" in response.content.decode()
    assert Agreement.objects.count() == 1


def test_poll_now_action_applies_reports_from_serwersms(
    operator_client, simulator_settings, send_now
):
    from tests.factories import ClientAccountFactory

    account = ClientAccountFactory(api_token="poll-now-token")
    simulator_settings.register_account(token="poll-now-token")
    [message] = send_now(account, ["+48500600700"], "Hello")
    assert message.status == Status.QUEUED
    simulator_settings.advance(to="final")
    response = operator_client.post(
        reverse("admin:billing_clientaccount_changelist"),
        {"action": "poll_now", "_selected_action": [account.pk]},
        follow=True,
    )
    message.refresh_from_db()
    assert message.status in {Status.DELIVERED, Status.UNDELIVERED, Status.UNSENT}
    notes = [str(m) for m in response.context["messages"]]
    assert any(note.startswith(f"{account.name}:") for note in notes), notes
