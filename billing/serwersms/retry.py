"""Retrying SerwerSMS calls: exponential backoff with full jitter, and a per-account rate limit.

Retried: timeouts, dropped connections, HTTP 429 and 5xx. Not retried: anything SerwerSMS
answered on purpose (bad credentials, validation errors) — those would fail the same way again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import requests
from django.conf import settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRYABLE_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})
# The client's typed errors (errors.py) that mean "try again later" for a read.
RETRYABLE_ERRORS = frozenset({"RateLimited", "ServerError", "TransportError", "MalformedResponse"})


def is_retryable(exc: BaseException) -> bool:
    """A transient failure: worth another try after a pause."""
    flag = getattr(exc, "retryable", None)
    if flag is not None:
        return bool(flag)
    if any(cls.__name__ in RETRYABLE_ERRORS for cls in type(exc).__mro__):
        return True
    if isinstance(exc, requests.Timeout | requests.ConnectionError | TimeoutError):
        return True
    if isinstance(exc, ConnectionError):
        return True
    status = getattr(exc, "http_status", None) or getattr(exc, "status_code", None)
    if status is None and isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
    return status in RETRYABLE_HTTP


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Full jitter: a random pause in [0, min(cap, base * 2**attempt))."""
    return random.uniform(0, min(cap, base * (2**attempt)))


def with_retries(
    call: Callable[[], T],
    *,
    retries: int | None = None,
    base: float | None = None,
    cap: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    retryable: Callable[[BaseException], bool] = is_retryable,
) -> T:
    """Run `call`, retrying transient failures up to `retries` more times."""
    retries = settings.SERWERSMS_RETRIES if retries is None else retries
    base = getattr(settings, "SERWERSMS_RETRY_BASE_SECONDS", 0.5) if base is None else base
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:
            if attempt >= retries or not retryable(exc):
                raise
            delay = backoff_delay(attempt, base=base, cap=cap)
            logger.warning("SerwerSMS call failed (%s); retry %d in %.2fs", exc, attempt + 1, delay)
            sleep(delay)
            attempt += 1


class TokenBucket:
    """At most `rate` requests per second on average, bursts up to `capacity`; thread-safe."""

    def __init__(self, rate: float, capacity: float | None = None, clock=time.monotonic):
        self.rate = float(rate)
        self.capacity = float(capacity if capacity is not None else max(1.0, rate))
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self.lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token; return how long the caller must wait before using it."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            self.tokens -= 1
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        wait = self.reserve()
        if wait > 0:
            sleep(wait)


_buckets: dict[str, TokenBucket] = {}
_buckets_lock = threading.Lock()


def bucket_for(account_key: str) -> TokenBucket | None:
    """The process-wide bucket of one client account (None when the limit is off)."""
    rate = settings.SERWERSMS_RATE_LIMIT_PER_SECOND
    if not rate or rate <= 0:
        return None
    with _buckets_lock:
        bucket = _buckets.get(account_key)
        if bucket is None or bucket.rate != rate:
            bucket = _buckets[account_key] = TokenBucket(rate)
        return bucket


class RateLimitedSession(requests.Session):
    """A requests session that takes a token of the account's bucket before every request."""

    def __init__(self, account_key: str):
        super().__init__()
        self.account_key = account_key

    def request(self, *args, **kwargs):
        bucket = bucket_for(self.account_key)
        if bucket is not None:
            bucket.acquire()
        return super().request(*args, **kwargs)


def limited(account_key: str, call: Callable[[], T]) -> T:
    """Run one SerwerSMS request under the account's rate limit, with retries."""

    def one_try() -> T:
        bucket = bucket_for(account_key)
        if bucket is not None:
            bucket.acquire()
        return call()

    return with_retries(one_try)
