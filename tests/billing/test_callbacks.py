"""The SerwerSMS delivery-report endpoint: secret per account, form fields, idempotent."""

import pytest
from django.urls import reverse

from billing.models import StatusEvent
from billing.statuses import Status
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def url_for(account):
    return reverse("serwersms_callback", args=[account.callback_secret])


def test_post_callback_applies_delivery(client):
    message = MessageFactory(status=Status.QUEUED)
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
    message = MessageFactory(status=Status.QUEUED)
    params = {"id": message.serwersms_id, "status": "sent", "sent": "2025-04-01 00:05:00"}
    assert client.get(url_for(message.account), params).status_code == 200
    assert client.get(url_for(message.account), params).status_code == 200
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
