"""Escaping of partner-supplied text, CSRF on every form, secure cookie and header settings."""

import re

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import MessageFactory, StatementFactory, StatusEventFactory
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


def test_sender_and_text_are_shown_escaped(alpha):
    message = MessageFactory(account=alpha.account, sender=SCRIPT, text=SCRIPT)
    StatusEventFactory(message=message, note=SCRIPT)
    client = client_for(alpha.viewer)
    for url in ("/messages/", f"/messages/{message.pk}/"):
        page = client.get(url).content.decode()
        assert SCRIPT not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("url", ["/", "/messages/", "/statements/", "/password/"])
def test_every_post_form_carries_a_csrf_token(alpha, url):
    StatementFactory(partner=alpha.partner)
    page = client_for(alpha.viewer).get(url).content.decode()
    forms = re.findall(r"<form[^>]*>.*?</form>", page, flags=re.S)
    post_forms = [form for form in forms if 'method="post"' in form]
    assert post_forms
    assert all("csrfmiddlewaretoken" in form for form in post_forms)


def test_login_without_csrf_token_is_refused(alpha):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/login/", {"username": alpha.viewer.user.username, "password": "portal-pass-123"}
    )
    assert response.status_code == 403


def test_secure_cookie_and_header_settings_when_not_in_debug():
    assert settings.DEBUG is False
    assert settings.SESSION_COOKIE_SECURE is True
    assert settings.CSRF_COOKIE_SECURE is True
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.X_FRAME_OPTIONS == "DENY"
    assert settings.SECURE_CONTENT_TYPE_NOSNIFF is True


def test_pages_send_security_headers(viewer_client):
    response = viewer_client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
