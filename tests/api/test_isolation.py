"""Two partners' keys never see each other's data: one test per endpoint."""

import datetime as dt

import pytest
from django.utils import timezone

from billing.commission import billing_month
from billing.models import Message
from billing.services.statements import build_statement
from billing.statuses import Status
from tests.api.conftest import post
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alpha_data(alpha):
    message = MessageFactory(account=alpha.account, status=Status.DELIVERED)
    period = billing_month(message.dispatched_at)
    return {
        "message": message,
        "statement": build_statement(alpha.partner, period, actor="test").statement,
    }


def test_me_names_only_the_keys_own_partner(alpha, beta):
    assert alpha.client.get("/api/v1/me").json()["ic"] == alpha.partner.ic
    assert beta.client.get("/api/v1/me").json()["ic"] == beta.partner.ic


def test_message_detail_of_another_partner_is_404(alpha, beta, alpha_data):
    pk = alpha_data["message"].pk
    assert alpha.client.get(f"/api/v1/messages/{pk}").status_code == 200
    response = beta.client.get(f"/api/v1/messages/{pk}")
    assert response.status_code == 404
    assert alpha.partner.name not in response.content.decode()


def test_message_list_shows_only_own_messages_even_filtered_by_a_foreign_account(
    alpha, beta, alpha_data
):
    MessageFactory(account=beta.account)
    beta_ids = {m["id"] for m in beta.client.get("/api/v1/messages").json()["items"]}
    assert alpha_data["message"].pk not in beta_ids and len(beta_ids) == 1
    foreign = beta.client.get("/api/v1/messages", {"account": alpha.account.pk}).json()
    assert foreign["items"] == []


def test_commission_counts_only_own_messages(alpha, beta, alpha_data):
    period = f"{alpha_data['statement'].period:%Y-%m}"
    assert alpha.client.get("/api/v1/commission", {"period": period}).json()["counted"] == 1
    body = beta.client.get("/api/v1/commission", {"period": period}).json()
    assert body["counted"] == 0 and body["statement_id"] is None
    assert [a["account"]["id"] for a in body["accounts"]] == [beta.account.pk]


def test_statements_and_documents_of_another_partner_are_hidden(alpha, beta, alpha_data):
    statement = alpha_data["statement"]
    assert beta.client.get("/api/v1/statements").json()["items"] == []
    url = f"/api/v1/statements/{statement.pk}/documents/pdf"
    assert beta.client.get(url).status_code == 404
    assert alpha.client.get(url).status_code == 200


def test_send_uses_only_the_keys_account_and_ic(sim, alpha, beta):
    response = post(
        beta.client, "/api/v1/messages", {"recipients": [{"phone": "500600700"}], "text": "x"}
    )
    assert response.status_code == 202
    message = Message.objects.get()
    assert (message.account, message.ic) == (beta.account, beta.partner.ic)


def test_another_partners_unique_id_is_a_new_message_here_and_tells_nothing(sim, alpha, beta):
    """unique_ids are per account, as SerwerSMS scopes them: beta can neither collide with
    alpha's ids nor learn that one exists."""
    body = {"recipients": [{"phone": "+48500600700", "unique_id": "shared1"}], "text": "x"}
    first = post(alpha.client, "/api/v1/messages", body)
    assert first.status_code == 202
    response = post(beta.client, "/api/v1/messages", body)
    assert response.status_code == 202
    text = response.content.decode()
    assert alpha.account.name not in text and alpha.partner.name not in text
    (mine,) = response.json()["messages"]
    assert mine["id"] != first.json()["messages"][0]["id"]
    assert mine["account"]["id"] == beta.account.pk
    assert Message.objects.get(account=beta.account).unique_id == "shared1"
    assert Message.objects.get(account=alpha.account).unique_id == "shared1"


def test_report_of_another_partners_account_or_ic_is_refused(alpha, beta):
    sent = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    body = {
        "messages": [
            {"serwersms_id": "s1", "phone": "500600700", "ic": alpha.partner.ic, "sent_at": sent},
            {
                "serwersms_id": "s2",
                "phone": "500600700",
                "ic": beta.partner.ic,
                "sent_at": sent,
                "account": alpha.account.pk,
            },
        ]
    }
    result = post(beta.client, "/api/v1/messages/reported", body).json()
    assert [r["outcome"] for r in result["results"]] == ["refused", "refused"]
    assert not Message.objects.exists()


def test_the_same_serwersms_id_on_two_partners_accounts_stays_two_messages(alpha, beta):
    sent = (timezone.now() - dt.timedelta(minutes=1)).isoformat()

    def report(side):
        one = {"serwersms_id": "same", "phone": "500600700", "ic": side.partner.ic, "sent_at": sent}
        return post(side.client, "/api/v1/messages/reported", {"messages": [one]}).json()

    assert report(alpha)["created"] == 1
    assert report(beta)["created"] == 1
    assert set(Message.objects.values_list("account", flat=True)) == {
        alpha.account.pk,
        beta.account.pk,
    }


def test_idempotency_keys_are_per_account(sim, alpha, beta):
    body = {"recipients": [{"phone": "+48500600700"}], "text": "x"}
    a = post(alpha.client, "/api/v1/messages", body, **{"Idempotency-Key": "same-key"})
    b = post(beta.client, "/api/v1/messages", body, **{"Idempotency-Key": "same-key"})
    assert a.status_code == b.status_code == 202
    assert a.json()["messages"][0]["id"] != b.json()["messages"][0]["id"]
    assert b.json()["messages"][0]["account"]["id"] == beta.account.pk
