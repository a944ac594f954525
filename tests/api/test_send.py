"""POST /api/v1/messages: sends with the partner's ic, retries are safe, conflicts answer 409."""

import pytest

from billing.models import Channel, Message
from tests.api.conftest import post

pytestmark = pytest.mark.django_db
URL = "/api/v1/messages"
PENDING_OR_QUEUED = {"submitting", "queued"}


def sends(sim):
    return [r for r in sim.requests() if r["action"] == "messages/send_sms"]


def test_send_writes_one_message_per_recipient_with_the_partners_ic(sim, alpha):
    response = post(
        alpha.client,
        URL,
        {"recipients": [{"phone": "+48500600700"}, {"phone": "500600701"}], "text": "Hello"},
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert [m["phone"] for m in body["messages"]] == ["+48500600700", "+48500600701"]
    for item in body["messages"]:
        assert item["status"] in PENDING_OR_QUEUED
        assert item["parts"] == 1
        assert item["account"] == {"id": alpha.account.pk, "name": alpha.account.name}
        assert item["ic"] == alpha.partner.ic
    rows = Message.objects.filter(account=alpha.account)
    assert rows.count() == 2
    assert set(rows.values_list("channel", flat=True)) == {Channel.API_V2}
    # SerwerSMS (the simulator) saw the ic on the send (after the outbox ran, if any).
    assert {str(r["ic"]) for r in sends(sim)} <= {str(alpha.partner.ic)}


def test_same_unique_id_again_answers_the_same_and_sends_nothing(sim, alpha):
    body = {"recipients": [{"phone": "+48500600700", "unique_id": "order42"}], "text": "Hi"}
    first = post(alpha.client, URL, body)
    second = post(alpha.client, URL, body)
    assert first.status_code == second.status_code == 202
    assert first.json()["messages"][0]["id"] == second.json()["messages"][0]["id"]
    assert Message.objects.filter(unique_id="order42").count() == 1
    assert len(sends(sim)) <= 1


@pytest.mark.parametrize(
    "change", [{"phone": "+48500600799"}, {"text": "Another text"}], ids=["phone", "text"]
)
def test_same_unique_id_with_a_different_phone_or_text_is_409(sim, alpha, change):
    recipient = {"phone": "+48500600700", "unique_id": "order43"}
    post(alpha.client, URL, {"recipients": [recipient], "text": "Hi"})
    again = {"recipients": [{**recipient, **{k: v for k, v in change.items() if k == "phone"}}]}
    again["text"] = change.get("text", "Hi")
    response = post(alpha.client, URL, again)
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict"
    assert body["errors"][0]["field"] == "recipients[0].unique_id"
    assert Message.objects.filter(account=alpha.account).count() == 1


def test_a_conflict_anywhere_sends_nothing_for_the_whole_request(sim, alpha):
    post(
        alpha.client,
        URL,
        {"recipients": [{"phone": "+48500600700", "unique_id": "abc"}], "text": "Hi"},
    )
    response = post(
        alpha.client,
        URL,
        {
            "recipients": [
                {"phone": "+48500600701", "unique_id": "fresh1"},
                {"phone": "+48500600702", "unique_id": "abc"},
            ],
            "text": "Hi",
        },
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "recipients[1].unique_id"
    assert not Message.objects.filter(unique_id="fresh1").exists()


def test_idempotency_key_replays_the_first_answer(sim, alpha):
    body = {"recipients": [{"phone": "+48500600700"}, {"phone": "+48500600701"}], "text": "Hi"}
    first = post(alpha.client, URL, body, **{"Idempotency-Key": "batch-1"})
    sent_first = len(sends(sim))
    second = post(alpha.client, URL, body, **{"Idempotency-Key": "batch-1"})
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert Message.objects.filter(account=alpha.account).count() == 2
    assert len(sends(sim)) == sent_first


def test_idempotency_key_with_another_body_is_409(sim, alpha):
    post(
        alpha.client,
        URL,
        {"recipients": [{"phone": "+48500600700"}], "text": "Hi"},
        **{"Idempotency-Key": "k1"},
    )
    response = post(
        alpha.client,
        URL,
        {"recipients": [{"phone": "+48500600700"}], "text": "Changed"},
        **{"Idempotency-Key": "k1"},
    )
    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_conflict"
    assert Message.objects.filter(account=alpha.account).count() == 1


def test_bad_items_name_their_fields_and_nothing_is_written(sim, alpha):
    response = post(
        alpha.client,
        URL,
        {
            "recipients": [
                {"phone": "+48500600700"},
                {"phone": "not a phone"},
                {"phone": "+48500600700"},
                {"phone": "+48500600703", "unique_id": "bad_id!"},
            ],
            "text": "Hi",
        },
    )
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert "recipients[3].unique_id" in fields  # schema rule: SerwerSMS's alphabet
    response = post(
        alpha.client,
        URL,
        {
            "recipients": [
                {"phone": "+48500600700"},
                {"phone": "not a phone"},
                {"phone": "+48500600700"},
            ],
            "text": "Hi",
        },
    )
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"recipients[1].phone", "recipients[2].phone"}
    assert not Message.objects.exists()
    assert sends(sim) == []


def test_more_than_1000_recipients_is_413(sim, alpha):
    recipients = [{"phone": f"+4850060{n:04d}"} for n in range(1001)]
    response = post(alpha.client, URL, {"recipients": recipients, "text": "Hi"})
    assert response.status_code == 413
    assert response.json()["error"] == "too_many_items"
    assert not Message.objects.exists()


def test_no_key_or_a_revoked_key_is_401(sim, alpha):
    from django.test import Client

    from partner_api.keys import revoke_api_key

    body = {"recipients": [{"phone": "+48500600700"}], "text": "Hi"}
    assert post(Client(), URL, body).status_code == 401
    revoke_api_key(key=alpha.key, actor="test")
    response = post(alpha.client, URL, body)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert not Message.objects.exists()


def test_a_key_of_an_inactive_account_is_403(sim, alpha):
    alpha.account.is_active = False
    alpha.account.save()
    response = post(alpha.client, URL, {"recipients": [{"phone": "+48500600700"}], "text": "Hi"})
    assert response.status_code == 403
    assert not Message.objects.exists()


def test_requests_past_the_rate_limit_are_429(sim, alpha, beta, settings):
    settings.API_RATE_LIMIT = "3/min"
    codes = [alpha.client.get("/api/v1/me").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert int(alpha.client.get("/api/v1/me")["Retry-After"]) >= 1
    assert beta.client.get("/api/v1/me").status_code == 200  # per key


def test_a_body_over_the_size_limit_is_413(sim, alpha, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(
        alpha.client, URL, {"recipients": [{"phone": "+48500600700"}], "text": "x" * 2000}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert not Message.objects.exists()


def test_a_body_that_is_not_json_is_400(sim, alpha):
    response = alpha.client.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("account", "body", "field"),
    [
        ({"email2sms_sender": ""}, {"channel": "email2sms"}, "channel"),
        ({"name": "sender-shop", "username": ""}, {"channel": "xml_api"}, "channel"),
        ({}, {"sender": "Bad!"}, "sender"),
        ({}, {"sender": "Sh\x00p"}, "sender"),
        ({}, {"text": "x" * 919}, "text"),
    ],
    ids=[
        "email2sms not set up",
        "xml_api without login",
        "bad sender",
        "NUL in sender",
        "text too long",
    ],
)
def test_a_refused_send_names_the_field_it_concerns(sim, alpha, account, body, field):
    for name, value in account.items():
        setattr(alpha.account, name, value)
    alpha.account.save()
    response = post(
        alpha.client, URL, {"recipients": [{"phone": "+48500600700"}], "text": "Hi"} | body
    )
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not Message.objects.exists()
    assert sends(sim) == []
