"""Reported messages whose ic SerwerSMS has not confirmed yet are shown apart, never billed: on
the statement page (draft and closed), the dashboard, the message list and the message page,
with the partner's claim beside SerwerSMS's figures. Two partners: nobody sees the other's."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from billing.models import Channel, Statement
from billing.services.ic_proof import confirm_reported_messages
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from billing.statuses import IcProof, Status
from tests.factories import AgreementFactory, MessageFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db
UTC = dt.UTC
OCT = dt.date(2026, 10, 1)
NOV = dt.date(2026, 11, 1)
IN_OCT = dt.datetime(2026, 10, 14, 10, 0, tzinfo=UTC)
AFTER_OCT = dt.datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def reported_message(side, at, **extra):
    """A reported message SerwerSMS reported dispatched (ECO x1, 0.055), its ic unconfirmed."""
    values = {
        "account": side.account,
        "channel": Channel.REPORTED,
        "ic_proof": IcProof.REPORTED,
        "status": Status.DELIVERED,
        "cost": Decimal("0.0550"),
        "created_at": at,
        "serwersms_figures_at": at,
        "claimed_status": "queued",
        "claimed_type": "full",
        "claimed_parts": 100,
        "claimed_cost": Decimal("500000"),
        "claimed_sent_at": at,
    }
    return MessageFactory(**{**values, **extra})


def test_a_closed_statement_shows_the_unconfirmed_share_apart_from_its_total(alpha, beta):
    AgreementFactory(partner=alpha.partner, rate_eco="1.0000")
    MessageFactory(account=alpha.account, status=Status.DELIVERED, created_at=IN_OCT)
    reported = reported_message(alpha, IN_OCT)
    statement = close_statement(alpha.partner, OCT, actor="op", now=AFTER_OCT).statement
    assert (statement.counted_messages, statement.total) == (1, Decimal("1.00"))
    assert (statement.unconfirmed_messages, statement.unconfirmed_parts) == (1, 1)
    assert statement.unconfirmed_commission == Decimal("1")

    page = client_for(alpha.viewer).get(reverse("statement_detail", args=[statement.pk]))
    html = page.content.decode()
    assert "Reported, not yet confirmed" in html
    assert "1 parts, 1.00\xa0PLN commission: not in the total" in html
    assert "status=unconfirmed" in html
    polish = client_for(alpha.viewer, "pl").get(reverse("statement_detail", args=[statement.pk]))
    assert "Zgłoszone, jeszcze niepotwierdzone" in polish.content.decode()
    assert (
        client_for(beta.viewer).get(reverse("statement_detail", args=[statement.pk])).status_code
        == 404
    )

    # SerwerSMS's partner billing confirms it later: an adjustment on November's draft.
    confirm_reported_messages(
        confirmed_ids=[reported.pk], refuted_ids=[], actor="op", now=AFTER_OCT
    )
    november = build_statement(alpha.partner, NOV, actor="op").statement
    adjustment = november.adjustments.get()
    assert (adjustment.message_id, adjustment.amount) == (reported.pk, Decimal("1"))
    assert Statement.objects.get(pk=statement.pk).total == Decimal("1.00")  # frozen


@freeze_time(AFTER_OCT)
def test_the_dashboard_and_the_message_list_mark_unconfirmed_messages(alpha, beta):
    AgreementFactory(partner=alpha.partner, rate_eco="1.0000")
    now = timezone.now()
    reported = reported_message(alpha, now)
    build_statement(alpha.partner, NOV, actor="op")
    dashboard = client_for(alpha.viewer).get("/").content.decode()
    assert "Reported, not yet confirmed" in dashboard
    assert "1.00\xa0PLN not billed until SerwerSMS confirms" in dashboard
    listing = (
        client_for(alpha.viewer)
        .get(reverse("message_list"), {"status": "unconfirmed"})
        .content.decode()
    )
    assert reverse("message_detail", args=[reported.pk]) in listing
    assert "not yet confirmed" in listing and "claim differs" in listing
    flagged = client_for(alpha.viewer).get(reverse("message_list"), {"claim_differs": "on"})
    assert reverse("message_detail", args=[reported.pk]) in flagged.content.decode()
    other = client_for(beta.viewer).get(reverse("message_list"), {"status": "unconfirmed"})
    assert reverse("message_detail", args=[reported.pk]) not in other.content.decode()


def test_the_message_page_shows_the_claim_beside_serwersms_figures(alpha, beta):
    reported = reported_message(alpha, timezone.now())
    page = client_for(alpha.viewer).get(reverse("message_detail", args=[reported.pk]))
    html = page.content.decode()
    assert "Claim of the partner software" in html
    assert (
        "claimed FULL x100, SerwerSMS: ECO x1; claimed cost 500000.0000, SerwerSMS: 0.0550" in html
    )
    assert "Reported, not yet confirmed: SerwerSMS dispatched it" in html
    assert (
        client_for(beta.viewer).get(reverse("message_detail", args=[reported.pk])).status_code
        == 404
    )
