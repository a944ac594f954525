"""The one retry policy for every SerwerSMS call (API v2, XML API, Email2SMS), and the shared
per-account rate limit (docs/status.md, "One retry policy"). Imports no models.

A failure's `disposition` (after errors.Outcome) decides: NOT_TAKEN is tried again; MAYBE_TAKEN
too, but a send is looked up first (delivery.py); REFUSED never, and only it makes a message unsent.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import requests
from django.conf import settings
from django.core.cache import cache
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_before_delay,
    wait_random_exponential,
)

from .errors import Outcome, RateLimited

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Disposition(enum.StrEnum):
    NOT_TAKEN = "not_taken"
    MAYBE_TAKEN = "maybe_taken"
    REFUSED = "refused"


# SMTP replies that refuse the addresses themselves: sending again would fail the same way.
SMTP_REFUSALS = frozenset({"550", "551", "553"})
_BY_OUTCOME = {
    Outcome.NOTHING_DONE: Disposition.NOT_TAKEN,
    Outcome.MAYBE_DONE: Disposition.MAYBE_TAKEN,
    Outcome.REFUSED: Disposition.REFUSED,
}


def disposition(exc: BaseException) -> Disposition:
    """What a failed call means for the message: SMTP codes other than address refusals are not
    taken; else the error's own `disposition` or `outcome`; any other exception may be taken."""
    code = str(getattr(exc, "code", "") or "")
    if len(code) == 3 and code[0] in "45" and code.isdigit() and code not in SMTP_REFUSALS:
        # An SMTP reply: the mail server did not take the mail. SerwerSMS itself never refuses
        # a mail by SMTP (it ignores mails it cannot use), so only address refusals are final.
        return Disposition.NOT_TAKEN
    declared = getattr(exc, "disposition", None)
    if declared:
        return Disposition(str(declared))
    return _BY_OUTCOME.get(str(getattr(exc, "outcome", "")), Disposition.MAYBE_TAKEN)


class SettleFirst(Exception):  # noqa: N818 - a signal to the retry loop, not an error
    """A send may have reached SerwerSMS: the next attempt looks it up before sending."""


def _log_before_sleep(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    logger.warning(
        "SerwerSMS call failed (%s); attempt %d, next in %.2fs",
        exc,
        state.attempt_number,
        state.next_action.sleep if state.next_action else 0,
    )


def policy(*, within: float, sleep: Callable[[float], None] = time.sleep) -> Retrying:
    """Backoff with full jitter, no new attempt once `within` seconds passed; everything but a
    definite refusal is tried again. The last failure is re-raised as it was."""
    backoff = wait_random_exponential(
        multiplier=settings.SERWERSMS_RETRY_BASE_SECONDS,
        max=settings.SERWERSMS_RETRY_MAX_SECONDS,
    )

    def wait(state: RetryCallState) -> float:
        # A RateLimited call is asked again no sooner than its Retry-After, even past
        # SERWERSMS_RETRY_MAX_SECONDS (an earlier call would be refused again); one that would
        # wait past `within` is not waited for: stop_before_delay gives up at once instead.
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
        return max(backoff(state), retry_after or 0.0)

    return Retrying(
        stop=stop_before_delay(max(0.0, within)),
        wait=wait,
        retry=retry_if_exception(
            lambda exc: isinstance(exc, SettleFirst) or disposition(exc) != Disposition.REFUSED
        ),
        reraise=True,
        sleep=sleep,
        before_sleep=_log_before_sleep,
    )


def read_with_retries(call: Callable[[], T], *, within: float | None = None) -> T:
    """A read (reports, status checks, look-ups): asked again on any transient failure."""
    within = settings.SERWERSMS_READ_RETRY_SECONDS if within is None else within
    return policy(within=within)(call)


def throttle(account_key: str, *, sleep: Callable[[float], None] = time.sleep) -> float:
    """Wait for a slot of the account's rate limit (a one-second window per account in the
    Django cache: `add` starts its counter, `incr` takes a slot); returns the seconds waited."""
    rate = settings.SERWERSMS_RATE_LIMIT_PER_SECOND
    if not rate or rate <= 0:
        return 0.0
    waited = 0.0
    while True:
        now = time.time()
        window = int(now)
        key = f"serwersms-rate:{account_key}:{window}"
        with _counter_lock(account_key):
            cache.add(key, 0, timeout=5)
            try:
                taken = cache.incr(key)
            except ValueError:  # expired between add and incr: start again
                continue
        if taken <= rate:
            return waited
        pause = (window + 1) - now + 0.001
        sleep(pause)
        waited += pause


@contextlib.contextmanager
def _counter_lock(account_key: str):
    """Redis counts atomically; the file and database caches do not, so lock a file around."""
    if "redis" in type(cache).__module__:
        yield
        return
    folder = Path(settings.VAR_DIR) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(account_key.encode()).hexdigest()[:16]
    with open(folder / f"rate-{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


class RateLimitedSession(requests.Session):
    """A requests session that takes a slot of the account's shared limit before each request."""

    def __init__(self, account_key: str):
        super().__init__()
        self.account_key = account_key

    def request(self, *args, **kwargs):
        throttle(self.account_key)
        return super().request(*args, **kwargs)


def limited_client(client, account_key: str):
    """The client with its HTTP session under the account's shared rate limit; returned."""
    if hasattr(client, "session"):
        client.session = RateLimitedSession(account_key)
    return client
