"""Fault injection per channel: queued through the control API or drawn at a seeded rate."""

import smtplib
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

import pytest
import requests

from serwersms_sim import Simulator

TOKEN = "token-f"
BODY = {"phone": "500600700", "text": "Hi", "unique_id": "f001", "details": True}


def send(simulator, timeout=5):
    return requests.post(
        f"{simulator.api_url}messages/send_sms.json",
        json=BODY,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=timeout,
    )


@pytest.fixture
def account(simulator):
    simulator.register_account(token=TOKEN, email="shop@example.com", email2sms_key="Key1")


def test_http_5xx_and_429_answer_before_anything_is_taken(simulator, account):
    simulator.faults(["http_500", "http_429", "http_503"])
    first, second, third = send(simulator), send(simulator), send(simulator)
    assert (first.status_code, second.status_code, third.status_code) == (500, 429, 503)
    assert second.headers["Retry-After"] == "1"
    assert simulator.messages() == []
    assert send(simulator).status_code == 200  # faults are used up one per request
    assert [r["fault"] for r in simulator.requests()] == ["http_500", "http_429", "http_503", None]


def test_drop_closes_the_connection_before_anything_is_taken(simulator, account):
    simulator.faults(["drop"])
    with pytest.raises(requests.ConnectionError):
        send(simulator)
    assert simulator.messages() == []


@pytest.mark.parametrize("fault", ["accept_then_drop", "accept_then_500", "malformed"])
def test_faults_after_taking_keep_the_message(simulator, account, fault):
    simulator.faults([fault])
    try:
        response = send(simulator)
    except requests.ConnectionError:
        response = None
    if fault == "accept_then_drop":
        assert response is None
    elif fault == "accept_then_500":
        assert response.status_code == 500
    else:
        with pytest.raises(ValueError):
            response.json()
    [message] = simulator.messages()
    assert message["unique_id"] == "f001" and message["taken"] is True


def wait_until(condition, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_slow_takes_the_message_at_once_and_answers_late(simulator, account):
    simulator.faults(["slow"], slow_seconds=1.0)
    with pytest.raises(requests.Timeout):
        send(simulator, timeout=0.3)
    # Taken before the caller even gave up waiting.
    assert len(simulator.messages()) == 1


def test_slow_take_takes_the_message_only_after_its_delay(simulator, account):
    simulator.faults(["slow_take:1.0"])
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        send(simulator, timeout=0.3)
    assert simulator.messages() == []  # not yet: SerwerSMS is still busy with it
    assert wait_until(lambda: len(simulator.messages()) == 1)
    assert time.monotonic() - started >= 1.0
    assert [r["fault"] for r in simulator.requests()] == ["slow_take:1.0"]


def test_a_slow_fault_may_carry_its_own_delay(simulator, account):
    simulator.faults(["slow:0.5", "slow"], slow_seconds=30)
    started = time.monotonic()
    assert send(simulator, timeout=10).status_code == 200
    assert 0.5 <= time.monotonic() - started < 10  # its own 0.5 s, not slow_seconds
    url = f"{simulator.api_url}_sim/faults"
    for bad in ("drop:3", "slow:x", "slow:-1"):
        answer = requests.post(url, json={"faults": [bad]}, timeout=5)
        assert answer.status_code == 400, bad


def test_a_slow_request_overtaken_by_a_reset_takes_nothing(simulator, account):
    simulator.faults(["slow_take"], slow_seconds=0.5)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(send, simulator, 10)
        deadline = time.monotonic() + 5  # the request is logged as it starts waiting
        while not simulator.requests() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [r["fault"] for r in simulator.requests()] == ["slow_take"]
        simulator.sim.reset()
        # The slow request ends by closing the connection: no answer, nothing taken.
        with pytest.raises(requests.ConnectionError):
            answer.result(timeout=10)
    assert simulator.messages() == []


def test_faults_go_to_their_channel_only(simulator, account):
    simulator.faults(["http_500"], channel="xml_api")
    assert send(simulator).status_code == 200
    xml = requests.post(simulator.xml_url, data={"login": "x", "haslo": "y", "akcja": "ilosc_sms"})
    assert xml.status_code == 500


def test_unknown_fault_or_channel_is_refused_by_the_control_endpoint(simulator):
    bad = requests.post(f"{simulator.api_url}_sim/faults", json={"faults": ["smtp_421"]}, timeout=5)
    assert bad.status_code == 400 and "not a fault of api_v2" in bad.json()["error"]
    bad = requests.post(
        f"{simulator.api_url}_sim/faults", json={"channel": "fax", "rate": 1}, timeout=5
    )
    assert bad.status_code == 400


def test_control_endpoint_sets_a_seeded_rate_and_reports_what_it_injected(simulator, account):
    url = f"{simulator.api_url}_sim/faults"
    answer = requests.post(
        url,
        json={"channel": "api_v2", "rate": 1.0, "kinds": ["http_429"], "sending_only": True},
        timeout=5,
    ).json()
    assert answer["channels"]["api_v2"]["rate"] == 1.0
    assert send(simulator).status_code == 429
    reports = requests.post(
        f"{simulator.api_url}messages/reports.json",
        json={},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert reports.status_code == 200  # sending_only: reads are spared
    assert requests.get(url, timeout=5).json()["channels"]["api_v2"]["injected"] == {"http_429": 1}
    requests.delete(url, timeout=5)
    assert send(simulator).status_code == 200


def test_fault_rate_is_seeded_and_repeatable():
    def draw(seed):
        sim = Simulator(seed=seed, fault_rate=0.5)
        return [sim.faults.next("api_v2", sending=True) for _ in range(40)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)
    assert 5 < sum(1 for f in draw(7) if f) < 35
    sim = Simulator(seed=1)
    sim.queue_faults(["drop"])  # the older call queues for either HTTP API
    sim.fault_rate = 0.25
    assert sim.faults.next("xml_api", sending=False) == "drop"
    assert sim.fault_rate == sim.faults.channels["xml_api"].rate == 0.25


def mail(simulator, text="Hi\nEND\n"):
    message = EmailMessage()
    message["From"] = "shop@example.com"
    message["To"] = "sms@email2sms.serwersms.pl"
    message["Subject"] = "klucz=Key1 numer=+48500600700"
    message.set_content(text)
    with smtplib.SMTP(simulator.smtp_host, simulator.smtp_port, timeout=5) as smtp:
        smtp.send_message(message)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("smtp_421", smtplib.SMTPSenderRefused),
        ("smtp_451", smtplib.SMTPDataError),
        ("smtp_554", smtplib.SMTPDataError),
        ("smtp_drop", smtplib.SMTPServerDisconnected),
    ],
)
def test_smtp_faults_before_taking_send_nothing(simulator, account, fault, error):
    simulator.faults([fault], channel="email2sms")
    with pytest.raises(error):
        mail(simulator)
    assert simulator.messages() == []
    mail(simulator)
    assert len(simulator.messages()) == 1


def test_smtp_accept_then_drop_takes_the_message_without_confirming(simulator, account):
    simulator.faults(["smtp_accept_then_drop"], channel="email2sms")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        mail(simulator)
    assert len(simulator.messages()) == 1
