"""The reconciliation on the statement page: summary, rows, downloads; scoped to the partner."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from billing.services.reconcile import reconcile
from billing.services.statement_closing import close_statement
from billing.services.statements import build_statement
from billing.statuses import Status
from tests.factories import AgreementFactory, MessageFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db
OCT = dt.date(2024, 10, 1)
HEADER = "id,account,phone,type,parts,status,dispatched_at,cost,ic\n"


def line(sid, account, ic, phone="+48500600700"):
    return f"{sid},{account},{phone},eco,1,delivered,2024-10-05 12:00:00,0.0550,{ic}\n"


def month_of(side, ids, billed, *, close=True):
    """Counted messages `ids` of October 2024, SerwerSMS's billing listing `billed`."""
    AgreementFactory(partner=side.partner, rate_eco="0.2500")
    at = dt.datetime(2024, 10, 5, 10, tzinfo=dt.UTC)
    for sid in ids:
        MessageFactory(
            account=side.account,
            serwersms_id=sid,
            status=Status.DELIVERED,
            cost="0.0550",
            created_at=at,
            dispatched_at=at,
        )
    build_statement(side.partner, OCT, actor="test")
    if close:
        statement = close_statement(
            side.partner, OCT, actor="test", now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        ).statement
    else:
        statement = side.partner.statements.get(period=OCT)
    text = HEADER + "".join(line(sid, side.account.name, side.partner.ic) for sid in billed)
    reconcile(side.partner, OCT, text, actor="op", file_name="oct.csv")
    return statement


@pytest.fixture
def months(alpha, beta):
    alpha_statement = month_of(alpha, ["a1", "a2", "a3", "a4"], ["a1", "a2", "a3", "ax"])
    beta_statement = month_of(beta, ["b1"], ["b1"])
    return alpha_statement, beta_statement


def test_a_closed_statement_states_how_much_serwersms_confirmed(alpha, months):
    statement, _ = months
    page = client_for(alpha.viewer).get(f"/statements/{statement.pk}/").content.decode()
    assert "SerwerSMS confirmed 3 of 4 messages, 0.75\xa0PLN of 1.00\xa0PLN." in page
    assert 'data-outcome="missing_at_serwersms"' in page
    assert f"/statements/{statement.pk}/reconciliation/?outcome=missing_here" in page
    polish = client_for(alpha.viewer, "pl").get(f"/statements/{statement.pk}/").content.decode()
    assert "SerwerSMS potwierdził 3 z 4 wiadomości" in polish
    assert "brak w SerwerSMS" in polish


def test_the_summary_counts_and_amounts_per_outcome(alpha, months):
    statement, _ = months
    response = client_for(alpha.viewer).get(f"/statements/{statement.pk}/")
    figures = {o.outcome: o for o in response.context["reconciliation"].outcomes}
    assert (figures["confirmed"].messages, figures["confirmed"].commission) == (3, Decimal("0.75"))
    assert figures["missing_at_serwersms"].messages == 1
    assert figures["missing_at_serwersms"].our_cost == Decimal("0.055")
    assert figures["missing_here"].messages == 1
    assert figures["missing_here"].their_cost == Decimal("0.055")


def test_a_statement_without_reconciliation_says_so(alpha):
    statement = month_of(alpha, ["a1"], ["a1"], close=False)
    statement.partner.reconciliations.all().delete()
    page = client_for(alpha.viewer).get(f"/statements/{statement.pk}/").content.decode()
    assert "Not reconciled yet" in page
    response = client_for(alpha.viewer).get(f"/statements/{statement.pk}/reconciliation/")
    assert response.status_code == 404


def test_the_rows_page_lists_one_outcome(alpha, months):
    statement, _ = months
    client = client_for(alpha.viewer)
    response = client.get(f"/statements/{statement.pk}/reconciliation/?outcome=missing_here")
    assert response.status_code == 200
    assert [r.serwersms_id for r in response.context["rows"]] == ["ax"]
    every = client.get(f"/statements/{statement.pk}/reconciliation/?outcome=bogus")
    assert sorted(r.serwersms_id for r in every.context["rows"]) == ["a1", "a2", "a3", "a4", "ax"]


def test_the_rows_page_pages_by_id(alpha, months, monkeypatch):
    from partner_portal import reconciliation_views

    monkeypatch.setattr(reconciliation_views, "PER_PAGE", 2)
    statement, _ = months
    client = client_for(alpha.viewer)
    seen, url = [], f"/statements/{statement.pk}/reconciliation/"
    while url:
        response = client.get(url)
        seen += [r.serwersms_id for r in response.context["rows"]]
        after = response.context["next_after"]
        url = f"/statements/{statement.pk}/reconciliation/?after={after}" if after else None
    assert sorted(seen) == ["a1", "a2", "a3", "a4", "ax"] and len(seen) == 5


def test_partner_staff_download_the_rows_as_csv_in_their_language(alpha, months):
    statement, _ = months
    response = client_for(alpha.viewer).get(f"/statements/{statement.pk}/reconciliation.csv")
    assert response.status_code == 200
    assert 'filename="reconciliation-5001-2024-10.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["Outcome", "Client account", "SerwerSMS id"]
    by_id = {r[2]: r for r in rows[1:]}
    assert by_id["a4"][0] == "missing at SerwerSMS" and by_id["ax"][0] == "missing here"
    assert by_id["a1"][0] == "confirmed" and by_id["a1"][7] == "delivered"
    polish = client_for(alpha.viewer, "pl").get(f"/statements/{statement.pk}/reconciliation.csv")
    text = b"".join(polish.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Wynik,Konto klienta,id SerwerSMS")
    only = client_for(alpha.viewer).get(
        f"/statements/{statement.pk}/reconciliation.csv?outcome=missing_here"
    )
    assert len(b"".join(only.streaming_content).decode().splitlines()) == 2


def test_partner_staff_download_the_rows_as_xlsx(alpha, months):
    statement, _ = months
    response = client_for(alpha.manager).get(f"/statements/{statement.pk}/reconciliation.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    values = list(sheet.values)
    assert values[0][0] == "Outcome" and len(values) == 6
    assert {v[2] for v in values[1:]} == {"a1", "a2", "a3", "a4", "ax"}


def test_another_partners_reconciliation_is_never_visible(alpha, beta, months):
    alpha_statement, beta_statement = months
    client = client_for(alpha.manager)
    for url in (
        f"/statements/{beta_statement.pk}/",
        f"/statements/{beta_statement.pk}/reconciliation/",
        f"/statements/{beta_statement.pk}/reconciliation.csv",
        f"/statements/{beta_statement.pk}/reconciliation.xlsx",
    ):
        assert client.get(url).status_code == 404, url
    page = client.get(f"/statements/{alpha_statement.pk}/reconciliation/").content.decode()
    # As a cell's text (">b1<"): a bare "b1" can turn up in the page's random CSRF token.
    assert ">b1<" not in page and ">a1<" in page
    assert client.get(f"/statements/{alpha_statement.pk}/reconciliation.pdf").status_code == 404


def test_the_rows_page_and_the_statement_page_query_a_fixed_number_of_times(
    alpha, months, django_assert_max_num_queries
):
    statement, _ = months
    client = client_for(alpha.viewer)
    client.get("/")  # the session and the user are loaded once before counting
    # 9: session, user, staff, the statement, its reconciliation, one page of rows (no per-row
    # query), ...; the statement page adds two (the reconciliation and its per-outcome sums).
    with django_assert_max_num_queries(9):
        assert client.get(f"/statements/{statement.pk}/reconciliation/").status_code == 200
    with django_assert_max_num_queries(13):
        assert client.get(f"/statements/{statement.pk}/").status_code == 200
