"""Sessions, log out everywhere, the second factor, password pages, headers and the admin path."""

from __future__ import annotations

import importlib
import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import clear_url_caches, reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import StatementFactory
from tests.portal.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _login(username: str, password: str = PASSWORD) -> tuple[Client, object]:
    client = Client(headers={"accept-language": "en"})
    response = client.post("/login/", {"username": username, "password": password})
    return client, response


def _code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def test_sessions_last_twelve_hours_by_default(settings, alpha):
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    client, _ = _login(alpha.viewer.user.username)
    assert client.cookies["sessionid"]["max-age"] == 12 * 3600


def test_log_out_everywhere_ends_every_session(alpha):
    laptop, _ = _login(alpha.viewer.user.username)
    phone, _ = _login(alpha.viewer.user.username)
    other_user, _ = _login(alpha.manager.user.username)
    assert phone.get("/").status_code == 200
    assert laptop.post("/logout/everywhere/").status_code == 302
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 302
    assert other_user.get("/").status_code == 200


def test_security_page_lists_the_sessions(alpha):
    client, _ = _login(alpha.viewer.user.username)
    page = client.get("/security/").content.decode()
    assert "this one" in page
    assert 'id="logout-everywhere"' in page
    assert "available to billing managers" in page


def test_billing_manager_switches_on_totp_and_then_logs_in_with_a_code(alpha):
    username = alpha.manager.user.username
    client, _ = _login(username)
    client.post("/security/totp/start/")
    page = client.get("/security/").content.decode()
    assert "<svg" in page and 'id="totp-secret"' in page
    device = TOTPDevice.objects.get(user=alpha.manager.user)
    assert client.post("/security/totp/confirm/", {"token": "000000"}).status_code == 302
    device.refresh_from_db()
    assert not device.confirmed
    device.throttling_failure_count = 0  # skip django-otp's growing delay after a wrong code
    device.save()
    client.post("/security/totp/confirm/", {"token": _code(device)})
    device.refresh_from_db()
    assert device.confirmed

    # A new login: the password alone is not enough.
    fresh, response = _login(username)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/verify/")
    assert fresh.get("/messages/")["Location"].startswith("/login/verify/")
    assert fresh.get("/statements/")["Location"].startswith("/login/verify/")
    wrong = fresh.post("/login/verify/?next=/messages/", {"token": "123456"})
    assert wrong.status_code == 200 and "not right" in wrong.content.decode()
    device.refresh_from_db()
    device.throttling_failure_count = 0  # skip django-otp's growing delay after a wrong code
    device.save()
    response = fresh.post("/login/verify/?next=/messages/", {"token": _code(device, 1)})
    assert response["Location"] == "/messages/"
    assert fresh.get("/messages/").status_code == 200


def test_viewers_cannot_set_up_a_second_factor(viewer_client):
    assert viewer_client.post("/security/totp/start/").status_code == 403


def test_password_change_page_keeps_the_navigation_and_shows_the_rules(viewer_client):
    page = viewer_client.get("/password/").content.decode()
    assert 'class="mainnav"' in page
    assert "at least 8 characters" in page
    assert "too similar" in page


def test_password_reset_by_email(alpha):
    user = alpha.viewer.user
    user.email = "ania@alpha.example"
    user.save()
    client = Client(headers={"accept-language": "en"})
    assert "Reset your password" in client.get("/password/reset/").content.decode()
    client.post("/password/reset/", {"email": "ania@alpha.example"})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ania@alpha.example"]
    link = re.search(r"http://testserver(/password/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert "at least 8 characters" in form_page.content.decode()
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "fresh-pass-2026x", "new_password2": "fresh-pass-2026x"},
    )
    assert response["Location"] == "/password/reset/complete/"
    user.refresh_from_db()
    assert user.check_password("fresh-pass-2026x")
    # The link works once.
    again = client.get(form_page.redirect_chain[-1][0])
    assert "no longer valid" in again.content.decode()


def test_reset_for_an_unknown_address_sends_nothing_and_says_the_same(alpha):
    response = Client().post("/password/reset/", {"email": "nobody@example.com"})
    assert response["Location"] == "/password/reset/sent/"
    assert mail.outbox == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_data_pages_and_downloads_are_not_stored(alpha, manager_client, fmt):
    statement = StatementFactory(partner=alpha.partner)
    for url in ("/", "/messages/", f"/messages/export.{fmt}", f"/statements/{statement.pk}/"):
        response = manager_client.get(url)
        assert "no-store" in response["Cache-Control"], url


def test_pages_carry_a_content_security_policy(viewer_client):
    policy = viewer_client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy


def test_admin_lives_under_the_configured_path(settings):
    import config.urls as urls

    settings.ADMIN_PATH = "back-office-17/"
    try:
        module = importlib.reload(urls)
        assert reverse("admin:index", urlconf=module) == "/back-office-17/"
    finally:
        settings.ADMIN_PATH = "admin/"
        importlib.reload(urls)
        clear_url_caches()


def test_removed_or_inactive_users_get_no_reset_mail(alpha):
    user = alpha.viewer.user
    user.email = "gone@alpha.example"
    user.is_active = False
    user.save()
    Client().post("/password/reset/", {"email": "gone@alpha.example"})
    assert mail.outbox == []
    assert get_user_model().objects.filter(email="gone@alpha.example").exists()


def test_operator_pages_point_to_the_configured_admin(db):
    operator = get_user_model().objects.create_user("op", password=PASSWORD, is_staff=True)
    client = Client(headers={"accept-language": "en"})
    client.force_login(operator, backend="django.contrib.auth.backends.ModelBackend")
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_api_docs_load_swagger_from_our_own_static_files(client):
    response = client.get("/api/v1/docs")
    page = response.content.decode()
    assert response.status_code == 200
    assert "cdn.jsdelivr" not in page and "/static/ninja/swagger-ui-bundle.js" in page
    assert "default-src 'self'" in response["Content-Security-Policy"]
