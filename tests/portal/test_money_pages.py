"""What partner staff see of money: figures rounded half-up everywhere, a statement that adds up
as printed (rounding line, VAT), the payout operators set, the commission of one message, the
agreement in force, the audit trail in words. Two partners: nobody sees the other's data."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation
from freezegun import freeze_time
from pypdf import PdfReader

from billing.models import PayoutStatus, Statement
from billing.services.payouts import set_payout
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from billing.statuses import Status
from tests.factories import AgreementFactory, AgreementTierFactory, MessageFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db
UTC = dt.UTC
D = Decimal
OCT = dt.date(2024, 10, 1)
AFTER_OCT = dt.datetime(2024, 11, 10, tzinfo=UTC)


def render_money(value, language):
    with translation.override(language):
        return Template("{% load portal %}{{ value|money }}").render(Context({"value": value}))


@pytest.mark.parametrize(
    ("value", "english", "polish"),
    [
        (D("20.499"), "20.50\xa0PLN", "20,50\xa0zł"),  # Django alone would print 20.49
        (D("20.495"), "20.50\xa0PLN", "20,50\xa0zł"),
        (D("20.494"), "20.49\xa0PLN", "20,49\xa0zł"),
        (D("-0.005"), "-0.01\xa0PLN", "-0,01\xa0zł"),
        (D("1234.5649"), "1,234.56\xa0PLN", "1\xa0234,56\xa0zł"),
    ],
    ids=["never truncated", "half up", "below half", "negative half", "grouping"],
)
def test_money_is_rounded_half_up_in_both_languages(value, english, polish):
    assert render_money(value, "en") == english
    assert render_money(value, "pl") == polish


def _october(side, *, vat=None, rate="0.005", count=3):
    """`count` ECO messages at `rate` on three client accounts' worth of lines (one account)."""
    partner = side.partner
    partner.legal_name, partner.address, partner.tax_id = (
        "Alpha sp. z o.o.",
        "ul. A 1",
        "5260250274",
    )
    partner.vat_rate = vat
    partner.save()
    AgreementFactory(partner=partner, valid_from=dt.date(2024, 1, 1), rate_eco=rate, rate_full=rate)
    for n in range(count):
        MessageFactory(
            account=side.account,
            status=Status.DELIVERED,
            message_type=["eco", "full", "eco"][n % 3],
            dispatched_at=dt.datetime(2024, 10, 2 + n, tzinfo=UTC),
        )


def test_statement_page_adds_up_as_printed_with_a_rounding_line(alpha, beta):
    # Lines ECO 2 x 0.005 = 0.01 and FULL 0.005 -> printed 0.01 + 0.01; exact 0.015 -> 0.02.
    _october(alpha, rate="0.005")
    statement = build_statement(alpha.partner, OCT, actor="op").statement
    assert (statement.printed_commission, statement.rounding, statement.total) == (
        D("0.02"),
        D("0.00"),
        D("0.02"),
    )
    _october(beta, rate="0.0025")  # 0.005 + 0.0025 -> printed 0.01 + 0.00, exact 0.0075 -> 0.01
    other = build_statement(beta.partner, OCT, actor="op").statement
    assert (other.printed_commission, other.rounding, other.total) == (
        D("0.01"),
        D("0.00"),
        D("0.01"),
    )
    page = client_for(alpha.viewer).get(f"/statements/{statement.pk}/").content.decode()
    assert "PP/5001/2024/10" in page and "Alpha sp. z o.o." in page and "5260250274" in page
    assert "Draft as of" in page
    assert client_for(beta.viewer).get(f"/statements/{statement.pk}/").status_code == 404


def test_a_rounding_line_appears_when_rounded_lines_differ_from_the_total(alpha):
    AgreementFactory(
        partner=alpha.partner,
        valid_from=dt.date(2024, 1, 1),
        rate_eco="0.005",
        rate_full="0.005",
        rate_mms="0",
    )
    for mtype, day in [("eco", 2), ("full", 3), ("mms", 4)]:
        MessageFactory(
            account=alpha.account,
            status=Status.DELIVERED,
            message_type=mtype,
            dispatched_at=dt.datetime(2024, 10, day, tzinfo=UTC),
        )
    statement = build_statement(alpha.partner, OCT, actor="op").statement
    # ECO 0.005 -> 0.01, FULL 0.005 -> 0.01, MMS 0 -> 0.00; exact 0.010 -> total 0.01.
    assert (statement.printed_commission, statement.rounding, statement.total) == (
        D("0.02"),
        D("-0.01"),
        D("0.01"),
    )
    page = client_for(alpha.viewer).get(f"/statements/{statement.pk}/").content.decode()
    assert "Rounding" in page and "-0.01\xa0PLN" in page
    listing = client_for(alpha.viewer).get("/statements/").content.decode()
    assert "0.02\xa0PLN" in listing and "-0.01\xa0PLN" in listing  # commission + other = total


def test_partner_staff_see_the_payout_operators_set_in_the_admin(
    alpha, beta, client, django_user_model
):
    _october(alpha, vat=D("23"), rate="1.00")
    statement = close_statement(alpha.partner, OCT, actor="op", now=AFTER_OCT).statement
    operator = django_user_model.objects.create_superuser("op", "op@example.com", "pw-op-123456")
    client.force_login(operator)
    response = client.post(
        reverse("admin:billing_payout_add"),
        {
            "statement": statement.pk,
            "status": PayoutStatus.PAID,
            "invoiced_on": "2024-11-12",
            "invoice_number": "FV/2024/11/7",
            "paid_on": "2024-11-20",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Statement.objects.get(pk=statement.pk).payout.paid_on == dt.date(2024, 11, 20)

    page = client_for(alpha.viewer).get(f"/statements/{statement.pk}/").content.decode()
    assert "paid" in page and "FV/2024/11/7" in page and "Nov. 20, 2024" in page
    assert "VAT 23\xa0%" in page and "3.69\xa0PLN" in page and "Gross" in page  # 3.00 + 0.69
    listing = client_for(alpha.viewer, "pl").get("/statements/").content.decode()
    assert "zapłacono" in listing
    assert "FV/2024/11/7" not in client_for(beta.viewer).get("/statements/").content.decode()


def test_a_draft_cannot_get_a_payout_in_the_admin(alpha, client, django_user_model):
    _october(alpha)
    draft = build_statement(alpha.partner, OCT, actor="op").statement
    client.force_login(django_user_model.objects.create_superuser("op", "o@e.x", "pw-op-123456"))
    response = client.post(
        reverse("admin:billing_payout_add"),
        {"statement": draft.pk, "status": PayoutStatus.INVOICED, "invoiced_on": "2024-11-12"},
    )
    assert response.status_code == 200  # the form again, with the error
    assert not Statement.objects.filter(payout__isnull=False).exists()


def test_billing_manager_downloads_a_polish_pdf_with_net_vat_gross_and_payment_date(alpha):
    _october(alpha, vat=D("23"), rate="1.00")
    statement = close_statement(alpha.partner, OCT, actor="op", now=AFTER_OCT).statement
    set_payout(
        statement,
        status=PayoutStatus.PAID,
        invoiced_on=dt.date(2024, 11, 12),
        paid_on=dt.date(2024, 11, 20),
        actor="op",
    )
    response = client_for(alpha.manager, "pl").get(f"/statements/{statement.pk}/download/pdf/")
    assert response.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Zestawienie prowizji PP/5001/2024/10 za październik 2024" in text
    assert "Razem (netto)" in text and "3,00 zł" in text
    assert "Stawka VAT (%)" in text and "0,69 zł" in text
    assert "Razem (brutto)" in text and "3,69 zł" in text
    assert "Data zapłaty" in text and "2024-11-20" in text
    assert "5260250274" in text


def test_message_page_shows_its_commission_rule_and_statement(alpha, beta):
    _october(alpha, rate="0.0125", count=1)
    message = alpha.partner.messages.get()
    statement = build_statement(alpha.partner, OCT, actor="op").statement
    page = client_for(alpha.viewer).get(f"/messages/{message.pk}/").content.decode()
    assert "Counted: SerwerSMS dispatched this message" in page
    assert "agreement v1, per message" in page
    assert "0.0125" in page and f"/statements/{statement.pk}/" in page
    assert client_for(beta.viewer).get(f"/messages/{message.pk}/").status_code == 404


@freeze_time(dt.datetime(2026, 11, 20, 12, tzinfo=UTC))
def test_dashboard_shows_the_agreement_in_force_and_progress_to_the_next_tier(alpha, beta):
    agreement = AgreementFactory(partner=alpha.partner, valid_from=dt.date(2026, 1, 1))
    AgreementTierFactory(agreement=agreement, from_volume=10, rate_eco="0.0050")
    for day in (2, 3, 4):
        MessageFactory(
            account=alpha.account,
            status=Status.DELIVERED,
            dispatched_at=dt.datetime(2026, 11, day, tzinfo=UTC),
        )
    build_statement(alpha.partner, dt.date(2026, 11, 1), actor="op")
    page = client_for(alpha.viewer).get("/").content.decode()
    assert "Agreement in force" in page and "Version 1, valid from" in page
    assert "3 counted; 7 more to reach the next tier (after 10)" in page
    assert "0.005\xa0PLN" in page  # the tier's ECO rate
    assert "Agreement in force" in client_for(beta.viewer).get("/").content.decode()
    assert "No agreement is in force today" in client_for(beta.viewer).get("/").content.decode()


def test_audit_trail_shows_translated_actions_and_readable_details(alpha):
    _october(alpha, rate="0.01")
    statement = close_statement(alpha.partner, OCT, actor="op", now=AFTER_OCT).statement
    page = client_for(alpha.viewer, "pl").get(f"/statements/{statement.pk}/").content.decode()
    assert "zestawienie przeliczone" in page and "zestawienie zamknięte" in page
    assert "miesiąc: październik 2024" in page
    assert "razem: 0,03\xa0zł" in page.lower()
    assert ">close<" not in page and "'total'" not in page


def test_month_figures_drill_down_to_the_same_messages(alpha):
    _october(alpha, rate="0.01")
    MessageFactory(
        account=alpha.account,
        status=Status.UNSENT,
        created_at=dt.datetime(2024, 10, 9, tzinfo=UTC),
        queued_at=None,
        dispatched_at=None,
    )
    statement = build_statement(alpha.partner, OCT, actor="op").statement
    client = client_for(alpha.viewer)
    counted = client.get("/messages/?period=2024-10&status=counted").context["summary"]
    unsent = client.get("/messages/?period=2024-10&status=unsent").context["summary"]
    assert counted.count == statement.counted_messages == 3
    assert unsent.count == statement.unsent_messages == 1
