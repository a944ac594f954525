"""Email2SMS mails matched one-to-one to SerwerSMS's reports: phone, text, time, each once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import Channel, Message
from billing.services import derived, polling
from billing.services.email2sms_matching import NO_REPORT_REASON
from billing.services.outbox import text_digest
from billing.serwersms import client_for
from billing.serwersms.errors import TransportError
from billing.statuses import COUNTED, FINAL, Status
from tests.factories import ClientAccountFactory

pytestmark = pytest.mark.django_db
PHONE = "+48500111222"


@pytest.fixture
def account(simulator_settings, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    simulator_settings.register_account(
        token="tok-mail", email="mail@shop.pl", email2sms_key="MailKey1"
    )
    return ClientAccountFactory(
        api_token="tok-mail", email2sms_sender="mail@shop.pl", email2sms_key="MailKey1"
    )


def mail(account, phone: str, text: str, *, send: bool = True, at=None) -> Message:
    """A mail as the send task leaves it: handed over (queued), no SerwerSMS id yet."""
    now = at or timezone.now()
    message = Message.objects.create(
        partner=account.partner,
        account=account,
        ic=account.partner.ic,
        channel=Channel.EMAIL2SMS,
        unique_id=f"m{Message.objects.count()}{phone[-4:]}",
        phone=phone,
        text_digest=text_digest(text),
        status=Status.QUEUED,
        created_at=now,
        queued_at=now,
        dispatched_at=now,
    )
    derived.messages_created([message], drafts=False)  # as the outbox writes it
    if send:
        client_for(account, Channel.EMAIL2SMS).send(phone, text)
    return message


def by_text(simulator) -> dict[str, str]:
    return {m["text"]: m["id"] for m in simulator.messages()}


def test_two_mails_to_one_phone_moments_apart_each_get_their_own_report(account, simulator):
    first = mail(account, PHONE, "Your code is 1111", send=False)
    second = mail(account, PHONE, "Your code is 2222")  # well within a second of the first
    client_for(account, Channel.EMAIL2SMS).send(PHONE, "Your code is 1111")  # a retry: later
    polling.poll_account(account)
    ids = by_text(simulator)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.serwersms_id == ids["Your code is 1111"]
    assert second.serwersms_id == ids["Your code is 2222"]
    assert first.match_method == second.match_method == "phone_time"


def test_the_same_text_twice_takes_two_reports_each_once(account, simulator):
    rows = [mail(account, PHONE, "Same text"), mail(account, PHONE, "Same text")]
    simulator.advance(to="final")
    polling.poll_account(account)
    polling.poll_account(account)
    ids = []
    for row in rows:
        row.refresh_from_db()
        assert row.status in FINAL
        ids.append(row.serwersms_id)
    assert sorted(ids) == sorted(m["id"] for m in simulator.messages())


def test_a_mail_serwersms_never_received_takes_no_other_mails_report(account, simulator, settings):
    received = mail(account, PHONE, "Arrived")
    lost = mail(account, PHONE, "Never arrived", send=False)
    simulator.advance(to="final")
    polling.poll_account(account)
    received.refresh_from_db()
    lost.refresh_from_db()
    assert received.serwersms_id == by_text(simulator)["Arrived"]
    assert (lost.serwersms_id, lost.status) == (None, Status.QUEUED)  # waits, within the grace


def test_a_mail_with_no_report_after_the_grace_ends_unsent_and_never_counts(account, simulator):
    old = timezone.now() - timedelta(hours=1)
    lost = mail(account, PHONE, "Never arrived", send=False, at=old)
    polling.poll_account(account)
    lost.refresh_from_db()
    assert (lost.status, lost.reason) == (Status.UNSENT, NO_REPORT_REASON)
    assert "reported no message for this mail" in lost.error_message
    assert lost.status not in COUNTED


def test_a_report_of_another_text_or_outside_the_window_is_never_taken(account, simulator):
    mail(account, PHONE, "Real text", send=False)
    client_for(account, Channel.EMAIL2SMS).send(PHONE, "Some other text")
    late = mail(account, "+48500333444", "Late", send=False, at=timezone.now() - timedelta(hours=1))
    Message.objects.filter(pk=late.pk).update(queued_at=timezone.now() - timedelta(minutes=50))
    client_for(account, Channel.EMAIL2SMS).send("+48500333444", "Late")  # 50 min too late
    polling.poll_account(account)
    assert not Message.objects.filter(serwersms_id__isnull=False).exists()


class GivesUpOnce:
    """A stand-in reports source whose own retries gave up once (SerwerSMS down), then answers."""

    def __init__(self):
        self.calls = 0

    def reports_by_phones(self, phones, date_from, date_to):
        self.calls += 1
        if self.calls == 1:
            raise TransportError("connection refused", may_have_been_sent=False)
        return []

    def reports_by_ids(self, ids):
        return []

    def xml_check(self, ids):
        return []


def test_a_poll_read_is_retried_by_its_source_alone_never_again_around_it(settings):
    settings.SERWERSMS_RETRY_BASE_SECONDS = 0  # a second retry around the source would not wait
    account = ClientAccountFactory(api_token="tok-down")
    waiting = mail(account, PHONE, "Your code is 3333", send=False)
    source = GivesUpOnce()
    summary = polling.poll_account(account, source=source)
    assert source.calls == 1  # the source's policy had its deadline; nothing asks again
    assert summary.errors == 1  # left to the next pass
    waiting.refresh_from_db()
    assert (waiting.serwersms_id, waiting.status) == (None, Status.QUEUED)
