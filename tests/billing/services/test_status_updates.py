"""The one bulk apply path of poll and callbacks: forward only, idempotent, events for changes."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import EventSource, Message, StatusEvent
from billing.services.status_updates import apply_reports
from billing.serwersms import client_for
from billing.serwersms.types import ReportItem
from billing.statuses import FINAL, Status
from tests.factories import ClientAccountFactory
from tests.factories import MessageFactory as Factory

pytestmark = pytest.mark.django_db

QUEUED = datetime(2025, 3, 31, 21, 50, tzinfo=UTC)
SENT = datetime(2025, 3, 31, 22, 5, tzinfo=UTC)  # already April in Warsaw
DELIVERED = datetime(2025, 3, 31, 22, 6, tzinfo=UTC)
CREATED = QUEUED - timedelta(minutes=1)  # report times must be near the message's creation


def MessageFactory(**kwargs):  # noqa: N802 - the factory, written at CREATED unless told
    kwargs.setdefault("created_at", CREATED)
    return Factory(**kwargs)


def report(message, status, **extra):
    return ReportItem(
        serwersms_id=message.serwersms_id, phone=message.phone, status=status, **extra
    )


def test_delivered_report_fills_times_parts_cost_and_dispatch_time():
    message = MessageFactory(status=Status.QUEUED, queued_at=QUEUED, dispatched_at=QUEUED)
    item = report(
        message, "delivered", sent_at=SENT, delivered_at=DELIVERED, parts=2, cost=Decimal("0.16")
    )
    summary = apply_reports(message.account, [item], EventSource.POLL)
    message.refresh_from_db()
    assert (message.status, message.sent_at, message.delivered_at) == ("delivered", SENT, DELIVERED)
    assert (message.parts, message.cost) == (2, Decimal("0.1600"))
    assert message.dispatched_at == SENT  # sent time wins over queued time
    assert message.last_checked_at is not None
    assert summary.changed == 1 and summary.by_status == {"delivered": 1}
    event = message.events.get()
    assert (event.old_status, event.new_status, event.applied, event.source) == (
        "queued",
        "delivered",
        True,
        "poll",
    )
    assert event.status_at == DELIVERED


def test_same_report_twice_changes_nothing():
    message = MessageFactory(status=Status.QUEUED)
    item = report(message, "sent", sent_at=SENT)
    apply_reports(message.account, [item], EventSource.CALLBACK)
    second = apply_reports(message.account, [item], EventSource.CALLBACK)
    assert second.changed == 0 and second.ignored == 0
    assert message.events.count() == 1


def test_backward_report_is_recorded_once_and_ignored():
    message = MessageFactory(status=Status.DELIVERED, sent_at=SENT, delivered_at=DELIVERED)
    item = report(message, "sent")
    first = apply_reports(message.account, [item], EventSource.POLL)
    apply_reports(message.account, [item], EventSource.POLL)
    message.refresh_from_db()
    assert message.status == "delivered"
    assert first.ignored == 1
    event = message.events.get()
    assert (event.applied, event.old_status, event.new_status) == (False, "delivered", "sent")


def test_unknown_status_is_recorded_and_ignored():
    message = MessageFactory(status=Status.QUEUED)
    summary = apply_reports(message.account, [report(message, "exploded")], EventSource.CALLBACK)
    message.refresh_from_db()
    assert message.status == "queued"
    assert summary.ignored == 1
    assert message.events.get().applied is False


def test_dispatched_message_cannot_become_unsent():
    message = MessageFactory(status=Status.SENT, sent_at=SENT)
    apply_reports(message.account, [report(message, "unsent")], EventSource.CALLBACK)
    message.refresh_from_db()
    assert message.status == "sent"


def test_queued_then_delivered_in_one_batch_records_both_steps():
    message = MessageFactory(status=Status.QUEUED)
    items = [report(message, "sent", sent_at=SENT), report(message, "delivered", sent_at=SENT)]
    apply_reports(message.account, items, EventSource.CALLBACK)
    assert list(message.events.values_list("new_status", flat=True)) == ["sent", "delivered"]


def test_reports_of_another_account_touch_nothing():
    message = MessageFactory(status=Status.QUEUED)
    other = ClientAccountFactory()
    summary = apply_reports(other, [report(message, "delivered")], EventSource.CALLBACK)
    message.refresh_from_db()
    assert message.status == "queued" and summary.unmatched == 1
    assert not StatusEvent.objects.exists()


def test_report_by_unique_id_learns_the_serwersms_id():
    message = MessageFactory(status=Status.SUBMITTING, serwersms_id=None)
    item = ReportItem(serwersms_id="sms-1", unique_id=message.unique_id, phone="", status="queued")
    apply_reports(message.account, [item], EventSource.CALLBACK)
    message.refresh_from_db()
    assert (message.serwersms_id, message.match_method, message.status) == (
        "sms-1",
        "unique_id",
        "queued",
    )


def test_many_reports_are_applied_with_a_constant_number_of_queries():
    account = ClientAccountFactory()
    messages = Factory.create_batch(300, account=account, status=Status.QUEUED, created_at=CREATED)
    items = [report(m, "delivered", sent_at=SENT, delivered_at=DELIVERED) for m in messages]
    with CaptureQueriesContext(connection) as queries:
        summary = apply_reports(account, items, EventSource.POLL)
    assert summary.changed == 300
    assert len(queries) < 15  # select, one bulk update per 500 rows, one bulk insert
    assert Message.objects.filter(status="delivered").count() == 300
    assert StatusEvent.objects.filter(applied=True).count() == 300


def send_to_simulator(account, count: int, first: int) -> dict[str, str | None]:
    """Send `count` messages to the simulator and record them, half without the SerwerSMS id
    (a lost send answer: they are found by unique_id). Returns SerwerSMS id -> that unique_id."""
    client = client_for(account)
    phones = [f"+4851{n:07d}" for n in range(first, first + count)]
    lost = {}
    for start in range(0, count, 100):
        items = client.send_sms(phones[start : start + 100], "budget")
        for n, item in enumerate(items, start):
            unique_id = f"budget{n + first}"
            known = n % 2 == 0
            Factory(
                account=account,
                phone=phones[n],
                unique_id=unique_id,
                serwersms_id=item.serwersms_id if known else None,
                status=Status.QUEUED if known else Status.SUBMITTING,
                queued_at=item.queued_at if known else None,
                dispatched_at=item.queued_at if known else None,
            )
            lost[item.serwersms_id] = None if known else unique_id
    return lost


def simulated_reports(account, sent: dict[str, str | None]) -> list[ReportItem]:
    """SerwerSMS's reports of these messages; those we lost the id of named by unique_id, as
    the look-up answers them."""
    items = client_for(account).reports(ids=list(sent))
    return [
        replace(i, unique_id=sent[i.serwersms_id]) if sent[i.serwersms_id] else i for i in items
    ]


def budget(account, items: list[ReportItem]) -> list[str]:
    """The SQL applying these reports ran."""
    with CaptureQueriesContext(connection) as queries:
        apply_reports(account, items, EventSource.CALLBACK)
    return [q["sql"] for q in queries.captured_queries]


def statements_on(queries: list[str], verb: str, table: str) -> int:
    return sum(1 for sql in queries if f'{verb} "{table}"' in sql)


def test_applying_500_reports_costs_the_same_queries_as_10(simulator_settings):
    account = ClientAccountFactory(api_token="tok-budget")
    simulator_settings.register_account(token="tok-budget")
    ten = send_to_simulator(account, 10, first=0)
    five_hundred = send_to_simulator(account, 500, first=10)
    simulator_settings.advance(to="final")
    ten = simulated_reports(account, ten)
    five_hundred = simulated_reports(account, five_hundred)
    assert len(ten) == 10 and len(five_hundred) == 500

    # Forward moves: one look-up by SerwerSMS id and unique id, the lock, one UPDATE, one INSERT.
    forward = budget(account, ten)
    assert len(budget(account, five_hundred)) == len(forward), "\n".join(forward)
    assert Message.objects.filter(account=account, status__in=list(FINAL)).count() == 510
    assert StatusEvent.objects.filter(applied=True).count() == 510
    assert not StatusEvent.objects.filter(applied=False).exists()

    # Backward reports: one ignored event each, de-duplicated by one read.
    backward = budget(account, [replace(i, status="in_progress") for i in ten])
    many = budget(account, [replace(i, status="in_progress") for i in five_hundred])
    assert len(many) == len(backward), "\n".join(many)
    assert statements_on(many, "INSERT INTO", "billing_statusevent") == 1
    assert StatusEvent.objects.filter(applied=False).count() == 510


def test_late_delivery_after_age_limit_still_applies_by_callback():
    message = MessageFactory(
        status=Status.SENT, created_at=datetime.now(UTC) - timedelta(days=30), sent_at=SENT
    )
    apply_reports(message.account, [report(message, "delivered")], EventSource.CALLBACK)
    message.refresh_from_db()
    assert message.status == "delivered"


def test_a_repeated_status_never_changes_parts_cost_or_times_and_records_the_disagreement():
    message = MessageFactory(status=Status.QUEUED)
    first = report(message, "delivered", sent_at=SENT, delivered_at=DELIVERED, parts=1)
    apply_reports(message.account, [first], EventSource.POLL)
    apply_reports(
        message.account, [report(message, "delivered", cost=Decimal("0.0550"))], EventSource.POLL
    )  # a blank (cost) is filled
    forged = report(
        message,
        "delivered",
        sent_at=SENT + timedelta(minutes=5),
        delivered_at=DELIVERED + timedelta(minutes=5),
        parts=7,
        cost=Decimal("9.99"),
    )
    summary = apply_reports(message.account, [forged], EventSource.CALLBACK)
    apply_reports(message.account, [forged], EventSource.CALLBACK)  # recorded once only
    message.refresh_from_db()
    assert (message.parts, message.cost) == (1, Decimal("0.0550"))
    assert (message.sent_at, message.delivered_at, message.dispatched_at) == (SENT, DELIVERED, SENT)
    notes = sorted(message.events.filter(applied=False).values_list("note", flat=True))
    assert summary.ignored == 4 and len(notes) == 4
    assert all(note.startswith("disagrees: ") for note in notes)
    assert any("parts 1 != 7" in note for note in notes)
    assert message.events.filter(applied=True).count() == 1


@pytest.mark.parametrize(
    "times",
    [
        {"sent_at": datetime(9999, 12, 31, 23, 59, tzinfo=UTC)},
        {"delivered_at": datetime(1, 1, 1, tzinfo=UTC)},
        {"sent_at": CREATED - timedelta(days=2)},
    ],
    ids=["year 9999", "year 1", "two days before it was written"],
)
def test_a_report_time_outside_a_sane_window_is_refused(times):
    message = MessageFactory(status=Status.QUEUED)
    summary = apply_reports(message.account, [report(message, "delivered", **times)], "callback")
    message.refresh_from_db()
    assert (message.status, message.sent_at, message.dispatched_at) == ("queued", None, CREATED)
    assert summary.changed == 0 and summary.ignored == 1
    assert message.events.get().note.startswith("refused: time outside the sane window")


def test_a_report_naming_another_serwersms_id_is_refused():
    message = MessageFactory(status=Status.QUEUED, serwersms_id="first")
    item = ReportItem(
        serwersms_id="second", unique_id=message.unique_id, phone="", status="delivered"
    )
    apply_reports(message.account, [item], EventSource.CALLBACK)
    message.refresh_from_db()
    assert (message.serwersms_id, message.status) == ("first", "queued")


def test_a_send_answer_after_a_callback_never_moves_the_message_back():
    """The send path reads nothing stale: a delivered callback that came first stands."""
    from billing.services.status_updates import StatusChange, apply_status_changes

    message = MessageFactory(status=Status.SUBMITTING, serwersms_id=None)
    by_callback = ReportItem(
        serwersms_id="s1", unique_id=message.unique_id, phone="", status="delivered",
        sent_at=SENT, delivered_at=DELIVERED,
    )  # fmt: skip
    apply_reports(message.account, [by_callback], EventSource.CALLBACK)
    answer = ReportItem(serwersms_id="s1", phone=message.phone, status="queued", queued_at=QUEUED)
    apply_status_changes([StatusChange(message.pk, answer, identify=True)], EventSource.SEND)
    message.refresh_from_db()
    assert (message.status, message.serwersms_id) == ("delivered", "s1")
    assert message.events.filter(applied=True, new_status="delivered").count() == 1
