"""Page size cap, reasons and statuses in words, unsent messages without a dispatch time,
lowercase Polish months inside sentences."""

from __future__ import annotations

import datetime as dt

import pytest

from billing.statuses import Status
from tests.factories import MessageFactory, StatementFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "rows"),
    [
        ("", 50),
        ("per_page=10", 10),
        ("per_page=100000", 200),
        ("per_page=0", 1),
        ("per_page=x", 50),
    ],
)
def test_page_size_is_capped(alpha, settings, query, rows):
    settings.PORTAL_MAX_PAGE_SIZE = 200
    MessageFactory.create_batch(230, account=alpha.account)
    response = client_for(alpha.viewer).get(f"/messages/?{query}")
    assert response.status_code == 200
    assert len(response.context["page"].rows) == rows


def test_message_detail_shows_the_reason_in_words_and_no_dispatch_for_unsent(alpha):
    message = MessageFactory(account=alpha.account, status=Status.UNSENT, reason="wrong_number")
    english = client_for(alpha.viewer).get(f"/messages/{message.pk}/").content.decode()
    assert "wrong phone number" in english and "wrong_number" not in english
    assert "never (unsent)" in english
    polish = client_for(alpha.viewer, "pl").get(f"/messages/{message.pk}/").content.decode()
    assert "błędny numer telefonu" in polish and "niewysłano" in polish


@pytest.mark.parametrize("status", [Status.UNSENT, Status.QUEUED])
def test_messages_table_shows_no_dispatch_time_unless_dispatched(alpha, status):
    MessageFactory(account=alpha.account, status=status)
    page = client_for(alpha.viewer).get("/messages/").content.decode()
    cell = page.split('data-col="dispatched_at"', 2)[2].split("</td>")[0]
    assert cell.endswith("—")


def test_messages_table_shows_the_dispatch_time_of_a_sent_message(alpha):
    MessageFactory(account=alpha.account, status=Status.SENT)
    page = client_for(alpha.viewer).get("/messages/").content.decode()
    cell = page.split('data-col="dispatched_at"', 2)[2].split("</td>")[0]
    assert not cell.endswith("—")


def test_polish_months_are_lowercase_inside_sentences(alpha):
    statement = StatementFactory(partner=alpha.partner, period=dt.date(2026, 3, 1))
    detail = client_for(alpha.viewer, "pl").get(f"/statements/{statement.pk}/").content.decode()
    assert "marzec 2026 <span" in detail
    assert "Marzec 2026 <span" not in detail
    listing = client_for(alpha.viewer, "pl").get("/statements/").content.decode()
    assert ">Marzec 2026</a>" in listing  # a table cell starts with a capital
    english = client_for(alpha.viewer, "en").get(f"/statements/{statement.pk}/").content.decode()
    assert "March 2026" in english
