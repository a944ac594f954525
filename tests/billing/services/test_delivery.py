"""The delivery worker: the send task sends once, retries, looks up before a resend, settles.

send_sms (tests/billing/services/test_outbox.py) writes the rows; `send_now` runs the task."""

import hashlib
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from billing import tasks
from billing.models import Message, StatusEvent
from billing.services import delivery
from billing.services.outbox import send_sms
from billing.statuses import Status
from tests.billing.services import simulated_account
from tests.billing.services.simulated_account import IC, PHONE, PHONES, sends
from tests.conftest import free_port
from tests.factories import ClientAccountFactory, change_message

pytestmark = pytest.mark.django_db
account = simulated_account.account  # the fixture (shared by the outbox and delivery tests)


@pytest.fixture
def settle_quickly(settings):
    """A short client timeout: the one look-up (tests/conftest.py) comes that long after a send."""
    settings.SERWERSMS_TIMEOUT = 2.0


def actions(simulator) -> list[str]:
    return [r["action"] for r in simulator.requests()]


# --- the send task ---------------------------------------------------------------------------


def test_the_send_task_records_the_answer_and_forgets_the_text(
    account, simulator_settings, send_now
):
    (message,) = send_now(account, ["500 600 700"], "Hello there")
    assert message.status == Status.QUEUED
    (seen,) = simulator_settings.messages()
    assert (message.serwersms_id, message.unique_id) == (seen["id"], seen["unique_id"])
    assert (message.partner, message.ic, message.channel) == (account.partner, IC, "api_v2")
    assert message.message_type == "eco" and message.sender == ""
    assert message.text == "" and message.text_length == 11
    assert message.text_digest == hashlib.sha256(b"Hello there").hexdigest()
    assert message.queued_at and message.dispatched_at == message.queued_at
    assert message.match_method == "send" and len(message.unique_id) == 32
    assert message.send_attempts == 1 and message.send_claim == ""
    assert [(e.old_status, e.new_status, e.source) for e in message.events.all()] == [
        ("", "submitting", "send"),
        ("submitting", "queued", "send"),
    ]
    assert [r["ic"] for r in sends(simulator_settings)] == [IC]


def test_text_is_kept_when_the_setting_says_so(account, send_now, settings):
    settings.STORE_MESSAGE_TEXT = True
    (message,) = send_now(account, [PHONE], "Keep me")
    assert message.text == "Keep me"


@pytest.mark.parametrize("channel", ["api_v2", "xml_api", "email2sms"])
def test_each_channel_sends_with_the_partners_ic(simulator_settings, account, channel, send_now):
    messages = send_now(account, PHONES, "Hello from the portal", channel=channel)
    assert [m.status for m in messages] == [Status.QUEUED, Status.QUEUED]
    seen = simulator_settings.messages()
    assert sorted(s["phone"] for s in seen) == PHONES
    assert {s["ic"] for s in seen} == {IC} and {s["channel"] for s in seen} == {channel}
    if channel != "email2sms":
        assert {m.serwersms_id for m in messages} == {s["id"] for s in seen}
        assert {m.unique_id for m in messages} == {s["unique_id"] for s in seen}
    else:
        assert {m.serwersms_id for m in messages} == {None}  # named later by a matched report


def test_email2sms_sends_one_documented_mail_per_recipient(account, settings, send_now):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    messages = send_now(account, PHONES, "Hi", channel="email2sms")
    assert [m.status for m in messages] == [Status.QUEUED, Status.QUEUED]
    assert all(m.serwersms_id is None and m.match_method == "" for m in messages)
    assert [(x.subject, x.extra_headers["SerwerSMS-Dealer"]) for x in mail.outbox] == [
        (f"klucz=ShopKey1 numer={PHONE} raport=1", str(IC)),
        ("klucz=ShopKey1 numer=+48500600701 raport=1", str(IC)),
    ]
    assert mail.outbox[0].from_email == "shop@example.com"
    assert mail.outbox[0].body == "Hi\nEND\n"


def test_email2sms_carries_a_sender_name_in_the_subject(account, settings, send_now):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    (message,) = send_now(account, [PHONE], "Hi", sender="Shop", channel="email2sms")
    assert (message.message_type, message.sender) == ("full", "Shop")
    assert mail.outbox[0].subject == f"klucz=ShopKey1 numer={PHONE} nadawca=Shop raport=1"


# --- definite refusals ---------------------------------------------------------------------


def test_wrong_credentials_mark_unsent_without_retrying(account, send_now, simulator_settings):
    account.api_token = "wrong"
    account.save()
    (message,) = send_now(account, [PHONE], "Hi")
    assert (message.status, message.reason) == (Status.UNSENT, "1001")
    assert message.error_message and message.serwersms_id is None
    assert len(sends(simulator_settings)) == 1 and simulator_settings.messages() == []


def test_xml_api_wrong_credentials_mark_unsent(account, send_now):
    account.password = "wrong"
    account.save()
    (message,) = send_now(account, [PHONE], "Hi", channel="xml_api")
    assert message.status == Status.UNSENT and message.error_message


def test_limit_exhausted_marks_unsent(account, send_now, simulator_settings):
    simulator_settings.register_account(token="poor", limit=0, name="poor")
    poor = ClientAccountFactory(partner=account.partner, api_token="poor")
    (message,) = send_now(poor, [PHONE], "Hi")
    assert (message.status, message.reason) == (Status.UNSENT, "3000")  # ECO limit


# --- transient failures: one retry policy, settled by look-up, never sent twice ------------


@pytest.mark.parametrize("channel", ["api_v2", "xml_api"])
@pytest.mark.parametrize("fault", ["http_429", "drop"])
def test_a_call_that_surely_did_nothing_is_tried_again(
    account, send_now, simulator_settings, channel, fault
):
    simulator_settings.faults([fault])
    (message,) = send_now(account, [PHONE], "Hi", channel=channel)
    assert message.status == Status.QUEUED
    (seen,) = simulator_settings.messages()
    assert seen["id"] == message.serwersms_id
    assert message.send_attempts == 2


@pytest.mark.parametrize("channel", ["api_v2", "xml_api"])
@pytest.mark.parametrize("fault", ["accept_then_drop", "malformed"])
def test_an_answer_lost_after_sending_is_found_by_unique_id_not_sent_again(
    settle_quickly, account, send_now, simulator_settings, channel, fault
):
    simulator_settings.faults([fault])
    (message,) = send_now(account, [PHONE], "Hi", channel=channel)
    # API v2 finds it by our unique_id; the XML API can only ask by number and time (§4).
    expected = "unique_id" if channel == "api_v2" else "phone_time"
    assert message.match_method == expected
    # What the look-up read: reports say in_progress (§3), the XML check its `stan` word.
    assert message.status == (Status.IN_PROGRESS if channel == "api_v2" else Status.QUEUED)
    (seen,) = simulator_settings.messages()
    assert seen["id"] == message.serwersms_id
    assert len(sends(simulator_settings)) == 1


def test_a_500_is_looked_up_then_sent_again_under_the_same_unique_id(
    settle_quickly, account, send_now, simulator_settings
):
    simulator_settings.faults(["http_500"])
    (message,) = send_now(account, [PHONE], "Hi")
    assert message.status == Status.QUEUED
    (seen,) = simulator_settings.messages()
    assert seen["unique_id"] == message.unique_id and seen["id"] == message.serwersms_id
    assert actions(simulator_settings) == [
        "messages/send_sms",
        "messages/reports",  # by unique_id (§3): SerwerSMS answers it has none
        "messages/send_sms",
    ]


def test_a_timeout_is_looked_up_and_never_sent_twice(
    account, send_now, simulator_settings, settings
):
    settings.SERWERSMS_TIMEOUT = 0.3
    settings.SERWERSMS_SETTLE_MARGIN_SECONDS = 1.5  # SerwerSMS finishes the slow call meanwhile
    simulator_settings.faults(["slow_take"], slow_seconds=1.0)  # taken 0.7 s after our timeout
    (message,) = send_now(account, [PHONE], "Hi")
    assert message.status == Status.IN_PROGRESS and message.match_method == "unique_id"
    assert len(sends(simulator_settings)) == 1 and len(simulator_settings.messages()) == 1


def test_a_failed_look_up_is_asked_again_never_a_blind_resend(
    settle_quickly, account, send_now, simulator_settings
):
    simulator_settings.faults(["accept_then_drop", "http_500", "drop"])
    (message,) = send_now(account, [PHONE], "Hi")
    assert message.status == Status.IN_PROGRESS
    assert actions(simulator_settings) == [
        "messages/send_sms",
        "messages/reports",
        "messages/reports",
        "messages/reports",
    ]
    assert len(simulator_settings.messages()) == 1


def test_several_recipients_lost_answer_are_each_found(
    settle_quickly, account, send_now, simulator_settings
):
    simulator_settings.faults(["accept_then_drop"])
    messages = send_now(account, PHONES + ["+48500600702"], "Hi", unique_id="b12")
    assert [m.status for m in messages] == [Status.IN_PROGRESS] * 3
    assert {m.serwersms_id for m in messages} == {s["id"] for s in simulator_settings.messages()}
    assert len(sends(simulator_settings)) == 1


def test_unreachable_serwersms_is_retried_until_the_deadline_then_unsent(
    account, send_now, settings
):
    settings.SERWERSMS_API_URL = f"http://127.0.0.1:{free_port()}/"
    settings.SERWERSMS_SEND_DEADLINE_SECONDS = 2  # several attempts, even on a loaded machine
    (message,) = send_now(account, [PHONE], "Hi")
    assert (message.status, message.reason) == (Status.UNSENT, delivery.NOT_SENT_IN_TIME)
    assert message.send_attempts >= 2 and "could not be reached" in message.error_message


def test_email2sms_without_a_server_is_retried_then_unsent_at_the_deadline(
    account, send_now, settings
):
    settings.SERWERSMS_EMAIL2SMS_PORT = free_port()
    settings.EMAIL_PORT = settings.SERWERSMS_EMAIL2SMS_PORT
    settings.SERWERSMS_SEND_DEADLINE_SECONDS = 2  # several attempts, even on a loaded machine
    (message,) = send_now(account, [PHONE], "Hi", channel="email2sms")
    assert (message.status, message.reason) == (Status.UNSENT, delivery.NOT_SENT_IN_TIME)
    assert message.send_attempts >= 2


# --- crashes and redelivery ----------------------------------------------------------------


def test_a_crash_during_the_call_is_finished_by_looking_up_not_sending_again(
    settle_quickly, account, simulator_settings, send_now, django_capture_on_commit_callbacks
):
    simulator_settings.faults(["accept_then_drop"])
    with django_capture_on_commit_callbacks():  # the task is lost with the crashed worker
        (message,) = send_sms(account, [PHONE], "Hi")
    # The worker wrote ahead, called SerwerSMS (which took it) and died before the answer.
    Message.objects.filter(pk=message.pk).update(send_attempted_at=timezone.now())
    from billing.serwersms import client_for

    try:
        client_for(account).send_sms([PHONE], "Hi", None, [message.unique_id])
    except Exception:
        pass
    tasks.deliver_messages.apply(args=[[message.pk]])  # the redelivered task
    message.refresh_from_db()
    assert message.status == Status.IN_PROGRESS and message.match_method == "unique_id"
    assert len(simulator_settings.messages()) == 1


def test_a_lost_task_is_queued_again_by_resume_sends(
    account, simulator_settings, celery_eager, django_capture_on_commit_callbacks, settings
):
    settings.OUTBOX_RESUME_AFTER_SECONDS = 0
    with django_capture_on_commit_callbacks():  # committed, but the task never reached a broker
        (message,) = send_sms(account, [PHONE], "Hi")
    assert tasks.resume_sends.apply().get() == 1
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert tasks.resume_sends.apply().get() == 0  # nothing left in the outbox
    assert len(simulator_settings.messages()) == 1


def test_a_message_another_worker_holds_is_left_alone(
    account, simulator_settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        (message,) = send_sms(account, [PHONE], "Hi")
    Message.objects.filter(pk=message.pk).update(
        send_claim="other", send_claimed_until=timezone.now() + timedelta(minutes=1)
    )
    summary = delivery.deliver([message.pk])
    assert (summary.claimed, summary.busy) == (0, 1)
    assert simulator_settings.requests() == []
    # Once its lease ran out (the worker died), the next task takes it over.
    Message.objects.filter(pk=message.pk).update(
        send_claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert delivery.deliver([message.pk]).settled == 1


def test_a_redelivered_task_for_a_finished_send_does_nothing(account, send_now, simulator_settings):
    (message,) = send_now(account, [PHONE], "Hi")
    before = StatusEvent.objects.count()
    tasks.deliver_messages.apply(args=[[message.pk]])
    assert len(simulator_settings.requests()) == 1 and StatusEvent.objects.count() == before


def test_past_the_deadline_a_maybe_sent_message_is_only_looked_up(
    settle_quickly, account, simulator_settings, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks():
        (message,) = send_sms(account, [PHONE], "Hi")
    # Through change_message: its day's rollup moves too (an hour back is yesterday after midnight).
    change_message(
        message, send_attempted_at=timezone.now(), created_at=timezone.now() - timedelta(hours=1)
    )
    delivery.deliver([message.pk])
    message.refresh_from_db()
    assert (message.status, message.reason) == (Status.UNSENT, delivery.NOT_SENT_IN_TIME)
    assert actions(simulator_settings) == ["messages/reports"]


@pytest.mark.parametrize("key_in_portal", ["WrongKey1", "ShopKey1"])
def test_an_email2sms_mail_serwersms_ignores_is_never_counted(
    simulator_settings, account, send_now, key_in_portal
):
    """§6: a mail with a wrong key is accepted by the mail server and silently ignored; the
    portal has no report for it, so it never counts (the right key counts once reported)."""
    from billing.services.polling import poll_account
    from billing.statuses import COUNTED, PENDING

    account.email2sms_key = key_in_portal
    account.save()
    (message,) = send_now(account, [PHONE], "Hi", channel="email2sms")
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
