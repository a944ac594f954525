"""Scoping: every page and download answers for the user's own partner only."""

import pytest
from django.test import Client

from billing.models import AuditEntry
from tests.factories import (
    ClientAccountFactory,
    MessageFactory,
    StatementFactory,
    UserFactory,
)
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db

PAGES = ["/", "/messages/", "/statements/", "/client-accounts/", "/messages/export.csv"]


@pytest.mark.parametrize("url", PAGES + ["/messages/1/", "/statements/1/"])
def test_anonymous_users_are_sent_to_the_login_page(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("url", PAGES)
def test_operator_without_partner_gets_403_pointing_to_admin(url):
    operator = UserFactory(username="operator", is_staff=True)
    client = Client(headers={"accept-language": "en"})
    client.force_login(operator, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(url)
    assert response.status_code == 403
    assert b'href="/admin/"' in response.content


def test_inactive_partner_staff_get_403(alpha):
    alpha.partner.is_active = False
    alpha.partner.save()
    assert client_for(alpha.viewer).get("/").status_code == 403


def test_message_of_another_partner_is_404(alpha, beta):
    own = MessageFactory(account=alpha.account)
    other = MessageFactory(account=beta.account)
    client = client_for(alpha.viewer)
    assert client.get(f"/messages/{own.pk}/").status_code == 200
    assert client.get(f"/messages/{other.pk}/").status_code == 404
    assert client_for(beta.viewer).get(f"/messages/{other.pk}/").status_code == 200


def test_statement_of_another_partner_is_404_for_page_and_download(alpha, beta):
    other = StatementFactory(partner=beta.partner)
    client = client_for(alpha.manager)
    assert client.get(f"/statements/{other.pk}/").status_code == 404
    for fmt in ("csv", "xlsx", "pdf"):
        assert client.get(f"/statements/{other.pk}/download/{fmt}/").status_code == 404
    assert not AuditEntry.objects.exists()
    assert client_for(beta.viewer).get(f"/statements/{other.pk}/").status_code == 200


def test_viewer_may_see_a_statement_but_not_download_it(alpha):
    statement = StatementFactory(partner=alpha.partner)
    client = client_for(alpha.viewer)
    page = client.get(f"/statements/{statement.pk}/")
    assert page.status_code == 200
    assert b"/download/" not in page.content
    assert client.get(f"/statements/{statement.pk}/download/csv/").status_code == 403
    assert not AuditEntry.objects.exists()


def test_billing_manager_sees_download_links(alpha):
    statement = StatementFactory(partner=alpha.partner)
    page = client_for(alpha.manager).get(f"/statements/{statement.pk}/")
    for fmt in ("csv", "xlsx", "pdf"):
        assert f"/statements/{statement.pk}/download/{fmt}/".encode() in page.content


def test_lists_show_only_the_own_partners_objects(alpha, beta):
    MessageFactory(account=alpha.account, phone="+48511111111")
    MessageFactory(account=beta.account, phone="+48522222222")
    StatementFactory(partner=alpha.partner, period="2026-01-01")
    StatementFactory(partner=beta.partner, period="2026-02-01")
    client = client_for(alpha.viewer)
    messages = client.get("/messages/").content.decode()
    assert "+48511111111" in messages and "+48522222222" not in messages
    statements = client.get("/statements/").content.decode()
    assert "January 2026" in statements and "February 2026" not in statements
    accounts = client.get("/client-accounts/").content.decode()
    assert alpha.account.name in accounts and beta.account.name not in accounts
    dashboard = client.get("/").content.decode()
    assert beta.partner.name not in dashboard


def test_account_filter_lists_only_own_accounts_and_rejects_others(alpha, beta):
    ClientAccountFactory(partner=alpha.partner, name="alpha-second")
    MessageFactory(account=alpha.account)
    MessageFactory(account=beta.account, phone="+48533333333")
    client = client_for(alpha.viewer)
    page = client.get("/messages/")
    choices = list(page.context["filter"].form.fields["account"].queryset)
    assert {account.partner_id for account in choices} == {alpha.partner.pk}
    assert beta.account.name not in page.content.decode()
    # Naming the other partner's account is invalid input: an error and no rows.
    response = client.get(f"/messages/?account={beta.account.pk}")
    assert response.context["filter"].form.errors
    assert "+48533333333" not in response.content.decode()
    assert response.context["summary"].count == 0
