"""The per-key rate limit holds under concurrency: of many parallel requests exactly N pass.

Both storages the product uses: Redis (limits' own, when the cache and broker are Redis) and the
embedded default's files under a lock, shared by threads and by processes.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from limits import parse

from partner_api import rate_limits
from partner_api.rate_limits import FileStorage, parse_rate

LIMIT = 10
REQUESTS = 40
THREADS = 10


@pytest.fixture(params=["redis", "file"])
def storage_kind(request, settings, tmp_path):
    if request.param == "redis":
        if not settings.API_RATE_LIMIT_STORAGE_URL.startswith(("redis://", "rediss://")):
            pytest.skip("the cache and broker are not Redis here")
    else:
        settings.API_RATE_LIMIT_STORAGE_URL = f"file://{tmp_path / 'limits'}"
    # A day: the test cannot outlast the window, whatever the machine's load.
    settings.API_RATE_LIMIT = f"{LIMIT}/day"
    rate_limits.reset()
    return request.param


def _parallel_gets(url: str, raw_key: str) -> list[requests.Response]:
    start = threading.Barrier(THREADS)

    def call(n: int) -> requests.Response:
        if n < THREADS:
            start.wait(timeout=60)  # the first THREADS requests leave together
        return requests.get(url, headers={"Authorization": f"Bearer {raw_key}"}, timeout=60)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(call, range(REQUESTS)))


def test_parallel_requests_past_the_limit_are_429_and_exactly_the_limit_pass(
    live_server, alpha, beta, storage_kind
):
    url = f"{live_server.url}/api/v1/me"
    responses = _parallel_gets(url, alpha.raw_key)
    codes = [r.status_code for r in responses]
    assert codes.count(200) == LIMIT, codes
    assert codes.count(429) == REQUESTS - LIMIT, codes
    refused = [r for r in responses if r.status_code == 429]
    assert {r.json()["error"] for r in refused} == {"rate_limited"}
    # The oldest counted request leaves the one-day window in (almost) a day.
    assert all(86_000 <= int(r.headers["Retry-After"]) <= 86_400 for r in refused)
    # The limit is per key: another key still passes.
    other = requests.get(url, headers={"Authorization": f"Bearer {beta.raw_key}"}, timeout=60)
    assert other.status_code == 200


def _hit_file_storage(directory: str) -> int:
    storage = FileStorage(f"file://{directory}")
    limiter = rate_limits.MovingWindowRateLimiter(storage)
    item = parse("25 per 1 day")
    return sum(limiter.hit(item, "api_key", "7") for _ in range(10))


def test_the_file_storage_counts_atomically_across_processes(tmp_path):
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(6, mp_context=context) as pool:
        taken = list(pool.map(_hit_file_storage, [str(tmp_path)] * 6))
    assert sum(taken) == 25


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("600/min", "600 per 1 minute"),
        ("3/m", "3 per 1 minute"),
        ("10/s", "10 per 1 second"),
        ("5/hour", "5 per 1 hour"),
        ("1/d", "1 per 1 day"),
        ("100 per 2 minutes", "100 per 2 minute"),
    ],
)
def test_the_rate_setting_takes_ninjas_words_and_limits_own(text, expected):
    assert str(parse_rate(text)) == expected


@pytest.mark.parametrize("text", ["", "many", "10/fortnight", "-1/min"])
def test_a_rate_setting_that_is_not_a_rate_is_a_configuration_error(text):
    with pytest.raises(ImproperlyConfigured, match="API_RATE_LIMIT"):
        parse_rate(text)


def test_a_storage_each_process_counts_alone_is_refused():
    with pytest.raises(ImproperlyConfigured, match="memory://"):
        rate_limits.storage("memory://")
