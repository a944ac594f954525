"""Faults queued through the control API, and random faults at a seeded rate."""

import time

import pytest
import requests

from billing.simulator.core import Simulator

TOKEN = "token-f"
BODY = {"phone": "500600700", "text": "Hi", "unique_id": "f-1"}


def send(simulator, timeout=5):
    return requests.post(
        f"{simulator.api_url}messages/send_sms.json",
        json=BODY,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=timeout,
    )


@pytest.fixture
def account(simulator):
    simulator.register_account(token=TOKEN)


def test_http_500_and_429_answer_errors_without_sending(simulator, account):
    simulator.faults(["http_500", "http_429"])
    first, second = send(simulator), send(simulator)
    assert first.status_code == 500
    assert first.json()["success"] is False
    assert second.status_code == 429
    assert second.headers["Retry-After"] == "1"
    assert simulator.messages() == []
    assert send(simulator).status_code == 200  # faults are used up one per request
    assert [r["fault"] for r in simulator.requests()] == ["http_500", "http_429", None]


def test_drop_closes_the_connection_without_sending(simulator, account):
    simulator.faults(["drop"])
    with pytest.raises(requests.ConnectionError):
        send(simulator)
    assert simulator.messages() == []


def test_accept_then_drop_sends_but_never_answers(simulator, account):
    simulator.faults(["accept_then_drop"])
    with pytest.raises(requests.ConnectionError):
        send(simulator)
    assert [m["unique_id"] for m in simulator.messages()] == ["f-1"]


def test_malformed_answers_a_broken_body_after_sending(simulator, account):
    simulator.faults(["malformed"])
    response = send(simulator)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert len(simulator.messages()) == 1


def test_slow_outlasts_the_client_timeout_and_sends_afterwards(simulator, account):
    simulator.faults(["slow"], slow_seconds=0.6)
    with pytest.raises(requests.Timeout):
        send(simulator, timeout=0.2)
    deadline = time.monotonic() + 3
    while not simulator.messages():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_unknown_fault_name_is_refused_over_http(simulator):
    url = f"{simulator.api_url}_sim/faults"
    response = requests.post(url, json={"faults": ["boom"]}, timeout=5)
    assert response.status_code == 400
    assert "boom" in response.json()["error"]


def test_faults_can_be_queued_over_http_for_the_xml_api(simulator):
    simulator.register_account(username="x", password="y")
    requests.post(f"{simulator.api_url}_sim/faults", json={"faults": ["malformed"]}, timeout=5)
    response = requests.get(
        simulator.xml_url, params={"login": "x", "haslo": "y", "akcja": "ilosc_sms"}, timeout=5
    )
    assert response.status_code == 200
    assert not response.text.rstrip().endswith("</SerwerSMS>")


def test_fault_rate_is_seeded_and_repeatable():
    def draws(seed):
        sim = Simulator(seed=seed, fault_rate=0.5)
        return [sim.next_fault() for _ in range(50)]

    first = draws(11)
    assert first == draws(11)
    assert 5 < sum(1 for f in first if f) < 45
