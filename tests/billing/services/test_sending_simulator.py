"""send_sms against the live simulator: every channel, the ic it saw, faults, no double sends."""

import pytest

from billing.models import Message
from billing.services.sending import send_sms
from billing.serwersms import client_for
from billing.statuses import Status
from tests.factories import ClientAccountFactory, PartnerFactory

pytestmark = pytest.mark.django_db
IC = 5151
PHONES = ["+48500600700", "+48500600701"]


@pytest.fixture
def account(simulator_settings, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.SERWERSMS_RETRIES = 0
    simulator_settings.register_account(
        token="sim-token",
        username="sim-user",
        password="sim-pass",
        email="shop@example.com",
        email2sms_key="SimKey1",
    )
    return ClientAccountFactory(
        partner=PartnerFactory(ic=IC),
        api_token="sim-token",
        username="sim-user",
        password="sim-pass",
        email2sms_sender="shop@example.com",
        email2sms_key="SimKey1",
    )


def sending_requests(simulator):
    return [r for r in simulator.requests() if r["action"] in SENDS]


SENDS = {"messages/send_sms", "messages/send_personalized", "xml:wyslij_sms", "smtp"}


@pytest.mark.parametrize("channel", ["api_v2", "xml_api", "email2sms"])
def test_each_channel_sends_with_the_partners_ic(simulator_settings, account, channel):
    messages = send_sms(account, PHONES, "Hello from the portal", channel=channel)
    assert [m.status for m in messages] == [Status.QUEUED, Status.QUEUED]
    assert all(m.ic == IC and m.channel == channel for m in messages)
    seen = simulator_settings.messages()
    assert sorted(s["phone"] for s in seen) == PHONES
    assert {s["ic"] for s in seen} == {IC}
    assert {s["channel"] for s in seen} == {channel}
    if channel != "email2sms":
        assert {m.serwersms_id for m in messages} == {s["id"] for s in seen}
        assert {m.unique_id for m in messages} == {s["unique_id"] for s in seen}
    else:
        assert {m.serwersms_id for m in messages} == {None}
    assert all(r["ic"] == IC for r in sending_requests(simulator_settings))


def test_non_sending_requests_carry_no_ic(simulator_settings, account):
    (message,) = send_sms(account, PHONES[:1], "Hi", unique_id="lookMeUp")
    api = client_for(account, "api_v2")
    assert [i.serwersms_id for i in api.reports(unique_ids=["lookMeUp"])] == [message.serwersms_id]
    assert api.find_by_unique_id("lookMeUp").serwersms_id == message.serwersms_id
    assert api.view(serwersms_id=message.serwersms_id).phone == PHONES[0]
    xml = client_for(account, "xml_api")
    assert xml.sprawdz_sms(smsids=[message.serwersms_id])[0].phone == PHONES[0]
    requests = simulator_settings.requests()
    reads = [r for r in requests if r["action"] not in SENDS]
    assert len(reads) >= 3
    assert all(r["ic"] is None for r in reads)
    assert [r["ic"] for r in requests if r["action"] in SENDS] == [IC]


def test_the_same_unique_id_is_sent_once(simulator_settings, account):
    first = send_sms(account, PHONES, "Hi", unique_id="order1")
    again = send_sms(account, PHONES, "Hi", unique_id="order1")
    assert [m.pk for m in again] == [m.pk for m in first]
    assert len(simulator_settings.messages()) == 2
    assert len(sending_requests(simulator_settings)) == 1


def test_wrong_credentials_mark_unsent(simulator_settings, account):
    account.api_token = "wrong"
    account.save()
    (message,) = send_sms(account, PHONES[:1], "Hi")
    assert (message.status, message.reason) == (Status.UNSENT, "1001")
    assert simulator_settings.messages() == []


def test_limit_exhausted_marks_unsent(simulator_settings, account):
    simulator_settings.register_account(token="poor", limit=0, name="poor")
    poor = ClientAccountFactory(partner=account.partner, api_token="poor")
    (message,) = send_sms(poor, PHONES[:1], "Hi")
    assert (message.status, message.reason) == (Status.UNSENT, "3000")  # ECO limit (§2)


@pytest.mark.parametrize("fault", ["accept_then_drop", "malformed"])
def test_an_answer_lost_after_sending_is_found_by_unique_id(simulator_settings, account, fault):
    simulator_settings.faults([fault])
    (message,) = send_sms(account, PHONES[:1], "Hi")
    assert message.status == Status.QUEUED
    assert message.match_method == "unique_id"
    (seen,) = simulator_settings.messages()
    assert seen["id"] == message.serwersms_id
    assert len(sending_requests(simulator_settings)) == 1


def test_http_500_is_unsent_after_checking(simulator_settings, account):
    simulator_settings.faults(["http_500"])
    (message,) = send_sms(account, PHONES[:1], "Hi")
    assert message.status == Status.UNSENT
    assert message.reason == "server_error" and message.error_message
    assert simulator_settings.messages() == []


def test_a_timeout_is_never_sent_twice(simulator_settings, account, settings):
    settings.SERWERSMS_TIMEOUT = 0.5
    simulator_settings.faults(["slow"], slow_seconds=1.5)
    (message,) = send_sms(account, PHONES[:1], "Hi")
    # Not known yet when we looked: still submitting with the timeout noted.
    assert message.status in (Status.SUBMITTING, Status.QUEUED)
    assert message.reason == "timeout_or_dropped"
    assert len(sending_requests(simulator_settings)) == 1
    assert Message.objects.count() == 1


def test_xml_api_wrong_credentials_mark_unsent(simulator_settings, account):
    account.password = "wrong"
    account.save()
    (message,) = send_sms(account, PHONES[:1], "Hi", channel="xml_api")
    # <Blad> comes as text unless the panel asks for numbers (§4): a refusal without a code.
    assert message.status == Status.UNSENT and message.error_message


@pytest.mark.parametrize("key_in_portal", ["WrongKey1", "SimKey1"])
def test_an_email2sms_mail_serwersms_ignores_is_never_counted(
    simulator_settings, account, key_in_portal
):
    """§6: a mail with a wrong key is accepted by the mail server and silently ignored; the
    portal has no report for it, so it never counts (the right key counts once reported)."""
    from billing.services.polling import poll_account
    from billing.statuses import COUNTED, PENDING

    account.email2sms_key = key_in_portal
    account.save()
    (message,) = send_sms(account, PHONES[:1], "Hi", channel="email2sms")
    assert message.status == Status.QUEUED  # accepted by SMTP: pending, not counted
    simulator_settings.advance(to="final")
    poll_account(account)
    message.refresh_from_db()
    if key_in_portal == "WrongKey1":
        assert simulator_settings.messages() == []
        assert "key" in simulator_settings.mails()[-1]["result"]
        assert message.status in PENDING and message.status not in COUNTED
    else:
        [seen] = simulator_settings.messages()
        assert message.status == seen["status"]
