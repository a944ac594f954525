"""Daily rollups stay equal to a fresh aggregate of the messages, whatever writes them: the
outbox, the one status path (forward, duplicate, backward, unsent, late, month-moving reports),
API-reported messages, statement closing and adjustments. (Every database test of the suite also
ends with this check: tests/conftest.py.)"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from billing import selectors
from billing.commission import billing_day
from billing.models import DailyRollup, EventSource, Message, MessageType, StatementLine
from billing.services import polling, rollups
from billing.services.outbox import send_sms
from billing.services.reporting import Reported, record_reported_messages
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from billing.services.status_updates import StatusChange, apply_status_changes
from billing.serwersms.types import ReportItem
from billing.statuses import Status
from tests.factories import AgreementFactory, ClientAccountFactory, MessageFactory, PartnerFactory

pytestmark = pytest.mark.django_db

OCT, NOV = date(2024, 10, 1), date(2024, 11, 1)
# 23:00 UTC on 31 October 2024 is midnight in Warsaw: the first instant of November's billing.
MIDNIGHT = datetime(2024, 10, 31, 23, 0, tzinfo=UTC)
AFTER_OCT_WINDOW = datetime(2024, 11, 10, tzinfo=UTC)
STATUSES = [s.value for s in Status] + ["bogus"]


def assert_exact() -> None:
    found = rollups.differences()
    assert found == [], "\n".join(str(d) for d in found)


def fresh_counts(partner, period: date) -> dict[str, int]:
    """The month's figures counted straight from the messages (what rollups must give)."""
    month = Message.objects.filter(partner=partner).in_billing_month(period)
    counted = month.counted()
    return {
        "counted": counted.count(),
        "counted_parts": sum(counted.values_list("parts", flat=True)),
        "pending": month.pending().count(),
        "unsent": month.unsent().count(),
        # Of the counted (the delivery rate's base), as statement lines keep them.
        "delivered": counted.filter(status=Status.DELIVERED).count(),
        "undelivered": counted.filter(status=Status.UNDELIVERED).count(),
        "unconfirmed": month.unconfirmed().count(),
    }


def shown_counts(figures) -> dict[str, int]:
    names = (
        "counted",
        "counted_parts",
        "pending",
        "unsent",
        "delivered",
        "undelivered",
        "unconfirmed",
    )
    return {name: getattr(figures, name) for name in names}


# --- random traffic through every writer --------------------------------------------------------


class Traffic:
    """Seeded random traffic around the October/November boundary for two partners."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.partners = []
        self.accounts = []
        for n in range(2):
            partner = PartnerFactory(ic=7100 + seed * 10 + n)
            AgreementFactory(partner=partner, valid_from=date(2024, 1, 1))
            self.partners.append(partner)
            self.accounts += [ClientAccountFactory(partner=partner) for _ in range(2)]
        self.sequence = 0

    def instant(self) -> datetime:
        """Mostly the last hours of October (Warsaw), sometimes earlier in October."""
        if self.rng.random() < 0.2:
            return datetime(2024, 10, 5, tzinfo=UTC) + timedelta(hours=self.rng.randint(0, 500))
        return MIDNIGHT - timedelta(minutes=self.rng.randint(1, 180))

    def next_id(self, prefix: str) -> str:
        self.sequence += 1
        return f"{prefix}{self.sequence}"

    def send_through_outbox(self) -> None:
        account = self.rng.choice(self.accounts)
        phones = [f"+4850{self.rng.randint(0, 9999999):07d}" for _ in range(self.rng.randint(1, 3))]
        sender = self.rng.choice([None, "SHOP"])
        with freeze_time(self.instant()):
            send_sms(account, sorted(set(phones)), "Hello from the outbox", sender=sender)

    def report_from_partner_software(self) -> None:
        account = self.rng.choice(self.accounts)
        sent_at = self.instant()
        items = [
            Reported(
                serwersms_id=self.next_id("r"),
                phone=f"+4851{self.rng.randint(0, 9999999):07d}",
                ic=account.partner.ic,
                sent_at=sent_at,
                message_type=self.rng.choice(MessageType.values),
                parts=self.rng.randint(1, 3),
                cost=self.rng.choice([None, Decimal("0.0650"), Decimal("0.1300")]),
                status=self.rng.choice(["queued", "saved", "in_progress", "unsent"]),
            )
            for _ in range(self.rng.randint(1, 4))
        ]
        now = sent_at + timedelta(hours=1)
        record_reported_messages(account=account, items=items, now=now)
        record_reported_messages(account=account, items=items, now=now)  # again: no change

    def factory_message(self) -> None:
        created = self.instant()
        MessageFactory(
            account=self.rng.choice(self.accounts),
            status=self.rng.choice([Status.QUEUED, Status.SENT, Status.DELIVERED]),
            parts=self.rng.randint(1, 3),
            cost=self.rng.choice([None, Decimal("0.0350")]),
            created_at=created,
            queued_at=created,
            dispatched_at=created,
        )

    def report_statuses(self) -> None:
        """A batch of reports through the one status path: any status (forward, duplicate,
        backward, unknown), parts and cost, times that may cross midnight into November."""
        pool = list(Message.objects.order_by("?")[:4])
        if not pool:
            return
        changes = []
        for message in pool + [self.rng.choice(pool)]:  # one message twice in the batch
            base = message.created_at
            sent = base + timedelta(minutes=self.rng.randint(0, 200))
            item = ReportItem(
                serwersms_id=message.serwersms_id or self.next_id("s"),
                phone=message.phone,
                status=self.rng.choice(STATUSES),
                queued_at=self.rng.choice([None, base + timedelta(seconds=5)]),
                sent_at=self.rng.choice([None, sent]),
                delivered_at=self.rng.choice([None, sent + timedelta(minutes=1)]),
                parts=self.rng.choice([None, 1, 2, 4]),
                cost=self.rng.choice([None, Decimal("0.0700"), Decimal("0.2100")]),
            )
            changes.append(StatusChange(message.pk, item, identify=self.rng.random() < 0.5))
        now = max(m.created_at for m in pool) + timedelta(hours=4)
        source = self.rng.choice([EventSource.POLL, EventSource.CALLBACK, EventSource.SEND])
        apply_status_changes(changes, source, now=now, checked=[m.pk for m in pool])

    def close_october(self) -> None:
        for partner in self.partners:
            close_statement(partner, OCT, actor="test", now=AFTER_OCT_WINDOW)

    def build_november(self) -> None:
        for partner in self.partners:
            build_statement(partner, NOV, actor="test")  # late changes become adjustments


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_random_traffic_keeps_the_rollups_equal_to_the_messages(seed):
    traffic = Traffic(seed)
    writers = [
        traffic.send_through_outbox,
        traffic.report_from_partner_software,
        traffic.factory_message,
        traffic.report_statuses,
        traffic.report_statuses,
    ]
    for step in range(40):
        traffic.rng.choice(writers)()
        if step == 20:
            traffic.close_october()  # then: late changes of a closed month
        if step > 20 and step % 5 == 0:
            traffic.build_november()
        assert_exact()
    assert Message.objects.count() > 10
    assert DailyRollup.objects.exists()
    # The pages' figures: a closed month as billed, an open month counted live and exactly.
    for partner in traffic.partners:
        october = selectors.month_figures(partner, OCT)
        statement = october.statement
        assert october.is_closed
        assert (october.counted, october.pending, october.unsent) == (
            statement.counted_messages,
            statement.pending_messages,
            statement.unsent_messages,
        )
        november = selectors.month_figures(partner, NOV)
        assert not november.is_closed
        assert shown_counts(november) == fresh_counts(partner, NOV)
        by_account = selectors.account_figures(partner, NOV)
        assert sum(row.counted for row in by_account) == november.counted
        assert sum(row.pending for row in by_account) == november.pending


def test_a_sent_time_after_midnight_moves_the_message_to_novembers_rollups():
    created = MIDNIGHT - timedelta(minutes=10)
    message = MessageFactory(
        status=Status.QUEUED, created_at=created, queued_at=created, dispatched_at=created
    )
    partner = message.partner
    assert DailyRollup.objects.get(partner=partner).day == date(2024, 10, 31)
    item = ReportItem(
        serwersms_id=message.serwersms_id,
        phone=message.phone,
        status="delivered",
        sent_at=MIDNIGHT + timedelta(minutes=5),
        parts=2,
        cost=Decimal("0.1300"),
    )
    apply_status_changes([StatusChange(message.pk, item)], EventSource.POLL, now=MIDNIGHT)
    row = DailyRollup.objects.get(partner=partner, messages__gt=0)
    assert (row.day, row.status, row.messages, row.parts, row.cost) == (
        date(2024, 11, 1),
        "delivered",
        1,
        2,
        Decimal("0.1300"),
    )
    assert DailyRollup.objects.get(day=date(2024, 10, 31)).messages == 0
    assert selectors.month_figures(partner, OCT).messages == 0
    assert selectors.month_figures(partner, NOV).delivered == 1


def test_a_batch_writes_its_deltas_with_one_upsert_in_key_order():
    account = ClientAccountFactory()
    messages = [
        MessageFactory(account=account, created_at=MIDNIGHT - timedelta(days=n, minutes=1))
        for n in range(3)
    ]
    changes = [
        StatusChange(
            m.pk,
            ReportItem(
                serwersms_id=m.serwersms_id,
                phone=m.phone,
                status="delivered",
                sent_at=m.created_at,
                parts=3,
            ),
        )
        for m in messages
    ]
    with CaptureQueriesContext(connection) as queries:
        apply_status_changes(changes, EventSource.POLL, now=MIDNIGHT)
    writes = [q["sql"] for q in queries if "billing_dailyrollup" in q["sql"]]
    assert len(writes) == 1 and "ON CONFLICT" in writes[0]
    # three days x (queued -1, delivered +1): six keys in one statement, the oldest day first
    days = ("2024-10-29", "2024-10-30", "2024-10-31")
    positions = [writes[0].find(day) for day in days]
    assert -1 not in positions
    assert positions == sorted(positions)
    assert_exact()


def test_outbox_sends_and_polls_through_the_simulator_are_counted(simulator_settings, send_now):
    simulator_settings.register_account(token="roll-token")
    account = ClientAccountFactory(api_token="roll-token")
    messages = send_now(account, ["+48500600700", "+48500600701", "+48500600702"], "Hello")
    assert {m.status for m in messages} == {"queued"}
    assert_exact()
    simulator_settings.advance(to="final")
    polling.poll_account(account)
    assert_exact()
    period = billing_day(messages[0].billing_at).replace(day=1)
    live = selectors.month_figures(account.partner, period)
    assert live.messages == 3
    assert shown_counts(live) == fresh_counts(account.partner, period)


def test_reported_messages_are_counted_once_and_pending_whatever_they_claim():
    account = ClientAccountFactory()
    sent_at = MIDNIGHT - timedelta(hours=2)
    items = [
        Reported(serwersms_id="a1", phone="+48500600700", ic=account.partner.ic, sent_at=sent_at),
        Reported(
            serwersms_id="a2",
            phone="+48500600701",
            ic=account.partner.ic,
            sent_at=sent_at,
            status="unsent",
            parts=2,
        ),
        Reported(serwersms_id="a3", phone="+48500600702", ic=999_999, sent_at=sent_at),  # refused
    ]
    for _ in range(2):
        record_reported_messages(account=account, items=items, now=MIDNIGHT)
    rows = dict(
        DailyRollup.objects.filter(messages__gt=0).values_list("status", "messages").order_by()
    )
    # A claimed unsent is a claim: pending until SerwerSMS's own report.
    assert rows == {"queued": 2}
    assert set(DailyRollup.objects.values_list("ic_proof", flat=True)) == {"reported"}
    assert_exact()


# --- rebuild, check, the command, the migration -------------------------------------------------


def test_check_finds_a_wrong_row_and_rebuild_repairs_it(capsys):
    message = MessageFactory(status=Status.DELIVERED, parts=2, cost=Decimal("0.0700"))
    other = MessageFactory()
    DailyRollup.objects.filter(partner=message.partner).update(parts=5)
    DailyRollup.objects.filter(partner=other.partner).delete()
    found = rollups.differences()
    assert [(d.key.partner_id, d.expected[:2], d.stored[:2]) for d in found] == [
        (message.partner_id, (1, 2), (1, 5)),
        (other.partner_id, (1, 1), (0, 0)),
    ]
    with pytest.raises(CommandError, match="2 row"):
        call_command("rollups", "--check", "--no-progress")
    assert "in rollups" in capsys.readouterr().out
    call_command("rollups", "--rebuild", "--partner", str(message.partner.ic), "--no-progress")
    assert [d.key.partner_id for d in rollups.differences()] == [other.partner_id]
    call_command("rollups", "--rebuild", "--no-progress")
    call_command("rollups", "--check", "--no-progress")
    assert "equal their messages" in capsys.readouterr().out


def test_rebuild_of_some_days_leaves_the_other_days_alone():
    early = MessageFactory(created_at=MIDNIGHT - timedelta(days=5))
    late = MessageFactory(account=early.account, created_at=MIDNIGHT + timedelta(hours=2))
    DailyRollup.objects.update(messages=7)
    rollups.rebuild(early.partner, days=(date(2024, 11, 1), date(2024, 11, 2)))
    assert [(d.key.day, d.stored[0]) for d in rollups.differences()] == [
        (billing_day(early.billing_at), 7)
    ]
    rollups.rebuild(early.partner)
    assert late.pk and rollups.differences() == []


def test_the_migration_fills_rollups_from_stored_messages():
    import importlib

    migration = importlib.import_module("billing.migrations.0010_rollups_daily")
    for n in range(5):
        MessageFactory(status=Status.DELIVERED, created_at=MIDNIGHT - timedelta(hours=n))
    MessageFactory(status=Status.UNSENT, cost=Decimal("0.0100"), dispatched_at=None)
    DailyRollup.objects.all().delete()
    migration.fill_rollups(django_apps, SimpleNamespace(connection=connection))
    assert_exact()


def test_the_migration_fills_line_delivery_counts_from_items():
    import importlib

    migration = importlib.import_module("billing.migrations.0011_rollups_line_delivery")
    account = ClientAccountFactory()
    AgreementFactory(partner=account.partner, valid_from=date(2024, 1, 1))
    for status in (Status.DELIVERED, Status.DELIVERED, Status.UNDELIVERED, Status.SENT):
        MessageFactory(account=account, status=status, created_at=MIDNIGHT - timedelta(days=2))
    statement = build_statement(account.partner, OCT, actor="test").statement
    StatementLine.objects.filter(statement=statement).update(
        delivered_messages=0, undelivered_messages=0
    )
    migration.fill_delivery(django_apps, SimpleNamespace(connection=connection))
    line = statement.lines.get()
    assert (line.counted_messages, line.delivered_messages, line.undelivered_messages) == (4, 2, 1)
