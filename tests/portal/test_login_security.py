"""Logins behind a trusted proxy: the real client address, throttling per username across
addresses and per address across usernames, and no way for a stranger to lock a user out."""

from __future__ import annotations

import logging
import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.core import mail
from django.test import Client, RequestFactory

from partner_portal.login_security import DEVICE_COOKIE, client_address
from tests.portal.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.1"


@pytest.fixture
def behind_proxy(settings):
    """One trusted TLS proxy in front that appends the client's address to X-Forwarded-For."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_ADDRESSES = [PROXY]
    settings.CLIENT_IP_HEADER = ""
    settings.AXES_FAILURE_LIMIT = 5
    return settings


def _post_login(client: Client, username: str, password: str, address: str):
    return client.post(
        "/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"203.0.113.250, {address}",  # the first entry is client-made
        headers={"accept-language": "en"},
    )


@pytest.mark.parametrize(
    ("count", "header", "trusted", "meta", "expected"),
    [
        pytest.param(0, "", [], {"HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "10.0.0.1", id="no proxy"),
        pytest.param(
            1,
            "",
            [],
            {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4"},
            "1.2.3.4",
            id="one proxy: rightmost entry",
        ),
        pytest.param(
            2,
            "",
            [],
            {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4, 10.0.0.9"},
            "1.2.3.4",
            id="two proxies: second from the right",
        ),
        pytest.param(
            2,
            "",
            [],
            {"HTTP_X_FORWARDED_FOR": "1.2.3.4"},
            "10.0.0.1",
            id="header shorter than the chain: socket address",
        ),
        pytest.param(
            1,
            "",
            [],
            {"HTTP_X_FORWARDED_FOR": "6.6.6.6, junk"},
            "10.0.0.1",
            id="not an address: socket address",
        ),
        pytest.param(
            0, "X-Real-IP", [], {"HTTP_X_REAL_IP": "1.2.3.4"}, "1.2.3.4", id="configured header"
        ),
        pytest.param(
            1,
            "",
            ["192.168.0.0/16"],
            {"HTTP_X_FORWARDED_FOR": "1.2.3.4"},
            "10.0.0.1",
            id="untrusted peer: header ignored",
        ),
        pytest.param(
            1,
            "",
            ["10.0.0.0/8"],
            {"HTTP_X_FORWARDED_FOR": "2001:db8::1"},
            "2001:db8::1",
            id="trusted network, IPv6 client",
        ),
    ],
)
def test_client_address(settings, count, header, trusted, meta, expected):
    settings.TRUSTED_PROXY_COUNT = count
    settings.CLIENT_IP_HEADER = header
    settings.TRUSTED_PROXY_ADDRESSES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", **meta)
    assert client_address(request) == expected


def test_brute_force_from_many_addresses_is_slowed_and_logged_and_the_user_still_logs_in(
    alpha, behind_proxy, caplog
):
    username = alpha.manager.user.username
    # The user logged in from her office browser before: it is a known device.
    office = Client()
    assert _post_login(office, username, PASSWORD, "198.51.100.7").status_code == 302
    assert DEVICE_COOKIE in office.cookies
    office.post("/logout/", REMOTE_ADDR=PROXY)

    # A stranger guesses her password from 20 addresses, one guess each.
    caplog.set_level(logging.WARNING, logger="axes")
    answers = [
        _post_login(Client(), username, f"guess-{n}", f"192.0.2.{n}").status_code
        for n in range(1, 21)
    ]
    assert answers[:4] == [200] * 4  # wrong password, the form again
    assert set(answers[4:]) == {429}  # from the limit on: refused without checking the password
    # Even the right password from yet another stranger address is refused now.
    assert _post_login(Client(), username, PASSWORD, "192.0.2.99").status_code == 429

    # Logged: every failure with its real client address, and the lock-out.
    logged_addresses = set(
        AccessFailureLog.objects.filter(username=username).values_list("ip_address", flat=True)
    )
    assert {f"192.0.2.{n}" for n in range(1, 6)} <= logged_addresses
    assert PROXY not in logged_addresses
    locks = [r.getMessage() for r in caplog.records if "Locking out" in r.getMessage()]
    assert locks and username in locks[0] and "192.0.2.5" in locks[0]

    # The user still logs in from her known browser, at another address.
    response = _post_login(office, username, PASSWORD, "198.51.100.8")
    assert response.status_code == 302
    assert office.get("/", REMOTE_ADDR=PROXY).status_code == 200


def test_a_locked_user_on_a_new_browser_gets_a_reset_link_that_lifts_the_lock(alpha, behind_proxy):
    user = alpha.viewer.user
    user.email = "viewer@alpha.example"
    user.save()
    for n in range(1, 7):
        _post_login(Client(), user.username, "wrong", f"192.0.2.{n}")
    fresh = Client()
    locked = _post_login(fresh, user.username, PASSWORD, "198.51.100.20")
    assert locked.status_code == 429
    assert "/password/reset/" in locked.content.decode()

    fresh.post("/password/reset/", {"email": user.email}, REMOTE_ADDR=PROXY)
    link = re.search(r"http://testserver(/password/reset/\S+/)", mail.outbox[-1].body).group(1)
    form_page = fresh.get(link, follow=True, REMOTE_ADDR=PROXY)
    response = fresh.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "brand-new-pass-77", "new_password2": "brand-new-pass-77"},
        REMOTE_ADDR=PROXY,
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username=user.username).exists()
    assert (
        _post_login(fresh, user.username, "brand-new-pass-77", "198.51.100.20").status_code == 302
    )


def test_spraying_many_usernames_from_one_address_is_locked(alpha, behind_proxy):
    answers = [
        _post_login(Client(), f"someone-{n}", "password1", "192.0.2.77").status_code
        for n in range(30)
    ]
    assert answers[:4] == [200] * 4
    assert set(answers[4:]) == {429}  # the 5th failure locks the address
    # Another address is not affected.
    assert (
        _post_login(Client(), alpha.viewer.user.username, PASSWORD, "192.0.2.78").status_code == 302
    )


def test_forged_forwarded_for_without_a_trusted_proxy_does_not_escape_the_count(alpha, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.AXES_FAILURE_LIMIT = 5
    answers = [
        Client()
        .post(
            "/login/",
            {"username": f"user-{n}", "password": "x"},
            REMOTE_ADDR="192.0.2.5",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
        .status_code
        for n in range(8)
    ]
    assert set(answers[5:]) == {429}
