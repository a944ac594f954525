"""Error pages in the portal's layout and the user's language, with a way back."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db


def test_not_found_in_polish_with_the_navigation_and_a_way_back(alpha):
    response = client_for(alpha.viewer, "pl").get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "Nie znaleziono strony" in page
    assert 'class="mainnav"' in page
    assert 'href="/"' in page
    assert "Not Found" not in page


def test_not_found_in_english(alpha):
    page = client_for(alpha.viewer, "en").get("/messages/999999/").content.decode()
    assert "Page not found" in page and "Back to the dashboard" in page


def test_forbidden_page_for_a_viewer_download(alpha, viewer_client):
    from tests.factories import StatementFactory

    statement = StatementFactory(partner=alpha.partner)
    response = viewer_client.get(f"/statements/{statement.pk}/download/csv/")
    assert response.status_code == 403
    assert 'class="mainnav"' in response.content.decode()


def test_csrf_failure_is_a_portal_page():
    response = Client(enforce_csrf_checks=True, headers={"accept-language": "en"}).post(
        "/login/", {"username": "x", "password": "y"}
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "form was too old" in page and "portal.css" in page


def test_bad_request_page(db):
    response = Client(headers={"accept-language": "pl"}).get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    page = response.content.decode()
    assert "portal.css" in page and "Nieprawidłowe żądanie" in page


def test_server_error_page_in_polish(settings, db):
    settings.ROOT_URLCONF = "tests.portal.error_urls"
    response = Client(raise_request_exception=False, headers={"accept-language": "pl"}).get(
        "/broken/"
    )
    assert response.status_code == 500
    page = response.content.decode()
    assert "portal.css" in page and "Coś poszło nie tak" in page
    assert "Traceback" not in page
