"""The outbox write: send_sms validates, writes `submitting` rows, queues the send on commit,
and answers a repeated unique_id as the first time (tests/billing/services/test_delivery.py:
the send task)."""

import pytest

from billing.models import Message
from billing.services.outbox import SendError, UniqueIdConflict, send_sms
from billing.statuses import Status
from tests.billing.services import simulated_account
from tests.billing.services.simulated_account import PHONE, PHONES, sends
from tests.factories import ClientAccountFactory

pytestmark = pytest.mark.django_db
account = simulated_account.account  # the fixture (shared by the outbox and delivery tests)


def test_send_sms_writes_submitting_rows_and_queues_the_task_on_commit(
    account, simulator_settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        (message,) = send_sms(account, ["500 600 700"], "Hello there")
    assert message.status == Status.SUBMITTING and message.phone == PHONE
    # Queued only when the rows are committed: the send task and the drafts' refresh.
    assert len(queued) == 2
    assert sends(simulator_settings) == []  # nothing sent inside the caller's transaction
    assert message.text == "Hello there"  # the outbox keeps the text until it is sent


@pytest.mark.django_db(transaction=True)
def test_wait_returns_the_outcome_once_a_worker_finished(account, celery_eager):
    # Outside a test transaction the rows commit at once; the eager "worker" sends at commit.
    (message,) = send_sms(account, [PHONE], "Hi", wait=5)
    assert message.status == Status.QUEUED


def test_several_recipients_get_numbered_unique_ids(account, send_now, simulator_settings):
    messages = send_now(account, PHONES, "Hi", unique_id="order7")
    assert [m.unique_id for m in messages] == ["order7R1", "order7R2"]
    assert {m.status for m in messages} == {Status.QUEUED}
    assert len(sends(simulator_settings)) == 1


def test_each_recipient_may_bring_its_own_unique_id(account, send_now, simulator_settings):
    messages = send_now(account, PHONES, "Hi", unique_ids=["first1", "second2"])
    assert [m.unique_id for m in messages] == ["first1", "second2"]
    assert {m.status for m in messages} == {Status.QUEUED}
    again = send_now(account, PHONES, "Hi", unique_ids=["first1", "second2"])
    assert [m.pk for m in again] == [m.pk for m in messages]
    assert len(sends(simulator_settings)) == 1
    for bad, why in (
        (["only1"], "one unique id per recipient"),
        (["same1", "same1"], "given twice"),
        (["ok1", "no-dash"], "Invalid unique id"),
    ):
        with pytest.raises(SendError, match=why):
            send_now(account, PHONES, "Hi", unique_ids=bad)
    with pytest.raises(SendError, match="not both"):
        send_now(account, PHONES, "Hi", unique_id="abc", unique_ids=["a12", "b12"])


def test_the_same_unique_id_sends_once_and_answers_as_the_first_time(
    account, send_now, simulator_settings
):
    first = send_now(account, [PHONE], "Hi", unique_id="abc")
    again = send_now(account.name, [PHONE], "Hi", unique_id="abc")
    assert [m.pk for m in again] == [m.pk for m in first]
    assert again[0].serwersms_id == first[0].serwersms_id
    assert len(sends(simulator_settings)) == 1 and Message.objects.count() == 1


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
    account, send_now, simulator_settings, phones, text, sender, expected
):
    send_now(account, [PHONE], "Hi", unique_id="abc")
    with pytest.raises(UniqueIdConflict, match=expected):
        send_now(account, phones, text, sender=sender, unique_id="abc")
    assert Message.objects.count() == 1 and len(sends(simulator_settings)) == 1


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
def test_bad_input_is_refused_before_anything_is_written_or_sent(
    account, send_now, simulator_settings, kwargs, expected
):
    arguments = {"recipients": [PHONE], "text": "Hi"} | kwargs
    with pytest.raises(SendError, match=expected):
        send_now(account, **arguments)
    assert not Message.objects.exists() and simulator_settings.requests() == []


def test_unknown_inactive_and_incomplete_accounts_are_refused(account, send_now):
    with pytest.raises(SendError, match="Unknown client account 'nobody'"):
        send_now("nobody", [PHONE], "Hi")
    with pytest.raises(SendError, match="is not active"):
        send_now(ClientAccountFactory(is_active=False), [PHONE], "Hi")
    with pytest.raises(SendError, match="XML API needs"):
        send_now(ClientAccountFactory(), [PHONE], "Hi", channel="xml_api")
    account.partner.is_active = False
    account.partner.save()
    with pytest.raises(SendError, match="Partner .* is not active"):
        send_now(account, [PHONE], "Hi")
    assert not Message.objects.exists()


def test_email2sms_needs_the_address_and_key(account, send_now):
    account.email2sms_key = ""
    account.save()
    with pytest.raises(SendError, match="Email2SMS sender address and key"):
        send_now(account, [PHONE], "Hi", channel="email2sms")
    assert not Message.objects.exists()
