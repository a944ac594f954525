"""The SerwerSMS delivery-report endpoint: secret per account, form fields, idempotent."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from billing.models import StatusEvent
from billing.statuses import Status
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def url_for(account):
    return reverse("serwersms_callback", args=[account.callback_secret])


def test_post_callback_applies_delivery(client):
    message = MessageFactory(
        status=Status.QUEUED, created_at=datetime(2025, 3, 31, 21, 0, tzinfo=UTC)
    )
    response = client.post(
        url_for(message.account),
        {
            "id": message.serwersms_id,
            "status": "delivered",
            "sent": "2025-04-01 00:05:00",
            "delivered": "2025-04-01 00:06:00",
            "parts": "1",
            "cost": "0.08",
        },
    )
    assert response.status_code == 200 and response.content == b"OK"
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.sent_at.isoformat() == "2025-03-31T22:05:00+00:00"  # Warsaw -> UTC
    event = message.events.get()
    assert (event.source, event.new_status) == ("callback", "delivered")


def test_get_callback_works_and_duplicate_changes_nothing(client):
    message = MessageFactory(
        status=Status.QUEUED, created_at=datetime(2025, 3, 31, 21, 0, tzinfo=UTC)
    )
    params = {"id": message.serwersms_id, "status": "sent", "sent": "2025-04-01 00:05:00"}
    assert client.get(url_for(message.account), params).status_code == 200
    assert client.get(url_for(message.account), params).status_code == 200
    message.refresh_from_db()
    assert message.status == "sent"
    assert StatusEvent.objects.filter(message=message).count() == 1


def test_unknown_secret_is_404(client):
    message = MessageFactory(status=Status.QUEUED)
    url = reverse("serwersms_callback", args=["nope"])
    response = client.post(url, {"id": message.serwersms_id, "status": "delivered"})
    assert response.status_code == 404
    message.refresh_from_db()
    assert message.status == "queued"


@pytest.mark.parametrize(
    "fields, complaint",
    [
        ({"status": "delivered"}, b"id"),
        ({"id": "X"}, b"status"),
        ({"id": "X", "status": "delivered", "sent": "yesterday"}, b"sent"),
        ({"id": "X", "status": "delivered", "parts": "two"}, b"parts"),
        ({"id": "X", "status": "delivered", "cost": "cheap"}, b"cost"),
    ],
)
def test_malformed_report_is_400_with_reason_and_changes_nothing(client, fields, complaint):
    message = MessageFactory(status=Status.QUEUED, serwersms_id="X")
    response = client.post(url_for(message.account), fields)
    assert response.status_code == 400
    assert complaint in response.content
    message.refresh_from_db()
    assert message.status == "queued" and not message.events.exists()


def test_report_for_a_message_not_ours_is_accepted_and_ignored(client):
    message = MessageFactory(status=Status.QUEUED)
    response = client.post(url_for(message.account), {"id": "someone-else", "status": "sent"})
    assert response.status_code == 202
    assert b"IGNORED" in response.content
    assert not StatusEvent.objects.exists()


def test_other_methods_are_refused(client):
    message = MessageFactory(status=Status.QUEUED)
    assert client.put(url_for(message.account)).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_simulator_callbacks_reach_final_status_end_to_end(live_server, simulator_settings):
    import time

    from billing.serwersms import client_for
    from tests.factories import ClientAccountFactory

    account = ClientAccountFactory(api_token="tok-callback")
    simulator_settings.register_account(
        token="tok-callback", callback_url=live_server.url + url_for(account)
    )
    items = client_for(account).send_sms(["+48500600701", "+48500600702"], "callback test")
    messages = [
        MessageFactory(account=account, serwersms_id=item.serwersms_id, phone=item.phone)
        for item in items
    ]
    simulator_settings.advance(to="final")
    deadline = time.monotonic() + 15
    truth = {m["id"]: m["status"] for m in simulator_settings.messages()}
    while time.monotonic() < deadline:
        statuses = [m.status for m in type(messages[0]).objects.filter(account=account)]
        if all(s in ("delivered", "undelivered", "unsent") for s in statuses):
            break
        time.sleep(0.1)
    for message in messages:
        message.refresh_from_db()
        assert message.status == truth[message.serwersms_id]
        applied = message.events.filter(applied=True, source="callback")
        assert applied.filter(new_status=message.status).count() == 1
    assert all(c["ok"] for c in simulator_settings.callbacks())
