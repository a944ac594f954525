"""`X-Forwarded-Proto: https` is believed only from TRUSTED_PROXY_ADDRESSES, never from anyone
when none is set: a client cannot claim HTTPS for itself (SECURE_SSL_REDIRECT shows it)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

CLAIMS_HTTPS = {"HTTP_X_FORWARDED_PROTO": "https"}


@pytest.fixture
def https_only(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


@pytest.mark.parametrize(
    ("trusted", "peer", "secure"),
    [
        pytest.param([], "127.0.0.1", False, id="no trusted proxy: header ignored"),
        pytest.param(["10.0.0.0/8"], "203.0.113.9", False, id="peer outside the list: ignored"),
        pytest.param(["10.0.0.0/8"], "10.1.2.3", True, id="trusted network: believed"),
        pytest.param(["10.1.2.3", "::1"], "10.1.2.3", True, id="trusted address: believed"),
        pytest.param(["not an address"], "10.1.2.3", False, id="bad entry trusts nobody"),
    ],
)
def test_https_is_believed_only_from_a_trusted_proxy(client, https_only, trusted, peer, secure):
    https_only.TRUSTED_PROXY_ADDRESSES = trusted
    response = client.get("/login/", REMOTE_ADDR=peer, **CLAIMS_HTTPS)
    if secure:
        assert response.status_code == 200
    else:  # taken as plain HTTP: redirected to HTTPS, as a real HTTP request is
        assert response.status_code == 301
        assert response["Location"].startswith("https://")


def test_absolute_urls_of_the_api_use_https_only_behind_a_trusted_proxy(settings):
    from tests.api.conftest import _side
    from tests.factories import StatementFactory

    alpha = _side("Alpha", 7001, "alpha-token")
    StatementFactory(partner=alpha.partner)

    def document_url() -> str:
        response = alpha.client.get("/api/v1/statements", REMOTE_ADDR="10.1.2.3", **CLAIMS_HTTPS)
        return response.json()["items"][0]["documents"][0]["url"]

    settings.TRUSTED_PROXY_ADDRESSES = []
    assert document_url().startswith("http://testserver/")
    settings.TRUSTED_PROXY_ADDRESSES = ["10.1.2.3"]
    assert document_url().startswith("https://testserver")
