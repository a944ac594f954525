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


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"recipients": ["12"]}, "recipients", id="bad phone"),
        pytest.param({"recipients": []}, "recipients", id="no recipient"),
        pytest.param({"recipients": [PHONE, "500600700"]}, "recipients", id="phone twice"),
        pytest.param({"recipients": [PHONE, "5006\x0000701"]}, "recipients", id="NUL in phone"),
        pytest.param({"text": "x" * 919}, "text", id="text too long"),
        pytest.param({"text": "   "}, "text", id="empty text"),
        pytest.param({"text": 42}, "text", id="text not a string"),
        pytest.param({"text": "Hi\x00"}, "text", id="NUL in text"),
        pytest.param({"sender": "Bad!"}, "sender", id="bad sender"),
        pytest.param({"sender": "Sh\x00p"}, "sender", id="NUL in sender"),
        pytest.param(
            {"channel": "email2sms", "sender": "Shop.pl"}, "sender", id="bad Email2SMS sender"
        ),
        pytest.param({"channel": "carrier_pigeon"}, "channel", id="unknown channel"),
        pytest.param({"unique_id": "ab"}, "unique_id", id="bad unique_id"),
        pytest.param({"unique_id": "ab\x00c"}, "unique_id", id="NUL in unique_id"),
        pytest.param({"unique_ids": ["only1", "only2"]}, "unique_id", id="ids per recipient"),
        pytest.param(
            {"unique_ids": ["ok1", "no-dash"], "recipients": PHONES}, "unique_id", id="bad id"
        ),
        pytest.param({"unique_id": "abc", "unique_ids": ["abc"]}, "unique_id", id="both ids"),
        pytest.param({"account": "nobody"}, "account", id="unknown account"),
    ],
)
def test_each_refusal_names_the_argument_it_concerns(account, send_now, kwargs, field):
    arguments = {"account": account, "recipients": [PHONE], "text": "Hi"} | kwargs
    with pytest.raises(SendError) as refused:
        send_now(**arguments)
    assert refused.value.field == field


def test_an_account_that_cannot_use_the_channel_is_refused_on_the_channel(account, send_now):
    bare = ClientAccountFactory()  # a token only: no login for the XML API, no Email2SMS key
    for channel in ("xml_api", "email2sms"):
        with pytest.raises(SendError) as refused:
            send_now(bare, [PHONE], "Hi", channel=channel)
        assert refused.value.field == "channel", channel
    account.partner.is_active = False
    account.partner.save()
    with pytest.raises(SendError) as refused:
        send_now(account, [PHONE], "Hi")
    assert refused.value.field == "account"
