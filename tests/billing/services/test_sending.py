"""The send service: rows written before the call, answers recorded, idempotency, failures."""

import hashlib

import pytest
from django.core import mail

from billing.models import Message, StatusEvent
from billing.services.sending import SendError, UniqueIdConflict, resolve_submitting, send_sms
from billing.statuses import Status
from tests.conftest import free_port
from tests.factories import ClientAccountFactory, PartnerFactory

pytestmark = pytest.mark.django_db
PHONE = "+48500600700"


@pytest.fixture
def account():
    return ClientAccountFactory(partner=PartnerFactory(ic=4242), username="user", password="pw")


def sends(stub) -> list:
    return [r for r in stub.requests if r.action in ("messages/send_sms", "wyslij_sms")]


def test_api_v2_send_records_the_answer(stub, account):
    (message,) = send_sms(account, ["500 600 700"], "Hello there")
    assert message.status == Status.QUEUED
    assert message.phone == PHONE and message.serwersms_id.startswith("s")
    assert (message.partner, message.ic, message.channel) == (account.partner, 4242, "api_v2")
    assert message.message_type == "eco" and message.sender == ""
    assert message.text == "" and message.text_length == 11
    assert message.text_digest == hashlib.sha256(b"Hello there").hexdigest()
    assert message.queued_at and message.dispatched_at == message.queued_at
    assert message.match_method == "send" and len(message.unique_id) == 32
    assert [(e.old_status, e.new_status, e.source) for e in message.events.all()] == [
        ("", "submitting", "send"),
        ("submitting", "queued", "send"),
    ]
    (request,) = stub.requests
    assert request.json["ic"] == 4242
    assert request.json["unique_id"] == [message.unique_id]


def test_text_is_kept_only_when_the_setting_says_so(stub, account, settings):
    settings.STORE_MESSAGE_TEXT = True
    (message,) = send_sms(account, [PHONE], "Keep me")
    assert message.text == "Keep me"


def test_a_sender_makes_a_full_sms(stub, account):
    (message,) = send_sms(account, [PHONE], "Hi", sender="Shop")
    assert (message.message_type, message.sender) == ("full", "Shop")
    assert stub.requests[0].json["sender"] == "Shop"


def test_several_recipients_get_numbered_unique_ids(stub, account):
    messages = send_sms(account, [PHONE, "+48500600701"], "Hi", unique_id="order-7")
    assert [m.unique_id for m in messages] == ["order-7-1", "order-7-2"]
    assert {m.status for m in messages} == {Status.QUEUED}
    assert len(sends(stub)) == 1


def test_the_same_unique_id_sends_once_and_answers_as_the_first_time(stub, account):
    first = send_sms(account, [PHONE], "Hi", unique_id="abc")
    again = send_sms(account.name, [PHONE], "Hi", unique_id="abc")
    assert [m.pk for m in again] == [m.pk for m in first]
    assert again[0].serwersms_id == first[0].serwersms_id
    assert len(sends(stub)) == 1
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("phones", "text", "sender", "expected"),
    [
        (["+48500600701"], "Hi", "", "different phone"),
        ([PHONE], "Other text", "", "different text"),
        ([PHONE], "Hi", "Shop", "different sender"),
        ([PHONE, "+48500600701"], "Hi", "", "different list of recipients"),
    ],
)
def test_a_reused_unique_id_for_another_message_is_refused(
    stub, account, phones, text, sender, expected
):
    send_sms(account, [PHONE], "Hi", unique_id="abc")
    with pytest.raises(UniqueIdConflict, match=expected):
        send_sms(account, phones, text, sender=sender, unique_id="abc")
    assert Message.objects.count() == 1
    assert len(sends(stub)) == 1


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"recipients": ["12"]}, "not a valid phone number"),
        ({"recipients": ["call me"]}, "not a phone number"),
        ({"recipients": []}, "at least one recipient"),
        ({"recipients": [PHONE, "500600700"]}, "listed twice"),
        ({"text": "   "}, "text is empty"),
        ({"text": "x" * 919}, "too long"),
        ({"sender": "MuchTooLongName"}, "Invalid sender"),
        ({"sender": "Bad!"}, "Invalid sender"),
        ({"channel": "carrier_pigeon"}, "Unknown channel"),
        ({"unique_id": "has space"}, "Invalid unique id"),
        ({"channel": "email2sms", "sender": "Shop"}, "Email2SMS cannot set a sender"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written_or_sent(stub, account, kwargs, expected):
    arguments = {"recipients": [PHONE], "text": "Hi"} | kwargs
    with pytest.raises(SendError, match=expected):
        send_sms(account, **arguments)
    assert not Message.objects.exists()
    assert stub.requests == []


def test_unknown_account_is_refused(stub):
    with pytest.raises(SendError, match="Unknown client account 'nobody'"):
        send_sms("nobody", [PHONE], "Hi")
    assert not Message.objects.exists()


def test_inactive_partner_and_account_are_refused(stub, account):
    account.partner.is_active = False
    account.partner.save()
    with pytest.raises(SendError, match="Partner .* is not active"):
        send_sms(account, [PHONE], "Hi")
    inactive = ClientAccountFactory(is_active=False)
    with pytest.raises(SendError, match="is not active"):
        send_sms(inactive, [PHONE], "Hi")
    assert not Message.objects.exists() and stub.requests == []


def test_xml_api_needs_a_username_and_password(stub):
    token_only = ClientAccountFactory()
    with pytest.raises(SendError, match="XML API needs"):
        send_sms(token_only, [PHONE], "Hi", channel="xml_api")
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("status", "error", "reason"),
    [
        (401, {"code": 1001, "type": "InvalidCredentials", "message": "Bad login"}, "1001"),
        (402, {"code": 3001, "type": "LimitExhausted", "message": "No SMS left"}, "3001"),
        (400, {"code": 2004, "type": "ValidationError", "message": "Bad input"}, "2004"),
    ],
)
def test_a_refused_call_marks_the_messages_unsent(stub, account, status, error, reason):
    stub.answer(status=status, body={"success": False, "error": error})
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.UNSENT
    assert (message.reason, message.error_message) == (reason, error["message"])
    assert message.serwersms_id is None
    assert message.events.last().new_status == Status.UNSENT
    assert len(sends(stub)) == 1


@pytest.mark.parametrize(
    "canned",
    [
        {"status": 500, "body": "Internal Server Error", "content_type": "text/plain"},
        {"body": "{this is not json"},
    ],
)
def test_500_or_malformed_is_checked_then_marked_unsent(stub, account, canned):
    stub.answer(**canned)
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.UNSENT
    assert message.reason in ("server_error", "malformed_response")
    # Looked up by unique id before deciding, never sent again.
    assert [r.action for r in stub.requests] == ["messages/send_sms", "messages/reports"]
    assert stub.requests[1].json["unique_id"] == [message.unique_id]


def test_malformed_answer_to_a_send_that_happened_is_found_not_called_unsent(stub, account):
    stub.answer(body="<html>", content_type="text/html", then_default=True)
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.QUEUED and message.match_method == "unique_id"


def test_a_timeout_after_sending_is_resolved_by_unique_id_not_by_sending_again(
    stub, account, settings
):
    settings.SERWERSMS_TIMEOUT = 0.3
    stub.answer(delay=1.0, then_default=True)  # SerwerSMS queues it, the answer comes too late
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.QUEUED
    assert message.serwersms_id == stub.sent[0]["id"]
    assert message.match_method == "unique_id"
    assert len(sends(stub)) == 1
    assert message.events.last().source == "send"


def test_a_dropped_connection_after_sending_is_resolved(stub, account):
    stub.answer(drop=True, then_default=True)
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.QUEUED and len(sends(stub)) == 1


def test_a_timeout_with_nothing_found_stays_submitting_with_the_error_noted(
    stub, account, settings
):
    settings.SERWERSMS_TIMEOUT = 0.3
    stub.answer(delay=1.0)
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.SUBMITTING
    assert message.reason == "timeout_or_dropped" and "did not answer" in message.error_message
    # A later pass finds it once SerwerSMS knows it; it is not sent again.
    stub.sent.append({"id": "late1", "phone": PHONE, "unique_id": message.unique_id})
    assert resolve_submitting(message) == "found"
    message.refresh_from_db()
    assert (message.status, message.serwersms_id) == (Status.QUEUED, "late1")
    assert len(sends(stub)) == 1


def test_connection_refused_is_unsent(account, settings):
    settings.SERWERSMS_API_URL = f"http://127.0.0.1:{free_port()}/"
    settings.SERWERSMS_RETRIES = 0
    (message,) = send_sms(account, [PHONE], "Hi")
    assert (message.status, message.reason) == (Status.UNSENT, "not_connected")


def test_an_unsent_item_keeps_its_error(stub, account):
    stub.answer(
        body={
            "success": True,
            "items": [
                {"phone": PHONE, "status": "unsent", "error_code": 2001, "error_message": "bad"}
            ],
        }
    )
    (message,) = send_sms(account, [PHONE], "Hi")
    assert (message.status, message.reason, message.error_message) == ("unsent", "2001", "bad")
    assert message.dispatched_at is None


def test_xml_api_send_and_timeout_resolution(stub, account, settings):
    (message,) = send_sms(account, [PHONE], "Hi", channel="xml_api")
    assert message.status == Status.QUEUED and message.channel == "xml_api"
    assert stub.requests[0].form["ic"] == "4242"
    settings.SERWERSMS_TIMEOUT = 0.3
    stub.answer(delay=1.0, then_default=True)
    (late,) = send_sms(account, ["+48500600701"], "Hi", channel="xml_api")
    assert late.status == Status.QUEUED and late.match_method == "unique_id"
    assert stub.requests[-1].form["akcja"] == "sprawdz_sms"
    assert "ic" not in stub.requests[-1].form


def test_email2sms_sends_one_mail_per_recipient(account, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    account.email2sms_sender = "shop@example.com"
    account.save()
    messages = send_sms(account, [PHONE, "+48500600701"], "Hi", channel="email2sms")
    assert [m.status for m in messages] == [Status.QUEUED, Status.QUEUED]
    assert all(m.serwersms_id is None and m.match_method == "" for m in messages)
    assert [(x.subject, x.extra_headers["SerwerSMS-Dealer"]) for x in mail.outbox] == [
        (PHONE, "4242"),
        ("+48500600701", "4242"),
    ]
    assert mail.outbox[0].from_email == "shop@example.com"


def test_email2sms_without_a_server_is_unsent(account, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.SERWERSMS_EMAIL2SMS_PORT = free_port()
    (message,) = send_sms(account, [PHONE], "Hi", channel="email2sms")
    assert (message.status, message.reason) == (Status.UNSENT, "not_connected")
    assert StatusEvent.objects.filter(message=message).count() == 2


def test_a_timeout_for_several_recipients_is_resolved_in_one_lookup(stub, account, settings):
    settings.SERWERSMS_TIMEOUT = 0.3
    stub.answer(delay=1.0, then_default=True)
    messages = send_sms(account, [PHONE, "+48500600701", "+48500600702"], "Hi", unique_id="b")
    assert [m.status for m in messages] == [Status.QUEUED] * 3
    assert [r.action for r in stub.requests] == ["messages/send_sms", "messages/reports"]
    assert stub.requests[1].json["unique_id"] == ["b-1", "b-2", "b-3"]


def test_a_500_whose_lookup_also_fails_stays_submitting(stub, account):
    stub.answer(status=500, body="boom")
    stub.answer(status=500, body="still boom")
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.SUBMITTING
    assert message.reason == "server_error"
    assert message.error_message.startswith("Lookup failed")
    assert len(sends(stub)) == 1


def test_malformed_xml_answer_is_checked_by_usmsid_then_marked_unsent(stub, account):
    stub.answer(body="<SerwerSMS><Odbiorcy>", content_type="text/xml")
    (message,) = send_sms(account, [PHONE], "Hi", channel="xml_api")
    assert (message.status, message.reason) == (Status.UNSENT, "malformed_response")
    assert [r.form["akcja"] for r in stub.requests] == ["wyslij_sms", "sprawdz_sms"]
    assert stub.requests[1].form["usmsid"] == message.unique_id
