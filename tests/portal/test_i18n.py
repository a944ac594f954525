"""Polish by default, English on request; status words as the SerwerSMS panel says them."""

import pytest
from django.test import Client

from billing.statuses import Status
from tests.factories import MessageFactory, StatementFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db


def test_polish_page_shows_polish_status_words(alpha):
    for status in (Status.DELIVERED, Status.UNDELIVERED, Status.UNSENT, Status.SENT):
        MessageFactory(account=alpha.account, status=status)
    page = client_for(alpha.viewer, "pl").get("/messages/").content.decode()
    for word in ("doręczono", "niedoręczono", "niewysłano", "wysłano", "Wiadomości"):
        assert word in page


def test_english_page_shows_english_status_words(alpha):
    MessageFactory(account=alpha.account, status=Status.DELIVERED)
    page = client_for(alpha.viewer, "en").get("/messages/").content.decode()
    assert ">delivered<" in page
    assert "doręczono" not in page


def test_polish_is_the_default_language(alpha):
    client = Client()
    client.force_login(alpha.viewer.user, backend="django.contrib.auth.backends.ModelBackend")
    assert 'lang="pl"' in client.get("/").content.decode()


def test_language_switcher_changes_the_language(alpha):
    MessageFactory(account=alpha.account, status=Status.DELIVERED)
    client = client_for(alpha.viewer, "pl")
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/messages/"})
    assert response.status_code == 302
    assert ">delivered<" in client.get("/messages/").content.decode()


def test_amounts_and_dates_follow_the_language(alpha):
    StatementFactory(partner=alpha.partner, period="2026-03-01", total="1234.56")
    polish = client_for(alpha.viewer, "pl").get("/statements/").content.decode()
    assert "1\xa0234,56\xa0zł" in polish
    assert "marzec 2026" in polish.lower()
    english = client_for(alpha.viewer, "en").get("/statements/").content.decode()
    assert "1,234.56\xa0PLN" in english
    assert "March 2026" in english
