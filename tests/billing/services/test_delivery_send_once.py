"""A message is never sent twice: a send SerwerSMS may have taken (a slow answer past our
timeout) is looked up until SerwerSMS surely does not have it, and only then sent again.

The simulator is pessimistic: it takes a repeated unique_id as a second message, so only our
side prevents doubles. `slow:N` takes the message at once and answers after N s; `slow_take:N`
takes it only after N s (SerwerSMS busy), then answers: both outlast the client's timeout.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection

from billing.models import Message
from billing.services import delivery
from billing.services.outbox import send_sms
from billing.statuses import Status
from tests.factories import ClientAccountFactory, PartnerFactory

IC = 4343
PHONE = "+48500600700"
SENDS = {"messages/send_sms", "xml:wyslij_sms"}


@pytest.fixture
def account(simulator_settings):
    simulator_settings.register_account(
        name="once", token="once-token", username="once", password="pass"
    )
    return ClientAccountFactory(
        partner=PartnerFactory(ic=IC),
        name="once",
        api_token="once-token",
        username="once",
        password="pass",
    )


def sends(simulator) -> list[dict]:
    return [r for r in simulator.requests() if r["action"] in SENDS]


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)


def send_each(simulator, account, cases: list[tuple[str, list[str], str]], seconds: float):
    """Send every (channel, phones, fault) at once, each in its own worker thread (the send task
    run in-process), its fault queued for its own send; returns the messages as stored."""
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def work(n: int, channel: str, phones: list[str]) -> None:
        try:
            results[n] = [m.pk for m in send_sms(account, phones, f"Once {n}", channel=channel)]
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = []
    for n, (channel, phones, fault) in enumerate(cases):
        simulator.faults([fault], channel=channel)
        thread = threading.Thread(target=work, args=(n, channel, phones), daemon=True)
        thread.start()
        threads.append(thread)
        # The next fault is queued only once this send has taken its own.
        wait_until(lambda n=n: len(sends(simulator)) > n, 30, f"send {n} reached the simulator")
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not errors, errors
    assert all(not t.is_alive() for t in threads), "a send did not settle in time"
    # Count only once SerwerSMS has finished every slow request (a late take comes last).
    left = max(0.0, deadline - time.monotonic())
    wait_until(lambda: simulator.sim.faults.slow_in_flight == 0, left, "slow requests finished")
    return [Message.objects.get(pk=pk) for n in sorted(results) for pk in results[n]]


def assert_each_sent_once(simulator, messages: list[Message]) -> None:
    records = Counter(
        (r["account"], r["unique_id"]) for r in simulator.messages() if r.get("unique_id")
    )
    doubles = {key: n for key, n in records.items() if n > 1}
    assert not doubles, f"sent twice at SerwerSMS: {doubles}"
    for message in messages:
        assert records[(message.account.name, message.unique_id)] == 1, message.unique_id
        assert message.status in (Status.QUEUED, Status.IN_PROGRESS), message.error_message
        [record] = simulator.messages(unique_id=message.unique_id)
        assert message.serwersms_id == record["id"]


def slow_cases(delays: list[float]) -> list[tuple[str, list[str], str]]:
    phones = [f"+4850070{n:04d}" for n in range(10)]
    cases = [("api_v2", [f"+4851000{n:04d}"], f"slow_take:{d}") for n, d in enumerate(delays)]
    cases += [("api_v2", [f"+4852000{n:04d}"], f"slow:{d}") for n, d in enumerate(delays)]
    # One slow XML answer for 10 recipients must not give 10 doubles.
    cases += [
        ("xml_api", phones, f"slow_take:{delays[0]}"),
        ("xml_api", [PHONE], f"slow:{delays[-1]}"),
    ]
    return cases


@pytest.mark.django_db(transaction=True)
def test_slow_answers_are_never_sent_twice_scaled(
    account, simulator_settings, settings, celery_eager
):
    """The real case below at a 1 s client timeout: answers 1.1, 1.3 and 4 s late."""
    settings.SERWERSMS_TIMEOUT = 1.0
    settings.SERWERSMS_SETTLE_MARGIN_SECONDS = 0.5
    settings.SERWERSMS_SETTLE_WINDOW_SECONDS = 6.0
    settings.SERWERSMS_SETTLE_LOOKUPS = 4
    messages = send_each(simulator_settings, account, slow_cases([1.1, 1.3, 4.0]), seconds=60)
    assert len(messages) == 6 + 10 + 1
    assert_each_sent_once(simulator_settings, messages)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_slow_answers_of_16_20_and_60_s_are_never_sent_twice(
    account, simulator_settings, settings, celery_eager
):
    """The product's own settle settings against answers 16, 20 and 60 s late (timeout 15 s)."""
    settings.SERWERSMS_TIMEOUT = 15.0
    settings.SERWERSMS_SETTLE_MARGIN_SECONDS = 5.0
    settings.SERWERSMS_SETTLE_WINDOW_SECONDS = 120.0
    settings.SERWERSMS_SETTLE_LOOKUPS = 4
    messages = send_each(simulator_settings, account, slow_cases([16, 20, 60]), seconds=240)
    assert_each_sent_once(simulator_settings, messages)


@pytest.mark.django_db(transaction=True)
def test_a_send_serwersms_never_took_is_sent_again_only_after_every_look_up(
    account, simulator_settings, settings, celery_eager
):
    settings.SERWERSMS_TIMEOUT = 0.5
    settings.SERWERSMS_SETTLE_MARGIN_SECONDS = 0.2
    settings.SERWERSMS_SETTLE_WINDOW_SECONDS = 1.5
    settings.SERWERSMS_SETTLE_LOOKUPS = 3
    simulator_settings.faults(["http_500"])  # nothing taken, but we cannot know it
    started = time.monotonic()
    (message,) = send_sms(account, [PHONE], "Hi")
    message.refresh_from_db()
    assert message.status == Status.QUEUED and message.send_attempts == 2
    assert [r["action"] for r in simulator_settings.requests()] == [
        "messages/send_sms",
        *["messages/reports"] * 3,
        "messages/send_sms",
    ]
    assert time.monotonic() - started >= 0.5 + 0.2 + 1.5
    assert len(simulator_settings.messages(unique_id=message.unique_id)) == 1


@pytest.mark.django_db
def test_while_serwersms_is_checked_the_message_stays_pending_and_says_so(
    account, simulator_settings, settings, django_capture_on_commit_callbacks
):
    settings.SERWERSMS_TIMEOUT = 0.5
    settings.SERWERSMS_SETTLE_WINDOW_SECONDS = 30.0
    simulator_settings.faults(["http_500"])
    with django_capture_on_commit_callbacks():  # the send task is run below, by hand
        (message,) = send_sms(account, [PHONE], "Hi")

    def stop(pause: float) -> None:
        raise RuntimeError("the worker stops while it waits to look the message up")

    delivery.deliver([message.pk], sleep=stop)
    message.refresh_from_db()
    assert message.status == Status.SUBMITTING and message.send_attempted_at is not None
    assert message.error_message.startswith("Checking with SerwerSMS")
    assert "not sent again before" in message.error_message
    assert "HTTP 500" in message.error_message
    assert len(sends(simulator_settings)) == 1 and simulator_settings.messages() == []


def test_the_simulator_takes_a_repeated_unique_id_as_a_second_message(simulator):
    """Pessimistic on purpose: nothing at SerwerSMS's side refuses a double."""
    import requests

    simulator.register_account(token="t-rep")
    body = {"phone": PHONE, "text": "Hi", "unique_id": "rep123", "details": True}
    headers = {"Authorization": "Bearer t-rep"}
    for _ in range(2):
        answer = requests.post(
            f"{simulator.api_url}messages/send_sms.json", json=body, headers=headers, timeout=5
        ).json()
        assert answer["queued"] == 1
    assert len(simulator.messages(unique_id="rep123")) == 2


@pytest.mark.parametrize("channel", ["api_v2", "xml_api", "email2sms"])
@pytest.mark.django_db
def test_one_task_for_several_sends_gives_each_message_its_own_text(
    account, simulator_settings, settings, django_capture_on_commit_callbacks, channel
):
    """resume_sends queues the outbox by account: one task may carry several sends."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    simulator_settings.register_account(
        name="mail", email="shop@example.com", email2sms_key="Key1", token="mail-token"
    )
    account.email2sms_sender, account.email2sms_key = "shop@example.com", "Key1"
    account.save()
    with django_capture_on_commit_callbacks():  # both left in the outbox
        first = send_sms(account, [PHONE], "First text", channel=channel)
        second = send_sms(account, ["+48500600701"], "Second text", channel=channel)
    delivery.deliver([m.pk for m in first + second])
    texts = {r["phone"]: r["text"] for r in simulator_settings.messages()}
    assert texts == {PHONE: "First text", "+48500600701": "Second text"}
