"""Inputs that used to crash the portal: a clear answer, nothing written."""

import pytest
from django.urls import reverse

from billing.models import Message, StatusEvent
from tests.factories import MessageFactory


@pytest.mark.parametrize(
    "query",
    [
        {"date_to": "9999-12-31"},
        {"date_from": "0001-01-01"},
        {"date_from": "1999-12-31", "date_to": "3000-01-01"},
    ],
    ids=["date_to 9999-12-31", "date_from 0001-01-01", "both outside 2000-2999"],
)
def test_a_date_outside_the_billing_years_is_a_form_error(viewer_client, alpha, query):
    MessageFactory(account=alpha.account)
    response = viewer_client.get(reverse("message_list"), query)
    assert response.status_code == 200
    assert "Give a date from 2000-01-01 to 2999-12-31." in response.content.decode()
    assert len(response.context["table"].rows) == 0  # an error shows no rows


@pytest.mark.parametrize("period", ["9999-12", "0000-01", "2025-13", "x"])
def test_an_impossible_period_on_the_accounts_page_falls_back_to_this_month(viewer_client, period):
    response = viewer_client.get(reverse("account_list"), {"period": period})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("message_list", {"phone": "+48\x00500"}),
        ("message_list", {"status\x00": "sent"}),
        ("account_list", {"period": "2025-01\x00"}),
    ],
)
def test_a_nul_character_in_the_query_is_a_400(viewer_client, url, query):
    response = viewer_client.get(reverse(url), query)
    assert response.status_code == 400
    assert b"NUL characters are not allowed" in response.content


def test_a_nul_character_in_a_posted_form_is_a_400(viewer_client):
    response = viewer_client.post(reverse("login"), {"username": "a\x00", "password": "b"})
    assert response.status_code == 400
    assert not Message.objects.exists() and not StatusEvent.objects.exists()
