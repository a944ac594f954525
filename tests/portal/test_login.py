"""Login, logout, password change and throttled failed logins (django-axes)."""

import pytest
from django.test import Client

from tests.portal.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_partner_staff_logs_in_and_lands_on_the_dashboard(alpha):
    client = Client()
    response = client.post(
        "/login/", {"username": alpha.viewer.user.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_wrong_password_shows_the_form_again(alpha):
    response = Client().post("/login/", {"username": alpha.viewer.user.username, "password": "x"})
    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated


def test_repeated_failed_logins_lock_the_user_out(alpha, settings):
    client = Client(headers={"accept-language": "en"})
    username = alpha.viewer.user.username
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": username, "password": "wrong"})
    # Even the right password is refused while locked.
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert client.get("/").status_code == 302


def test_logout_is_a_post_and_ends_the_session(viewer_client):
    assert viewer_client.get("/").status_code == 200
    response = viewer_client.post("/logout/")
    assert response.status_code == 302
    assert viewer_client.get("/").status_code == 302


def test_password_change(alpha, viewer_client):
    response = viewer_client.post(
        "/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a-much-better-pass-42",
            "new_password2": "a-much-better-pass-42",
        },
    )
    assert response.status_code == 302
    alpha.viewer.user.refresh_from_db()
    assert alpha.viewer.user.check_password("a-much-better-pass-42")
