"""The per-key API rate limit: `limits`' moving window in storage every process shares
(docs/api.md), Redis or `FileStorage` below; `memory://` is refused. Imports no models.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import math
import os
import re
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from limits import RateLimitItem, parse
from limits.errors import ConfigurationError
from limits.storage import MovingWindowSupport, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

# django-ninja's throttle words (the setting's documented syntax since the first release).
_SHORT_RATE = re.compile(r"^\s*([0-9]+)\s*/\s*(s|sec|m|min|h|hour|d|day)\s*$")
_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}  # by the word's first letter


class FileStorage(Storage, MovingWindowSupport):
    """limits storage in files under one directory (`file:///path/to/dir`), one JSON file a key.

    A file is read and rewritten under an exclusive `flock`, so a hit is atomic across every
    thread and process; files are emptied, never deleted, so all lock the same file.
    """

    STORAGE_SCHEME = ["file"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool):
        path = urllib.parse.unquote(urllib.parse.urlparse(uri).path)
        if not path:
            raise ConfigurationError(f"{uri!r}: give a directory, e.g. file:///var/rate-limits")
        self.directory = Path(path)
        self.directory.mkdir(parents=True, exist_ok=True)
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return OSError

    @contextmanager
    def _state(self, key: str) -> Iterator[dict]:
        """The key's state, locked; whatever the block leaves in it is written back."""
        path = self.directory / hashlib.sha256(key.encode("utf-8")).hexdigest()
        with open(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
            raw = handle.read()
            try:
                state = json.loads(raw) if raw else {}
            except ValueError:  # a write cut short by a crash: start the key afresh
                state = {}
            before = dict(state)
            yield state
            if state != before:
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(state).encode("utf-8"))

    # Fixed window counters (limits' base interface).

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._state(key) as state:
            if state.get("expires", 0) <= now:
                state.update(count=0, expires=now + expiry)
            state["count"] = state.get("count", 0) + amount
            return state["count"]

    def get(self, key: str) -> int:
        with self._state(key) as state:
            return state.get("count", 0) if state.get("expires", 0) > time.time() else 0

    def get_expiry(self, key: str) -> float:
        with self._state(key) as state:
            return max(state.get("expires", 0), time.time())

    # The moving window: the times of the latest hits, newest first, at most `limit` of them.

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with self._state(key) as state:
            hits = [at for at in state.get("hits", []) if at > now - expiry]
            if len(hits) + amount > limit:
                return False
            state["hits"] = [now] * amount + hits[: limit - amount]
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        with self._state(key) as state:
            hits = [at for at in state.get("hits", []) if at > now - expiry]
        return (hits[-1], len(hits)) if hits else (now, 0)

    def check(self) -> bool:
        return os.access(self.directory, os.W_OK)

    def clear(self, key: str) -> None:
        with self._state(key) as state:
            state.clear()

    def reset(self) -> int | None:
        paths = [path for path in self.directory.iterdir() if path.is_file()]
        for path in paths:
            with open(path, "r+b") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                handle.truncate()
        return len(paths)


@functools.lru_cache(maxsize=16)
def parse_rate(text: str) -> RateLimitItem:
    """API_RATE_LIMIT as a limits item: "600/min" (django-ninja's words) or "600 per minute"."""
    short = _SHORT_RATE.match(text or "")
    try:
        return parse(f"{short[1]} per 1 {_UNITS[short[2][0]]}" if short else text)
    except (ValueError, ConfigurationError) as exc:
        raise ImproperlyConfigured(
            f"API_RATE_LIMIT {text!r}: write it as N/s, N/min, N/h or N/day, e.g. 600/min."
        ) from exc


def storage(url: str | None = None) -> Storage:
    """The shared storage that API_RATE_LIMIT_STORAGE_URL names (one client per process)."""
    return _storage(url or settings.API_RATE_LIMIT_STORAGE_URL)


@functools.cache
def _storage(url: str) -> Storage:
    if urllib.parse.urlparse(url).scheme in {"memory", "async+memory"}:
        raise ImproperlyConfigured(
            "API_RATE_LIMIT_STORAGE_URL: memory:// counts in each process alone;"
            " use a redis:// URL or file:///a/directory."
        )
    try:
        found = storage_from_string(url)
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"API_RATE_LIMIT_STORAGE_URL {url!r}: {exc}") from exc
    if not isinstance(found, MovingWindowSupport):
        raise ImproperlyConfigured(
            f"API_RATE_LIMIT_STORAGE_URL {url!r}: this storage keeps no moving window;"
            " use a redis:// URL or file:///a/directory."
        )
    return found


def take(*identifiers: str) -> int | None:
    """Count one request of `identifiers` against API_RATE_LIMIT, atomically.

    None when it is allowed; else the whole seconds until the oldest request in the window
    leaves it (the answer's Retry-After). A refused request is not counted.
    """
    item = parse_rate(settings.API_RATE_LIMIT)
    limiter = MovingWindowRateLimiter(storage())
    if limiter.hit(item, *identifiers):
        return None
    reset_at, _remaining = limiter.get_window_stats(item, *identifiers)
    return max(1, math.ceil(reset_at - time.time()))


def reset() -> None:
    """Forget every count (tests; an operator lifting every limit at once)."""
    storage().reset()
