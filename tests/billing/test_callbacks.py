"""The SerwerSMS delivery-report endpoint: secret per account, form fields, idempotent."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from billing.models import StatusEvent
from billing.statuses import Status
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


# Report times must lie near the message's creation (status_updates refuses others).
WRITTEN = datetime(2025, 3, 31, 21, 0, tzinfo=UTC)


def url_for(account):
    return reverse("serwersms_callback", args=[account.callback_secret])


def test_a_callback_posted_exactly_as_serwersms_posts_it_changes_the_message(client):
    """§5 (C): smsid, stan, data by POST; the handler answers OK."""
    message = MessageFactory(status=Status.QUEUED, created_at=WRITTEN)
    response = client.post(
        url_for(message.account),
        {"smsid": message.serwersms_id, "stan": "delivered", "data": "2025-04-01 00:06:00"},
    )
    assert response.status_code == 200 and response.content == b"OK"
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.delivered_at.isoformat() == "2025-03-31T22:06:00+00:00"  # Warsaw -> UTC
    event = message.events.get()
    assert (event.source, event.new_status) == ("callback", "delivered")


def test_get_callback_works_and_a_duplicate_changes_nothing(client):
    message = MessageFactory(status=Status.QUEUED, created_at=WRITTEN)
    params = {"smsid": message.serwersms_id, "stan": "sent", "data": "2025-04-01 00:05:00"}
    assert client.get(url_for(message.account), params).content == b"OK"
    assert client.get(url_for(message.account), params).content == b"OK"
    event = StatusEvent.objects.get(message=message)  # one event: the duplicate adds none
    message.refresh_from_db()
    # A callback moves only the status: the dispatch time (it prices the message: its billing
    # month) is SerwerSMS's record's, from the poll; the callback's time is on its event.
    assert message.status == "sent" and message.sent_at is None
    assert event.status_at.isoformat() == "2025-03-31T22:05:00+00:00"


@pytest.mark.parametrize(
    ("stan", "status"),
    [("DELIVRD", "delivered"), ("UNDELIV", "undelivered"), ("doreczone", "delivered")],
)
def test_the_nat_and_polish_stan_words_are_understood(client, stan, status):
    message = MessageFactory(status=Status.SENT)
    client.post(url_for(message.account), {"smsid": message.serwersms_id, "stan": stan})
    message.refresh_from_db()
    assert message.status == status


def test_an_unknown_stan_word_is_recorded_and_changes_nothing(client):
    message = MessageFactory(status=Status.SENT)
    response = client.post(url_for(message.account), {"smsid": message.serwersms_id, "stan": "ERR"})
    assert response.content == b"OK"
    message.refresh_from_db()
    assert message.status == "sent"
    assert not message.events.filter(applied=True).exists()


def test_the_stan_words_are_a_setting(client, settings):
    settings.SERWERSMS_CALLBACK_STAN_WORDS = {"OK1": "delivered"}
    message = MessageFactory(status=Status.SENT)
    client.post(url_for(message.account), {"smsid": message.serwersms_id, "stan": "OK1"})
    message.refresh_from_db()
    assert message.status == "delivered"


def test_unknown_secret_is_404(client):
    message = MessageFactory(status=Status.QUEUED)
    url = reverse("serwersms_callback", args=["nope"])
    response = client.post(url, {"smsid": message.serwersms_id, "stan": "delivered"})
    assert response.status_code == 404
    message.refresh_from_db()
    assert message.status == "queued"


@pytest.mark.parametrize(
    "fields, complaint",
    [
        ({"stan": "delivered"}, b"smsid"),
        ({"smsid": "X"}, b"stan"),
        ({"smsid": "X", "stan": "delivered", "data": "yesterday"}, b"data"),
    ],
)
def test_malformed_report_is_400_with_reason_and_changes_nothing(client, fields, complaint):
    message = MessageFactory(status=Status.QUEUED, serwersms_id="X")
    response = client.post(url_for(message.account), fields)
    assert response.status_code == 400
    assert complaint in response.content
    message.refresh_from_db()
    assert message.status == "queued" and not message.events.exists()


def test_report_for_a_message_not_ours_is_answered_ok_and_ignored(client):
    message = MessageFactory(status=Status.QUEUED)
    response = client.post(url_for(message.account), {"smsid": "someone-else", "stan": "sent"})
    assert response.status_code == 200 and response.content == b"OK"
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
    simulator_settings.advance(to="final")  # the simulator calls back on final statuses
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
