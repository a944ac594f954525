"""Log lines are JSON, name the request, partner, account and messages, and show no secret:
a send (HTTP API and XML API, one HTTP 500 on the way), a poll and SerwerSMS's callbacks run
through the live simulator with every log line captured to a file."""

from __future__ import annotations

import json
import logging
import time

import pytest
from django.test import Client
from django.urls import reverse

from billing import tasks
from billing.models import Message
from billing.services.outbox import send_sms
from partner_api.keys import create_api_key
from partner_portal.logging import JSONFormatter
from tests.factories import ClientAccountFactory, PartnerFactory

TOKEN = "tok-logs-4f1c9e0b7a2d"
USERNAME = "xml-logs-user"
PASSWORD = "pass-logs-8e2b5d1f"
FINAL = ("delivered", "undelivered", "unsent")


@pytest.fixture
def log_file(tmp_path):
    """Every record of every logger, at DEBUG, rendered by the product's formatter to a file."""
    path = tmp_path / "app.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(level)
    handler.close()


def _wait_until(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.django_db(transaction=True)
def test_a_send_poll_and_callback_run_logs_json_lines_without_any_secret(
    live_server, simulator_settings, celery_eager, log_file, settings
):
    sim = simulator_settings
    partner = PartnerFactory()
    api_account = ClientAccountFactory(partner=partner, api_token=TOKEN)
    xml_account = ClientAccountFactory(
        partner=partner, api_token="", username=USERNAME, password=PASSWORD
    )
    callback = "serwersms_callback"
    sim.register_account(
        token=TOKEN,
        callback_url=live_server.url + reverse(callback, args=[api_account.callback_secret]),
    )
    sim.register_account(
        username=USERNAME,
        password=PASSWORD,
        callback_url=live_server.url + reverse(callback, args=[xml_account.callback_secret]),
    )
    _key, raw_key = create_api_key(account=api_account, name="shop", actor="test")
    secrets = {
        "account API token": TOKEN,
        "account password": PASSWORD,
        "API key": raw_key,
        "callback secret (API v2 account)": api_account.callback_secret,
        "callback secret (XML account)": xml_account.callback_secret,
        "SECRET_KEY": settings.SECRET_KEY,
    }

    # Send: through the HTTP API (its first SerwerSMS call answers 500) and the XML API.
    sim.faults(["http_500"])
    api = Client(headers={"authorization": f"Bearer {raw_key}", "x-request-id": "req-logs-1"})
    response = api.post(
        "/api/v1/messages",
        {"recipients": [{"phone": "+48500600701"}, {"phone": "+48500600702"}], "text": "Hi"},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    assert response["X-Request-ID"] == "req-logs-1"
    send_sms(xml_account, ["+48500600703"], "Hi by XML", channel="xml_api")
    messages = Message.objects.filter(partner=partner)
    assert messages.count() == 3 and not messages.filter(status="submitting").exists()

    # Poll, then let SerwerSMS call back with the final statuses.
    sim.advance(1)
    tasks.poll_all_accounts.apply()
    sim.advance(to="final")
    assert _wait_until(lambda: set(messages.values_list("status", flat=True)) <= set(FINAL))
    # Answered callbacks were logged before their answer left (the middleware's closing line).
    assert _wait_until(lambda: len([c for c in sim.callbacks() if c["ok"]]) >= 3)
    # A malformed report to a real callback address: Django logs the 400 with its path.
    bad = Client().post(reverse(callback, args=[api_account.callback_secret]), {"stan": "x"})
    assert bad.status_code == 400

    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_file.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    assert len(lines) > 10
    for what, secret in secrets.items():
        assert secret not in text, f"the {what} is in the logs"
    # The lines say what they concern.
    api_request = [
        x for x in lines if x.get("event") == "request" and x.get("request_id") == "req-logs-1"
    ]
    assert api_request and api_request[0]["partner_id"] == partner.pk
    assert api_request[0]["account_id"] == api_account.pk and api_request[0]["status"] == 202
    ids = sorted(messages.filter(account=api_account).values_list("pk", flat=True))
    retried = [x for x in lines if "SerwerSMS call failed" in x["event"]]
    assert retried and sorted(retried[0]["message_ids"]) == ids
    assert retried[0]["account_id"] == api_account.pk
    callbacks = [x for x in lines if x.get("view") == callback and x.get("status") == 200]
    assert {x["account_id"] for x in callbacks} == {api_account.pk, xml_account.pk}
    assert all(len(x["request_id"]) == 32 for x in callbacks)  # none given: a fresh id each
    # Django logs the 400 after the middleware returned: still with the request's id.
    refused = [x for x in lines if x.get("logger") == "django.request"]
    assert refused and all("[redacted]" in x["event"] and x["request_id"] for x in refused)


R = "[redacted]"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"password": "hunter2!"}, {"password": R}),
        ({"Authorization": "Bearer abc"}, {"Authorization": R}),
        ({"data": {"api_key": "k"}}, {"data": {"api_key": R}}),
        ({"ids": [1, 2], "n": 3}, {"ids": [1, 2], "n": 3}),
    ],
    ids=["password key", "authorization key", "nested key", "ordinary values untouched"],
)
def test_the_redacting_processor_removes_values_of_secret_keys(event, expected):
    from partner_portal.logging import redact

    assert redact(None, "info", event) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /x?login=a&haslo=s3cret&akcja=y", f"GET /x?login=a&haslo={R}&akcja=y"),
        ("POST /callbacks/serwersms/abcDEF123/", f"POST /callbacks/serwersms/{R}/"),
        ("key ppk_0123456789ab_" + "A" * 43, f"key ppk_{R}"),
        ("header Bearer tok123", f"header Bearer {R}"),
        ("{'token': 'abc', 'n': 1}", f"{{'token': '{R}', 'n': 1}}"),
        ("sent 3 messages to +48500600700", "sent 3 messages to +48500600700"),
    ],
    ids=["query string", "callback path", "API key", "bearer header", "dict repr", "plain line"],
)
def test_the_redacting_processor_removes_secrets_inside_text(text, expected):
    from partner_portal.logging import redact

    assert redact(None, "info", {"event": text}) == {"event": expected}


def test_a_registered_secret_value_is_redacted_wherever_it_shows():
    from billing.log_context import add_secrets
    from partner_portal.logging import redact

    add_secrets(["value-of-a-registered-secret", "short"])
    line = redact(None, "info", {"event": "x value-of-a-registered-secret y", "n": "short"})
    assert line == {"event": "x [redacted] y", "n": "short"}  # 5 characters: not a secret


@pytest.mark.parametrize(
    ("given", "kept"), [("abc-123", True), ("bad id\n", False), ("", False), ("x" * 200, False)]
)
def test_a_sane_request_id_is_kept_and_anything_else_replaced(given, kept):
    from partner_portal.logging import new_request_id

    request_id = new_request_id(given)
    assert (request_id == given) is kept and request_id
