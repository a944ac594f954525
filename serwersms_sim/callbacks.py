"""Delivery-report callbacks as serwersms-api.md §5 describes them.

C: parameters `smsid`, `stan`, `data`; GET or POST; the handler answers `OK`; sent on delivery or
failure. I (options here, docs/simulator.md): the `stan` words, which statuses call back, the
time format of `data`, retries when the answer is not `OK`.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)

# I: no source names the `stan` words of the v2 callback. Two readings: the API v2 status words,
# or the XML `nat` dlr_url words (C for `nat`, §5).
STAN_WORDS = {
    "v2": {
        "sent": "sent",
        "delivered": "delivered",
        "undelivered": "undelivered",
        "unsent": "unsent",
    },
    "nat": {"sent": "PENDING", "delivered": "DELIVRD", "undelivered": "UNDELIV", "unsent": "ERR"},
}
FINAL_STATUSES = ("delivered", "undelivered", "unsent")  # "on delivery or failure" (§5, C)


class CallbackSender:
    """Calls the account's URL from a small thread pool; never blocks the simulator."""

    def __init__(
        self,
        timeout: float = 2.0,
        attempts: int = 3,
        backoff: float = 0.3,
        method: str = "POST",
        words: str = "v2",
        statuses: tuple[str, ...] = FINAL_STATUSES,
    ):
        if method not in ("GET", "POST"):
            raise ValueError("callback method must be GET or POST")
        if words not in STAN_WORDS:
            raise ValueError(f"callback words must be one of {', '.join(STAN_WORDS)}")
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.method = method
        self.words = words
        self.statuses = tuple(statuses)
        self.log: list[dict[str, Any]] = []  # one entry per callback, for /_sim/callbacks
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sim-callback")

    def fields(self, message_id: str, status: str, at: str) -> dict[str, str] | None:
        """The callback's parameters, or None when this status does not call back."""
        if status not in self.statuses or status not in STAN_WORDS[self.words]:
            return None
        return {"smsid": message_id, "stan": STAN_WORDS[self.words][status], "data": at}

    def submit(self, url: str, fields: dict[str, str]) -> None:
        self._pool.submit(self._deliver, url, fields)

    def _deliver(self, url: str, fields: dict[str, str]) -> None:
        query = urllib.parse.urlencode(fields)
        result = ""
        for attempt in range(1, self.attempts + 1):
            if self.method == "GET":
                separator = "&" if urllib.parse.urlsplit(url).query else "?"
                request = urllib.request.Request(f"{url}{separator}{query}", method="GET")
            else:
                request = urllib.request.Request(
                    url,
                    data=query.encode(),
                    method="POST",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    body = response.read(200).decode("utf-8", "replace").strip()
                    result = f"HTTP {response.status} {body[:40]}"
                if body == "OK":  # §5 (C): the handler answers OK
                    self._note(url, fields, True, attempt, result)
                    return
            except Exception as exc:  # any failure of the customer's endpoint: retry, then log
                result = str(exc)
            time.sleep(self.backoff * attempt)
        logger.warning("Callback to %s for %s failed: %s", url, fields.get("smsid"), result)
        self._note(url, fields, False, self.attempts, result)

    def _note(self, url: str, fields: dict[str, str], ok: bool, attempts: int, result: str):
        with self._lock:
            self.log.append(
                {
                    "url": url,
                    "method": self.method,
                    **fields,
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
