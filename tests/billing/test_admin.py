"""Operators' admin: the ic check, write-only secrets, read-only messages with their history."""

import pytest
from django.urls import reverse

from billing.admin import ClientAccountAdminForm, PartnerAdminForm
from billing.models import ClientAccount, Partner
from tests.factories import ClientAccountFactory, MessageFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("bad", ["abc", "0", "-3", "1.5", " ", "", "1e3"])
def test_partner_form_refuses_an_ic_that_is_not_a_positive_integer(bad):
    form = PartnerAdminForm(data={"name": "Soft", "ic": bad, "is_active": True})
    assert not form.is_valid()
    assert any("positive integer" in e for e in form.errors["ic"])


def test_partner_form_accepts_a_positive_integer():
    form = PartnerAdminForm(data={"name": "Soft", "ic": "42", "is_active": True})
    assert form.is_valid(), form.errors
    assert form.save().ic == 42


def test_admin_add_partner_with_a_bad_ic_shows_the_error_and_saves_nothing(admin_client):
    response = admin_client.post(
        reverse("admin:billing_partner_add"),
        {"name": "Soft", "ic": "-7", "is_active": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "The ic must be a positive integer" in response.content.decode()
    assert not Partner.objects.exists()


def test_partner_ic_cannot_change_in_the_admin_once_messages_carry_it():
    message = MessageFactory()
    partner = message.partner
    form = PartnerAdminForm(
        data={"name": partner.name, "ic": str(partner.ic + 1), "is_active": True},
        instance=partner,
    )
    assert not form.is_valid()
    assert "cannot change" in str(form.errors["ic"])


def _account_data(account, **changes):
    data = {
        "partner": account.partner_id,
        "name": account.name,
        "api_token": "",
        "username": account.username,
        "password": "",
        "email2sms_sender": account.email2sms_sender,
        "email2sms_key": "",
        "is_active": True,
    }
    return data | changes


def test_account_secrets_are_never_rendered_back(admin_client):
    account = ClientAccountFactory(api_token="very-secret-token", username="u", password="pw-42")
    page = admin_client.get(reverse("admin:billing_clientaccount_change", args=[account.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "very-secret-token" not in html and "pw-42" not in html
    assert 'type="password"' in html


def test_blank_secrets_keep_the_stored_values():
    account = ClientAccountFactory(api_token="tok", username="u", password="pw")
    form = ClientAccountAdminForm(data=_account_data(account, name="renamed"), instance=account)
    assert form.is_valid(), form.errors
    form.save()
    account.refresh_from_db()
    assert (account.name, account.api_token, account.password) == ("renamed", "tok", "pw")


def test_typed_secrets_replace_and_clear_removes():
    account = ClientAccountFactory(api_token="tok", username="u", password="pw")
    data = _account_data(account, api_token="new-token", clear_password="on")
    form = ClientAccountAdminForm(data=data, instance=account)
    assert form.is_valid(), form.errors
    form.save()
    account.refresh_from_db()
    assert (account.api_token, account.password) == ("new-token", "")


def test_the_email2sms_key_is_write_only_kept_replaced_cleared_and_checked(admin_client):
    account = ClientAccountFactory(email2sms_sender="shop@example.com", email2sms_key="Secret42")
    page = admin_client.get(reverse("admin:billing_clientaccount_change", args=[account.pk]))
    assert page.status_code == 200 and "Secret42" not in page.content.decode()
    for changes, expected in [
        ({}, "Secret42"),
        ({"email2sms_key": "New1"}, "New1"),
        ({"clear_email2sms_key": "on"}, ""),
    ]:
        form = ClientAccountAdminForm(data=_account_data(account, **changes), instance=account)
        assert form.is_valid(), form.errors
        form.save()
        account.refresh_from_db()
        assert account.email2sms_key == expected
    bad = ClientAccountAdminForm(
        data=_account_data(account, email2sms_key="no key!"), instance=account
    )
    assert not bad.is_valid() and "email2sms_key" in bad.errors


def test_clearing_the_only_credentials_is_refused():
    account = ClientAccountFactory(api_token="tok")
    form = ClientAccountAdminForm(
        data=_account_data(account, clear_api_token="on"), instance=account
    )
    assert not form.is_valid()
    assert "API token, or a username and a password" in str(form.errors)
    assert ClientAccount.objects.get(pk=account.pk).api_token == "tok"


def test_message_admin_is_read_only_with_filters_and_history(admin_client):
    message = MessageFactory()
    message.events.create(source="send", old_status="submitting", new_status="queued")
    changelist = reverse("admin:billing_message_changelist")
    for query in (
        "",
        f"?partner__id__exact={message.partner_id}",
        f"?account__id__exact={message.account_id}",
        "?status__exact=queued&channel__exact=api_v2&message_type__exact=eco",
        "?created_at__gte=2020-01-01+00%3A00%3A00%2B00%3A00",
    ):
        response = admin_client.get(changelist + query)
        assert response.status_code == 200
        assert message.unique_id in response.content.decode()
    detail = admin_client.get(reverse("admin:billing_message_change", args=[message.pk]))
    html = detail.content.decode()
    assert detail.status_code == 200
    assert "submitting" in html and 'name="_save"' not in html
    assert admin_client.get(reverse("admin:billing_message_add")).status_code == 403
    deleted = admin_client.post(reverse("admin:billing_message_delete", args=[message.pk]))
    assert deleted.status_code == 403


def test_the_audit_list_costs_the_same_queries_for_many_entries_as_for_one(admin_client):
    from datetime import date

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing.models import AuditEntry
    from tests.factories import StatementFactory

    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert (
                admin_client.get(reverse("admin:billing_auditentry_changelist")).status_code == 200
            )
        return len(queries.captured_queries)

    def entry(month: int) -> None:
        statement = StatementFactory(period=date(2025, month, 1))
        AuditEntry.objects.create(
            action="build", actor="ops", partner=statement.partner, statement=statement
        )

    entry(1)
    one = list_queries()
    for month in range(2, 12):
        entry(month)
    assert list_queries() == one


def test_the_reconciliation_row_and_invitation_lists_cost_the_same_queries_for_many_rows(
    admin_client, admin_user
):
    from datetime import date

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from billing.models import Reconciliation, ReconciliationRow
    from partner_portal.models import Invitation

    partner = ClientAccountFactory().partner
    reconciliation = Reconciliation.objects.create(
        partner=partner, period=date(2025, 1, 1), file_sha256="0" * 64, uploaded_by="ops"
    )

    def add_rows(count: int) -> None:
        for _ in range(count):
            message = MessageFactory(partner=partner)
            ReconciliationRow.objects.create(
                reconciliation=reconciliation,
                outcome="confirmed",
                message=message,
                account_name=message.account.name,
            )
            Invitation.objects.create(
                partner=partner,
                email=f"{message.pk}@example.com",
                token_digest=f"{message.pk:064d}",
                invited_by=admin_user,
                expires_at=message.created_at,
            )

    def queries(name: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200
        return len(captured.captured_queries)

    add_rows(1)
    names = ["billing_reconciliationrow", "partner_portal_invitation"]
    few = [queries(name) for name in names]
    add_rows(10)
    assert [queries(name) for name in names] == few
