"""Delivery-report callbacks: POST the contract's form fields to an account's URL, off-thread."""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)


class CallbackSender:
    """Sends callbacks from a small thread pool; retries a few times; never blocks the caller."""

    def __init__(self, timeout: float = 2.0, attempts: int = 3, backoff: float = 0.3):
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.log: list[dict[str, Any]] = []  # one entry per callback, for /_sim/callbacks
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sim-callback")

    def submit(self, url: str, fields: dict[str, str]) -> None:
        self._pool.submit(self._deliver, url, fields)

    def _deliver(self, url: str, fields: dict[str, str]) -> None:
        body = urllib.parse.urlencode(fields).encode()
        error = ""
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(
                url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    status = response.status
                self._note(url, fields, True, attempt, f"HTTP {status}")
                return
            except Exception as exc:  # any failure of the customer's endpoint: retry, then log
                error = str(exc)
                time.sleep(self.backoff * attempt)
        logger.warning("Callback to %s for %s failed: %s", url, fields.get("id"), error)
        self._note(url, fields, False, self.attempts, error)

    def _note(self, url: str, fields: dict[str, str], ok: bool, attempts: int, result: str):
        with self._lock:
            self.log.append(
                {
                    "url": url,
                    "id": fields.get("id"),
                    "status": fields.get("status"),
                    "ok": ok,
                    "attempts": attempts,
                    "result": result,
                }
            )

    def clear(self) -> None:
        with self._lock:
            self.log = []

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
