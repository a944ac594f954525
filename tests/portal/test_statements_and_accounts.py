"""Statements (list, detail, downloads for billing managers) and the client accounts page."""

import datetime as dt
from decimal import Decimal

import pytest

from billing.commission import billing_month
from billing.models import Adjustment, AuditEntry, StatementStatus
from billing.services.statements import build_statement
from billing.statuses import Status
from tests.factories import (
    AuditEntryFactory,
    MessageFactory,
    StatementFactory,
    StatementLineFactory,
)
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def test_statement_detail_shows_lines_adjustments_and_audit_trail(alpha, beta):
    statement = StatementFactory(partner=alpha.partner, period=dt.date(2026, 10, 1))
    StatementLineFactory(
        statement=statement, account=alpha.account, counted_messages=1234, commission="12.34"
    )
    late = MessageFactory(account=alpha.account, phone="+48509876543", status=Status.DELIVERED)
    Adjustment.objects.create(
        statement=statement,
        message=late,
        original_period=dt.date(2026, 9, 1),
        old_status="queued",
        new_status="delivered",
        old_amount=Decimal("0"),
        new_amount=Decimal("0.01"),
        amount=Decimal("0.01"),
        reason="late status",
    )
    AuditEntryFactory(partner=alpha.partner, statement=statement, action="closed")
    statement.status = StatementStatus.CLOSED  # children first: a closed statement is frozen
    statement.save()
    page = client_for(alpha.viewer).get(f"/statements/{statement.pk}/").content.decode()
    assert "1,234" in page and "12.34\xa0PLN" in page
    assert "+48509876543" in page and "September 2026" in page and "late status" in page
    assert ">closed<" in page and "operator" in page
    assert client_for(beta.viewer).get(f"/statements/{statement.pk}/").status_code == 404


def test_statements_page_without_statements_explains_them(alpha):
    page = client_for(alpha.viewer).get("/statements/").content.decode()
    assert "No statements yet" in page


def test_unknown_statement_format_is_404(alpha):
    statement = StatementFactory(partner=alpha.partner)
    response = client_for(alpha.manager).get(f"/statements/{statement.pk}/download/doc/")
    assert response.status_code == 404
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "pdf"])
def test_billing_manager_downloads_a_statement_and_it_is_audited(alpha, fmt):
    statement = StatementFactory(partner=alpha.partner)
    response = client_for(alpha.manager).get(f"/statements/{statement.pk}/download/{fmt}/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.content
    entry = AuditEntry.objects.get(statement=statement, action="download")
    assert entry.actor == alpha.manager.user.username and entry.detail["format"] == fmt


def test_client_accounts_page_shows_the_months_figures(alpha, beta):
    now = dt.datetime.now(UTC)
    for status, parts in [(Status.DELIVERED, 2), (Status.SENT, 1), (Status.QUEUED, 1)]:
        MessageFactory(account=alpha.account, status=status, parts=parts, dispatched_at=now)
    MessageFactory(account=alpha.account, status=Status.UNSENT, dispatched_at=None)
    MessageFactory(account=beta.account, status=Status.DELIVERED)
    build_statement(alpha.partner, billing_month(now), actor="test")
    response = client_for(alpha.viewer).get("/client-accounts/")
    rows = response.context["rows"]
    assert [row.account for row in rows] == [alpha.account]
    row = rows[0]
    assert (row.counted, row.counted_parts, row.pending, row.unsent) == (2, 3, 1, 1)


def test_client_accounts_page_for_an_earlier_month(alpha):
    MessageFactory(
        account=alpha.account,
        status=Status.DELIVERED,
        created_at=dt.datetime(2026, 3, 10, tzinfo=UTC),
        dispatched_at=dt.datetime(2026, 3, 10, tzinfo=UTC),
    )
    build_statement(alpha.partner, dt.date(2026, 3, 1), actor="test")
    client = client_for(alpha.viewer)
    assert client.get("/client-accounts/?period=2026-03").context["rows"][0].counted == 1
    assert client.get("/client-accounts/?period=2026-04").context["rows"][0].counted == 0
    # A malformed period falls back to the current month instead of failing.
    assert client.get("/client-accounts/?period=garbage").status_code == 200
