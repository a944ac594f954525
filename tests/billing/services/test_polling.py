"""The poll pass against the live simulator: batches, paging, every channel, bulk and idempotent."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Channel, ClientAccount, Message, StatusEvent
from billing.services import polling
from billing.serwersms import client_for
from billing.statuses import FINAL, Status
from tests.factories import ClientAccountFactory, MessageFactory, change_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(simulator_settings):
    account = ClientAccountFactory(
        api_token="tok-poll",
        username="user-poll",
        password="pw-poll",
        email2sms_sender="a@b.pl",
        email2sms_key="PollKey1",
    )
    simulator_settings.register_account(
        token="tok-poll",
        username="user-poll",
        password="pw-poll",
        email="a@b.pl",
        email2sms_key="PollKey1",
    )
    return account


def uid(channel: str, phone: str) -> str:
    """A unique_id in SerwerSMS's alphabet (a-z A-Z 0-9, serwersms-api.md §3)."""
    return f"u{channel.replace('_', '')}{phone.lstrip('+')}"


def send(
    account: ClientAccount, count: int, channel: str = Channel.API_V2, *, first: int = 0
) -> list[Message]:
    """Send through the real client to the simulator and record the rows as the send service."""
    phones = [f"+4850060{n:04d}" for n in range(first, first + count)]
    client = client_for(account, channel)
    items = []
    for start in range(0, count, 100):
        chunk = phones[start : start + 100]
        items += client.send_sms(chunk, "status test", unique_ids=[uid(channel, p) for p in chunk])
    return [
        MessageFactory(
            account=account,
            channel=channel,
            phone=item.phone or phones[n],
            serwersms_id=item.serwersms_id,
            unique_id=uid(channel, phones[n]),
            status=Status.QUEUED,
            queued_at=item.queued_at,
            dispatched_at=item.queued_at,
        )
        for n, item in enumerate(items)
    ]


def final_event_counts(messages):
    return [
        StatusEvent.objects.filter(message=m, applied=True, new_status=m.status).count()
        for m in messages
    ]


def test_pass_brings_every_message_to_its_simulated_final_status(account, simulator, settings):
    settings.SERWERSMS_REPORTS_BATCH = 7  # several calls, each with its pages
    settings.SERWERSMS_REPORTS_PAGE_LIMIT = 3
    messages = send(account, 20)
    simulator.advance(to="final")
    summary = polling.poll_account(account)
    truth = {m["id"]: m for m in simulator.messages()}
    for message in messages:
        message.refresh_from_db()
        expected = truth[message.serwersms_id]
        assert message.status == expected["status"]
        assert message.reason == (expected["reason"] or "")
        if message.status in ("sent", "delivered", "undelivered"):
            assert message.sent_at is not None and message.dispatched_at == message.sent_at
            assert message.cost is not None
        assert message.last_checked_at is not None
    assert summary.changed == 20 and summary.errors == 0
    assert final_event_counts(messages) == [1] * 20
    calls = [r for r in simulator.requests() if "reports" in str(r.get("path", r))]
    assert len(calls) >= 3  # 20 ids in batches of 7, paged by 3


def test_second_pass_changes_nothing_and_final_messages_are_not_asked_again(account, simulator):
    messages = send(account, 5)
    simulator.advance(to="final")
    polling.poll_account(account)
    events = StatusEvent.objects.count()
    second = polling.poll_account(account)
    assert second.changed == 0 and second.checked == 0
    assert StatusEvent.objects.count() == events
    assert all(m.status in FINAL for m in Message.objects.filter(pk__in=[m.pk for m in messages]))


def test_intermediate_steps_are_followed_forward(account, simulator):
    [message] = send(account, 1)
    simulator.advance(steps=1)
    polling.poll_account(account)
    message.refresh_from_db()
    first = message.status
    simulator.advance(to="final")
    polling.poll_account(account)
    message.refresh_from_db()
    assert first in ("in_progress", "unsent")
    assert message.status in FINAL
    statuses = list(message.events.filter(applied=True).values_list("new_status", flat=True))
    assert statuses[0] == first and statuses[-1] == message.status


def test_messages_past_the_maximum_age_are_no_longer_polled_and_stay_sent(account, simulator):
    [message] = send(account, 1)
    change_message(message, status=Status.SENT, created_at=timezone.now() - timedelta(days=8))
    simulator.advance(to="final")
    summary = polling.poll_account(account)
    message.refresh_from_db()
    assert message.status == "sent" and summary.checked == 0


def test_xml_api_messages_are_followed_with_sprawdz_sms(account, simulator):
    messages = send(account, 3, Channel.XML_API)
    simulator.advance(to="final")
    polling.poll_account(account)
    truth = {m["id"]: m["status"] for m in simulator.messages()}
    for message in messages:
        message.refresh_from_db()
        assert message.status == truth[message.serwersms_id]
    paths = " ".join(str(r) for r in simulator.requests())
    assert "sprawdz_sms" in paths


def test_a_pass_never_sends_and_leaves_the_outbox_to_the_send_task(account, simulator):
    [message] = send(account, 1)
    change_message(message, serwersms_id=None, status=Status.SUBMITTING)
    stale = MessageFactory(
        account=account,
        serwersms_id=None,
        status=Status.SUBMITTING,
        created_at=timezone.now() - timedelta(hours=2),
    )
    before = len(simulator.requests())
    polling.poll_account(account)
    asked = [r["action"] for r in simulator.requests()[before:]]
    assert not [a for a in asked if "send" in a or "wyslij" in a or a == "smtp"]
    for row in (message, stale):
        row.refresh_from_db()
        assert (row.status, row.serwersms_id) == (Status.SUBMITTING, None)


def test_a_failing_account_does_not_stop_the_others(account, simulator):
    send(account, 2)
    broken = ClientAccountFactory(api_token="not-registered")
    MessageFactory(account=broken)
    simulator.advance(to="final")
    summary = polling.poll_all_accounts()
    assert summary.errors >= 1 and summary.changed == 2
    assert any(broken.name in line for line in summary.error_messages)


def test_transient_server_errors_are_retried(account, simulator, settings):
    settings.SERWERSMS_RETRY_BASE_SECONDS = 0.01
    messages = send(account, 3)
    simulator.advance(to="final")
    simulator.faults(["http_500", "http_429"])
    summary = polling.poll_account(account)
    assert summary.errors == 0 and summary.changed == 3
    assert all(Message.objects.get(pk=m.pk).status in FINAL for m in messages)


def test_changes_are_written_in_bulk(account, simulator, settings):
    settings.SERWERSMS_REPORTS_BATCH = 100
    send(account, 60)
    simulator.advance(to="final")
    with CaptureQueriesContext(connection) as queries:
        summary = polling.poll_account(account)
    assert summary.changed == 60
    updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) <= 3  # one bulk update


def pass_queries(**kwargs) -> tuple[list[str], polling.ApplySummary]:
    """One poll pass over every active account, with the SQL it ran."""
    with CaptureQueriesContext(connection) as queries:
        summary = polling.poll_all_accounts(**kwargs)
    return [q["sql"] for q in queries.captured_queries], summary


def statements_on(queries: list[str], verb: str, table: str) -> int:
    return sum(1 for sql in queries if f'{verb} "{table}"' in sql)


def test_a_pass_costs_the_same_queries_for_500_reports_as_for_10(account, simulator):
    send(account, 10)
    simulator.advance(to="final")
    ten, summary = pass_queries()
    assert summary.changed == 10
    send(account, 500, first=10)  # the first ten are final: not asked again
    simulator.advance(to="final")
    five_hundred, summary = pass_queries()
    assert summary.changed == 500 and summary.errors == 0
    assert len(five_hundred) == len(ten), "\n".join(five_hundred)
    # Every status change in one UPDATE, every event in one INSERT.
    assert statements_on(five_hundred, "UPDATE", "billing_message") == 1
    assert statements_on(five_hundred, "INSERT INTO", "billing_statusevent") == 1
    assert StatusEvent.objects.filter(applied=True, source="poll").count() == 510


def test_idle_accounts_cost_no_queries_in_a_pass(account, simulator):
    send(account, 5)
    simulator.advance(to="final")
    alone, summary = pass_queries()
    assert summary.changed == 5
    now = timezone.now()
    for _ in range(20):  # nothing to ask about: final, or past the maximum age
        idle = ClientAccountFactory()
        MessageFactory(account=idle, status=Status.DELIVERED)
        MessageFactory(account=idle, status=Status.SENT, created_at=now - timedelta(days=8))
    send(account, 5, first=5)
    simulator.advance(to="final")
    asked_before = len(simulator.requests())
    crowded, summary = pass_queries()
    assert summary.changed == 5 and summary.errors == 0
    assert len(crowded) <= len(alone), "\n".join(crowded)
    assert len(simulator.requests()) - asked_before == 1  # one reports call, the busy account's


def test_reports_of_several_accounts_are_applied_in_one_batch(account, simulator):
    send(account, 5)
    simulator.advance(to="final")
    one, _ = pass_queries()
    others = []
    for n in range(3):
        other = ClientAccountFactory(api_token=f"tok-poll-{n}")
        simulator.register_account(token=f"tok-poll-{n}")
        others.append(other)
        send(other, 5, first=100 * (n + 1))
    simulator.advance(to="final")
    four, summary = pass_queries()
    assert summary.changed == 15 and summary.errors == 0
    assert len(four) == len(one), "\n".join(four)
    assert statements_on(four, "UPDATE", "billing_message") == 1
