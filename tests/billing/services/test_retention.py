"""Retention: the phones and texts of messages past RETENTION_MONTHS in closed statements are
reduced to a masked number and a peppered hash; nothing else, and nothing of an open month."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command

from billing.models import AuditAction, AuditEntry, Message, Statement
from billing.services import retention
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from billing.statuses import Status
from tests.factories import AgreementFactory, MessageFactory, PartnerFactory

pytestmark = pytest.mark.django_db

# 13 months before 2026-03-15 13:00 Warsaw (12:00 UTC) is 2025-02-15 13:00 Warsaw (12:00 UTC).
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
CUTOFF = datetime(2025, 2, 15, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _message(partner, at: datetime, phone: str, **values):
    return MessageFactory(
        account__partner=partner, partner=partner, created_at=at, sent_at=at,
        status=Status.DELIVERED, phone=phone, **values,
    )  # fmt: skip


@pytest.fixture
def world(settings):
    """Two partners. Alpha: January and February 2025 closed, March 2025 open. Beta: February
    2025 open, January 2025 never built, December 2024 closed."""
    settings.RETENTION_MONTHS = 13
    settings.STATEMENT_REVIEW_WINDOW_DAYS = 3
    alpha, beta = PartnerFactory(name="Alpha"), PartnerFactory(name="Beta")
    for partner in (alpha, beta):
        AgreementFactory(partner=partner, valid_from=date(2024, 1, 1))
    m = {
        "alpha january": _message(alpha, datetime(2025, 1, 10, tzinfo=UTC), "+48500600701",
                                  text="Your code is 1234"),
        "alpha just outside": _message(alpha, CUTOFF - SECOND, "+48500600702"),
        "alpha just inside": _message(alpha, CUTOFF + SECOND, "+48500600703", text="keep me"),
        "alpha march": _message(alpha, datetime(2025, 3, 2, tzinfo=UTC), "+48500600704"),
        "beta open february": _message(beta, CUTOFF - timedelta(days=10), "+48500600705"),
        "beta january, no statement": _message(beta, datetime(2025, 1, 5, tzinfo=UTC),
                                               "+48500600706"),
        "beta december": _message(beta, datetime(2024, 12, 5, tzinfo=UTC), "+420601234567"),
    }  # fmt: skip
    for period in (date(2025, 1, 1), date(2025, 2, 1)):
        close_statement(alpha, period, actor="test", now=NOW)
    build_statement(alpha, date(2025, 3, 1), actor="test")
    build_statement(beta, date(2025, 2, 1), actor="test")
    close_statement(beta, date(2024, 12, 1), actor="test", now=NOW)
    return alpha, beta, m


ERASED = {"alpha january", "alpha just outside", "beta december"}


def _statement_figures():
    return sorted(
        Statement.objects.values_list(
            "partner_id", "period", "status", "counted_messages", "total", "checksum"
        )
    )


def test_the_task_erases_exactly_what_is_past_retention_in_closed_months(world):
    alpha, beta, m = world
    statements = _statement_figures()
    whole = {name: (msg.phone, msg.text) for name, msg in m.items()}

    summary = retention.apply_retention(now=NOW, batch=2)  # several batches

    assert summary.messages == 3
    assert dict(summary.by_partner) == {alpha.pk: 2, beta.pk: 1}
    for name, message in m.items():
        message.refresh_from_db()
        phone, text = whole[name]
        if name in ERASED:
            assert message.phone_hash == retention.phone_hash(phone), name
            assert message.phone == retention.masked_phone(phone) and "*" in message.phone
            assert message.text == ""
        else:
            assert (message.phone, message.text, message.phone_hash) == (phone, text, ""), name
        assert message.status == Status.DELIVERED and message.parts == 1
    assert m["alpha just outside"].phone == "+48*****0702"
    assert m["beta december"].phone == "+420*****4567"
    assert _statement_figures() == statements  # statements and their totals stay
    entries = AuditEntry.objects.filter(action=AuditAction.RETENTION)
    assert sorted((e.partner_id, e.detail["messages"]) for e in entries) == [
        (alpha.pk, 2),
        (beta.pk, 1),
    ]


def test_a_second_run_erases_nothing_more_and_a_later_now_reaches_the_next_messages(world):
    alpha, _beta, m = world
    retention.apply_retention(now=NOW)
    assert retention.apply_retention(now=NOW).messages == 0
    # Two seconds later "just inside" is past retention too (its February is closed).
    later = retention.apply_retention(now=NOW + 2 * SECOND)
    assert later.messages == 1 and dict(later.by_partner) == {alpha.pk: 1}
    m["alpha just inside"].refresh_from_db()
    assert m["alpha just inside"].phone == "+48*****0703"


def test_the_dry_run_counts_and_changes_nothing(world):
    _alpha, _beta, m = world
    summary = retention.apply_retention(now=NOW, dry_run=True)
    assert summary.messages == 3
    assert not Message.objects.exclude(phone_hash="").exists()
    assert not AuditEntry.objects.filter(action=AuditAction.RETENTION).exists()


def test_the_command_reports_and_applies(world, capsys):
    call_command("apply_retention", "--now", NOW.isoformat(), "--dry-run", "--no-progress")
    assert (
        "would erase the phones and texts of 3 message(s) of 2 partner(s)"
        in capsys.readouterr().out
    )
    call_command("apply_retention", "--now", NOW.isoformat(), "--no-progress")
    assert "erased the phones and texts of 3 message(s)" in capsys.readouterr().out
    assert Message.objects.exclude(phone_hash="").count() == 3


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("+48500600700", "+48*****0700"), ("+420601234567", "+420*****4567"),
     ("+12025550123", "+1******0123"), ("123", "123"), ("+48*****0700", "+48*****0700")],
    ids=["Poland", "Czechia", "USA", "too short to hide", "already masked"],
)  # fmt: skip
def test_a_masked_phone_keeps_the_country_code_and_the_last_four_digits(phone, masked):
    assert retention.masked_phone(phone) == masked


def test_the_beat_schedule_holds_the_retention_task():
    from django_celery_beat.models import PeriodicTask

    from billing.services.schedule import RETENTION_TASK, ensure_status_poll_task

    ensure_status_poll_task()
    assert PeriodicTask.objects.filter(task=RETENTION_TASK, enabled=True).count() == 1
