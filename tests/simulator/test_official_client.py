"""The official SerwerSMS Python client (PyPI serwersmsv2api) works unchanged but for its URL."""

import json

import pytest

serwersms = pytest.importorskip("serwersms")


def test_official_client_sends_and_reads_reports(simulator):
    simulator.register_account(token="official-token")
    client = serwersms.SerwerSMS("official-token")
    client.api_url = simulator.api_url

    sent = json.loads(
        client.message.send_sms(
            "+48500600700", "Test from the official client", "Shop", {"details": True}
        )
    )
    assert sent["success"] is True and sent["queued"] == 1
    message_id = sent["items"][0]["id"]
    assert simulator.requests()[-1]["action"] == "messages/send_sms"
    assert simulator.requests()[-1]["ic"] is None

    simulator.advance(to="final")
    reports = json.loads(client.message.reports({"id": [message_id]}))
    [item] = reports["items"]
    assert item["id"] == message_id
    assert item["status"] in ("delivered", "undelivered", "unsent")
    assert item["sender"] == "Shop"

    viewed = json.loads(client.message.view(message_id, {}))
    assert viewed["id"] == message_id
    limits = json.loads(client.account.limits({}))
    assert {entry["type"] for entry in limits["items"]} >= {"eco", "full"}


def test_official_client_sees_invalid_credentials(simulator):
    client = serwersms.SerwerSMS("unknown-token")
    client.api_url = simulator.api_url
    try:
        raw = client.message.send_sms("+48500600700", "x", None, {})
    except Exception as exc:  # newer clients raise on HTTP errors; 0.0.2 returns the body
        raw = exc.response_body
    assert json.loads(raw)["error"]["type"] == "InvalidCredentials"
