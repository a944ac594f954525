"""Backoff with jitter for transient SerwerSMS failures, and the per-account token bucket."""

import pytest
import requests

from billing.serwersms.retry import TokenBucket, backoff_delay, is_retryable, with_retries


class HttpFailure(Exception):
    def __init__(self, status):
        super().__init__(f"HTTP {status}")
        self.http_status = status


def test_transient_failures_are_retried_until_success():
    calls, pauses = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise HttpFailure(503 if len(calls) == 1 else 429)
        return "ok"

    assert with_retries(flaky, retries=3, base=0.1, sleep=pauses.append) == "ok"
    assert len(calls) == 3 and len(pauses) == 2
    assert all(0 <= pause <= 0.2 for pause in pauses)


def test_a_refusal_is_not_retried():
    calls = []

    def refused():
        calls.append(1)
        raise HttpFailure(401)

    with pytest.raises(HttpFailure):
        with_retries(refused, retries=3, sleep=lambda _: None)
    assert len(calls) == 1


def test_retries_give_up_after_the_limit():
    calls = []

    def down():
        calls.append(1)
        raise requests.ConnectionError("refused")

    with pytest.raises(requests.ConnectionError):
        with_retries(down, retries=2, sleep=lambda _: None)
    assert len(calls) == 3


def test_backoff_grows_exponentially_with_a_cap():
    assert all(backoff_delay(0, base=1) <= 1 for _ in range(50))
    assert max(backoff_delay(6, base=1, cap=10) for _ in range(200)) <= 10
    assert max(backoff_delay(3, base=1) for _ in range(200)) > 2  # jitter spans the range


@pytest.mark.parametrize(
    "error, expected",
    [
        (requests.Timeout(), True),
        (HttpFailure(500), True),
        (HttpFailure(429), True),
        (HttpFailure(400), False),
        (ValueError("bad"), False),
    ],
)
def test_what_counts_as_transient(error, expected):
    assert is_retryable(error) is expected


def test_token_bucket_spaces_requests_at_the_rate():
    now = [0.0]
    bucket = TokenBucket(rate=10, capacity=2, clock=lambda: now[0])
    waits = [bucket.reserve() for _ in range(4)]
    assert waits[:2] == [0.0, 0.0]  # the burst
    assert waits[2] == pytest.approx(0.1) and waits[3] == pytest.approx(0.2)
    now[0] = 10.0  # long idle: refilled to capacity, not beyond
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve() > 0
