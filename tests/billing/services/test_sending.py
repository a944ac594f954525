"""The send service against the live simulator: rows written before the call, answers recorded,
idempotency, and each failure the simulator's faults can cause."""

import hashlib
import time

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
def account(simulator_settings):
    simulator_settings.register_account(
        token="tok-send",
        username="user",
        password="pw",
        email="shop@example.com",
        email2sms_key="ShopKey1",
    )
    return ClientAccountFactory(
        partner=PartnerFactory(ic=4242),
        api_token="tok-send",
        username="user",
        password="pw",
        email2sms_sender="shop@example.com",
        email2sms_key="ShopKey1",
    )


@pytest.fixture
def stub(simulator_settings):
    """The simulator, as the tests below see it."""
    return simulator_settings


def sends(sim) -> list:
    return [r for r in sim.requests() if r["action"] in ("messages/send_sms", "xml:wyslij_sms")]


def actions(sim) -> list:
    return [r["action"] for r in sim.requests()]


def test_api_v2_send_records_the_answer(stub, account):
    (message,) = send_sms(account, ["500 600 700"], "Hello there")
    assert message.status == Status.QUEUED
    assert message.phone == PHONE and message.serwersms_id == stub.messages()[0]["id"]
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
    (request,) = stub.requests()
    assert request["ic"] == 4242
    assert stub.messages()[0]["unique_id"] == message.unique_id


def test_text_is_kept_only_when_the_setting_says_so(stub, account, settings):
    settings.STORE_MESSAGE_TEXT = True
    (message,) = send_sms(account, [PHONE], "Keep me")
    assert message.text == "Keep me"


def test_a_sender_makes_a_full_sms(stub, account):
    (message,) = send_sms(account, [PHONE], "Hi", sender="Shop")
    assert (message.message_type, message.sender) == ("full", "Shop")
    assert stub.messages()[0]["sender"] == "Shop"


def test_several_recipients_get_numbered_unique_ids_in_serwersms_alphabet(stub, account):
    messages = send_sms(account, [PHONE, "+48500600701"], "Hi", unique_id="order7")
    assert [m.unique_id for m in messages] == ["order7R1", "order7R2"]
    assert sorted(m["unique_id"] for m in stub.messages()) == ["order7R1", "order7R2"]
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
        ({"unique_id": "order-7"}, "Invalid unique id"),
        ({"unique_id": "a.b:c_d"}, "Invalid unique id"),
        ({"unique_id": "ab"}, "Invalid unique id"),
        ({"unique_id": "x" * 51}, "Invalid unique id"),
        ({"recipients": [PHONE, "+48500600701"], "unique_id": "x" * 49}, "too long"),
        ({"channel": "email2sms", "sender": "Shop.pl"}, "Invalid Email2SMS sender"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written_or_sent(stub, account, kwargs, expected):
    arguments = {"recipients": [PHONE], "text": "Hi"} | kwargs
    with pytest.raises(SendError, match=expected):
        send_sms(account, **arguments)
    assert not Message.objects.exists()
    assert stub.requests() == []


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
    assert not Message.objects.exists() and stub.requests() == []


def test_xml_api_needs_a_username_and_password(stub):
    token_only = ClientAccountFactory()
    with pytest.raises(SendError, match="XML API needs"):
        send_sms(token_only, [PHONE], "Hi", channel="xml_api")
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("account_change", "reason"),
    [
        ({"token": "tok-send", "name": "x", "limit": 0}, "3000"),
        ({"token": "tok-send", "denied_types": ["eco"]}, "3001"),
    ],
)
def test_a_refused_call_marks_the_messages_unsent(stub, account, account_change, reason):
    stub.register_account(**account_change)
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.UNSENT
    assert message.reason == reason and message.error_message
    assert message.serwersms_id is None
    assert message.events.last().new_status == Status.UNSENT
    assert len(sends(stub)) == 1 and stub.messages() == []


def test_wrong_credentials_mark_the_messages_unsent(stub, account):
    account.api_token = "wrong"
    account.save()
    (message,) = send_sms(account, [PHONE], "Hi")
    assert (message.status, message.reason) == (Status.UNSENT, "1001")


def test_a_500_before_anything_was_taken_is_checked_then_marked_unsent(stub, account, settings):
    settings.SERWERSMS_RETRIES = 0
    stub.faults(["http_500"])
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.UNSENT
    assert message.reason == "server_error"
    # Looked up by unique id before deciding, never sent again.
    assert actions(stub) == ["messages/send_sms", "messages/view"]


@pytest.mark.parametrize("fault", ["accept_then_500", "malformed"])
def test_a_broken_answer_to_a_send_that_happened_is_found_not_called_unsent(stub, account, fault):
    stub.faults([fault])
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.QUEUED and message.match_method == "unique_id"
    assert message.serwersms_id == stub.messages()[0]["id"]
    assert len(sends(stub)) == 1


def test_a_dropped_connection_after_sending_is_resolved_by_unique_id_not_by_sending_again(
    stub, account
):
    stub.faults(["accept_then_drop"])
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.QUEUED and message.match_method == "unique_id"
    assert message.serwersms_id == stub.messages()[0]["id"]
    assert len(sends(stub)) == 1
    assert message.events.last().source == "send"


def test_a_timeout_with_nothing_found_stays_submitting_with_the_error_noted(
    stub, account, settings
):
    settings.SERWERSMS_TIMEOUT = 0.3
    stub.faults(["slow"], slow_seconds=1.0)  # SerwerSMS takes it only after we gave up waiting
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.SUBMITTING
    assert message.reason == "timeout_or_dropped" and "did not answer" in message.error_message
    # A later pass finds it once SerwerSMS knows it; it is not sent again.
    deadline = time.monotonic() + 5
    while not stub.messages() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert resolve_submitting(message) == "found"
    message.refresh_from_db()
    assert (message.status, message.serwersms_id) == (Status.QUEUED, stub.messages()[0]["id"])
    assert len(sends(stub)) == 1


def test_connection_refused_is_unsent(account, settings):
    settings.SERWERSMS_API_URL = f"http://127.0.0.1:{free_port()}/"
    settings.SERWERSMS_RETRIES = 0
    (message,) = send_sms(account, [PHONE], "Hi")
    assert (message.status, message.reason) == (Status.UNSENT, "not_connected")


def test_the_documented_answer_is_matched_by_phone_and_an_unsent_item_keeps_its_error(
    canned, account, settings
):
    """serwersms-api.md §3's example answer, items in the other order than asked."""
    settings.SERWERSMS_API_URL = canned.url
    canned.answer(
        {
            "success": True,
            "queued": 1,
            "unsent": 1,
            "items": [
                {
                    "id": "5e0c7a1b94",
                    "phone": "+48500600701",
                    "status": "unsent",
                    "parts": 1,
                    "error_code": 2001,
                    "error_message": "bad",
                    "text": "Hi",
                },
                {
                    "id": "5e0c7a1b93",
                    "phone": "+48500600700",
                    "status": "queued",
                    "queued": "2025-03-04 10:15:02",
                    "parts": 1,
                    "text": "Hi",
                },
            ],
        }
    )
    first, second = send_sms(account, [PHONE, "+48500600701"], "Hi")
    assert (first.phone, first.status, first.serwersms_id) == (PHONE, "queued", "5e0c7a1b93")
    assert (second.status, second.reason, second.error_message) == ("unsent", "2001", "bad")
    assert second.dispatched_at is None


def test_xml_api_send_and_a_lost_answer_found_by_number(stub, account):
    (message,) = send_sms(account, [PHONE], "Hi", channel="xml_api")
    assert message.status == Status.QUEUED and message.channel == "xml_api"
    assert sends(stub)[0]["ic"] == 4242
    stub.faults(["accept_then_drop"], channel="xml_api")
    (late,) = send_sms(account, ["+48500600701"], "Hi", channel="xml_api")
    assert late.status == Status.QUEUED and late.match_method == "unique_id"
    assert late.serwersms_id == stub.messages(phone="+48500600701")[0]["id"]
    assert stub.requests()[-1]["action"] == "xml:sprawdz_sms"
    assert stub.requests()[-1]["ic"] is None


def test_email2sms_sends_one_documented_mail_per_recipient(account, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    messages = send_sms(account, [PHONE, "+48500600701"], "Hi", channel="email2sms")
    assert [m.status for m in messages] == [Status.QUEUED, Status.QUEUED]
    assert all(m.serwersms_id is None and m.match_method == "" for m in messages)
    assert [(x.subject, x.extra_headers["SerwerSMS-Dealer"]) for x in mail.outbox] == [
        (f"klucz=ShopKey1 numer={PHONE} raport=1", "4242"),
        ("klucz=ShopKey1 numer=+48500600701 raport=1", "4242"),
    ]
    assert mail.outbox[0].from_email == "shop@example.com"
    assert mail.outbox[0].body == "Hi\nEND\n"


def test_email2sms_carries_a_sender_name_in_the_subject(stub, account, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    (message,) = send_sms(account, [PHONE], "Hi", sender="Shop", channel="email2sms")
    assert (message.message_type, message.sender) == ("full", "Shop")
    assert mail.outbox[0].subject == f"klucz=ShopKey1 numer={PHONE} nadawca=Shop raport=1"


def test_email2sms_needs_the_address_and_key(stub, account):
    account.email2sms_key = ""
    account.save()
    with pytest.raises(SendError, match="Email2SMS sender address and key"):
        send_sms(account, [PHONE], "Hi", channel="email2sms")
    assert not Message.objects.exists()


def test_email2sms_without_a_server_is_unsent(account, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.SERWERSMS_EMAIL2SMS_PORT = free_port()
    (message,) = send_sms(account, [PHONE], "Hi", channel="email2sms")
    assert (message.status, message.reason) == (Status.UNSENT, "not_connected")
    assert StatusEvent.objects.filter(message=message).count() == 2


def test_a_lost_answer_for_several_recipients_is_looked_up_by_each_unique_id(stub, account):
    stub.faults(["accept_then_drop"])
    messages = send_sms(account, [PHONE, "+48500600701", "+48500600702"], "Hi", unique_id="b12")
    assert [m.status for m in messages] == [Status.QUEUED] * 3
    assert actions(stub) == ["messages/send_sms"] + ["messages/view"] * 3
    assert [m.serwersms_id for m in messages] == [
        stub.messages(unique_id=f"b12R{n}")[0]["id"] for n in (1, 2, 3)
    ]


def test_a_500_whose_lookup_also_fails_stays_submitting(stub, account, settings):
    settings.SERWERSMS_RETRIES = 0
    stub.faults(["http_500", "http_500"])
    (message,) = send_sms(account, [PHONE], "Hi")
    assert message.status == Status.SUBMITTING
    assert message.reason == "server_error"
    assert message.error_message.startswith("Lookup failed")
    assert len(sends(stub)) == 1


def test_a_500_to_an_xml_send_is_checked_by_number_then_marked_unsent(stub, account, settings):
    settings.SERWERSMS_RETRIES = 0
    stub.faults(["http_500"], channel="xml_api")
    (message,) = send_sms(account, [PHONE], "Hi", channel="xml_api")
    assert (message.status, message.reason) == (Status.UNSENT, "server_error")
    assert actions(stub) == ["xml:wyslij_sms", "xml:sprawdz_sms"]
