"""The one retry policy (tenacity) and its classification, and the shared per-account limit."""

import multiprocessing
import time

import pytest
from django.core.cache import cache

from billing.serwersms.errors import (
    InvalidCredentials,
    InvalidInput,
    LimitExhausted,
    MalformedResponse,
    RateLimited,
    ServerError,
    SerwerSMSError,
    TransportError,
)
from billing.serwersms.retry import Disposition, disposition, policy, read_with_retries, throttle


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TransportError("refused", may_have_been_sent=False), Disposition.NOT_TAKEN),
        (TransportError("timeout", may_have_been_sent=True), Disposition.MAYBE_TAKEN),
        (RateLimited(None, "429", 429), Disposition.NOT_TAKEN),
        (ServerError(None, "500", 500), Disposition.MAYBE_TAKEN),
        (MalformedResponse(None, "half a body"), Disposition.MAYBE_TAKEN),
        (InvalidCredentials(1001, "bad login"), Disposition.REFUSED),
        (LimitExhausted(3000, "no ECO left"), Disposition.REFUSED),
        (InvalidInput(2001, "bad phone"), Disposition.REFUSED),
        (SerwerSMSError(4201, "an undocumented code"), Disposition.REFUSED),
        (InvalidInput(451, "SMTP: try again later"), Disposition.NOT_TAKEN),
        (InvalidInput(554, "SMTP: transaction failed"), Disposition.NOT_TAKEN),
        (InvalidInput(550, "SMTP: sender not authorised"), Disposition.REFUSED),
        (InvalidCredentials(101, "XML <Blad> 101: wrong login"), Disposition.REFUSED),
        (TimeoutError("not ours at all"), Disposition.MAYBE_TAKEN),
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_each_failure_means_not_taken_maybe_taken_or_refused(error, expected):
    assert disposition(error) == expected


def test_an_error_may_declare_its_own_disposition():
    error = SerwerSMSError(1234, "unknown code")
    error.disposition = "not_taken"
    assert disposition(error) == Disposition.NOT_TAKEN


def test_transient_failures_are_retried_with_growing_jittered_pauses(settings):
    settings.SERWERSMS_RETRY_BASE_SECONDS = 0.1
    settings.SERWERSMS_RETRY_MAX_SECONDS = 10
    calls, pauses = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 5:
            raise RateLimited(None, "slow down", 429)
        return "ok"

    assert policy(within=60, sleep=pauses.append)(flaky) == "ok"
    assert len(calls) == 5 and len(pauses) == 4
    assert all(0 <= p <= 0.1 * 2**n for n, p in enumerate(pauses, start=1))


def test_a_rate_limited_call_is_asked_again_no_sooner_than_its_retry_after(settings):
    settings.SERWERSMS_RETRY_BASE_SECONDS = 0.01
    settings.SERWERSMS_RETRY_MAX_SECONDS = 0.02
    calls, pauses = [], []

    def limited():
        calls.append(1)
        if len(calls) < 3:
            raise RateLimited(None, "slow down", 429, retry_after=7)
        return "ok"

    assert policy(within=60, sleep=pauses.append)(limited) == "ok"
    assert pauses == [7, 7]  # the server's word, not the 0.02 s the backoff allows


def test_a_retry_after_past_the_deadline_gives_up_at_once_without_waiting(settings):
    settings.SERWERSMS_RETRY_BASE_SECONDS = 0.01
    settings.SERWERSMS_RETRY_MAX_SECONDS = 0.02
    calls, pauses = [], []

    def limited():
        calls.append(1)
        raise RateLimited(None, "slow down", 429, retry_after=120)

    with pytest.raises(RateLimited):
        policy(within=0.5, sleep=pauses.append)(limited)
    assert len(calls) == 1 and pauses == []


def test_a_refusal_is_never_retried():
    calls = []

    def refused():
        calls.append(1)
        raise InvalidCredentials(1001, "bad login")

    with pytest.raises(InvalidCredentials):
        policy(within=60, sleep=lambda _: None)(refused)
    assert len(calls) == 1


def test_the_policy_stops_at_its_deadline_and_reraises_the_last_failure(settings):
    settings.SERWERSMS_RETRY_BASE_SECONDS = 0.01
    settings.SERWERSMS_RETRY_MAX_SECONDS = 0.02
    calls = []

    def down():
        calls.append(time.monotonic())
        raise TransportError("refused", may_have_been_sent=False)

    started = time.monotonic()
    with pytest.raises(TransportError):
        policy(within=0.3)(down)
    assert 1 < len(calls) and time.monotonic() - started < 1.0


def test_reads_are_asked_again_even_when_the_first_may_have_been_done():
    answers = [ServerError(None, "500", 500), TransportError("x", may_have_been_sent=True), "ok"]

    def read():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert read_with_retries(read) == "ok"


def test_the_rate_limit_spaces_requests_of_one_account(settings):
    settings.SERWERSMS_RATE_LIMIT_PER_SECOND = 5
    cache.clear()
    stamps = []
    for _ in range(12):
        throttle("account:limit-test", sleep=time.sleep)
        stamps.append(time.time())
    per_second: dict[int, int] = {}
    for stamp in stamps:
        per_second[int(stamp)] = per_second.get(int(stamp), 0) + 1
    assert max(per_second.values()) <= 5 and len(per_second) >= 3
    throttle("account:other-account")  # another account has its own limit: no wait


def _take_slots(args) -> list[int]:
    """The one-second windows in which this process surely got its slots: a slot whose call
    began and ended in the same second (on a loaded machine others are left out)."""
    import django

    django.setup()
    from billing.serwersms.retry import throttle as take

    key, count = args
    windows = []
    for _ in range(count):
        before = int(time.time())
        take(key)
        if int(time.time()) == before:
            windows.append(before)
    return windows


def test_the_rate_limit_is_shared_by_processes(settings, tmp_path):
    """Two processes of the same account share one limit (the cache, not a process bucket)."""
    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        pytest.skip("a per-process cache cannot be shared")
    rate = int(settings.SERWERSMS_RATE_LIMIT_PER_SECOND)
    key = f"account:shared-{time.time_ns()}"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        windows = sum(pool.map(_take_slots, [(key, rate)] * 2), [])
    # 2 x rate requests cannot all fit in one second's window.
    per_second: dict[int, int] = {}
    for window in windows:
        per_second[window] = per_second.get(window, 0) + 1
    assert windows and max(per_second.values()) <= rate
