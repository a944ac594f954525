"""The simulated SerwerSMS: one object holding accounts, messages, schedule, faults and records.

Plain Python, no HTTP: the servers parse their protocol and call `Simulator`. Every public method
takes the lock, so the HTTP server's, the SMTP server's and the ticker's threads share one instance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .accounts import Account, AccountsMixin
from .faults import FaultPlan
from .protocol import format_time, loose_ic
from .reports import ReportsMixin
from .schedule import ScheduleMixin
from .sending import Message, SendingMixin
from .state import StateMixin


class Simulator(AccountsMixin, SendingMixin, ScheduleMixin, ReportsMixin, StateMixin):
    """All of the simulated SerwerSMS."""

    def __init__(
        self,
        *,
        seed: int = 0,
        fault_rate: float = 0.0,
        speed: float = 1.0,
        max_parts: int = 6,
        slow_seconds: float = 20.0,
        fault_seed: int | None = None,
    ):
        if speed < 0:
            raise ValueError("speed must be 0 (manual) or positive")
        if not 0 <= fault_rate <= 1:
            raise ValueError("fault_rate must be between 0 and 1")
        self.seed = seed
        self.speed = speed
        self.max_parts = max_parts
        self.lock = threading.RLock()
        self.frozen_now: datetime | None = None
        self.listeners: list[Callable[[Account, Message], None]] = []
        self.changes = 0  # bumped on every change; the state saver watches it
        self.accounts: list[Account] = []
        self.generation = 0  # bumped by reset(): a slow request from before it is dropped
        self.faults = FaultPlan(seed if fault_seed is None else fault_seed, slow_seconds)
        if fault_rate:
            self.faults.configure("http", rate=fault_rate)
        self._clear_messages()

    @property
    def slow_seconds(self) -> float:
        return self.faults.slow_seconds

    @slow_seconds.setter
    def slow_seconds(self, value: float) -> None:
        self.faults.slow_seconds = float(value)

    def queue_faults(self, names: list[str], slow_seconds: float | None = None) -> None:
        """Faults for the next HTTP requests of either API, one per request (`/_sim/faults`)."""
        self.faults.configure("http", queue=list(names))
        if slow_seconds is not None:
            self.slow_seconds = slow_seconds

    @property
    def fault_rate(self) -> float:
        """The random fault rate of API v2 (see FaultPlan for each channel's own)."""
        return self.faults.channels["api_v2"].rate

    @fault_rate.setter
    def fault_rate(self, value: float) -> None:
        self.faults.configure("http", rate=value)

    # --- time -----------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.frozen_now or datetime.now(UTC)

    def set_now(self, value: datetime | None) -> None:
        """Freeze the simulator's clock at `value` (None: real time again)."""
        with self.lock:
            self.frozen_now = value.astimezone(UTC) if value else None

    # --- records --------------------------------------------------------------------------

    def record_request(
        self, action: str, channel: str, method: str, ic: Any = None, **extra: Any
    ) -> dict[str, Any]:
        entry = {
            "action": action,
            "channel": channel,
            "ic": loose_ic(ic),
            "method": method,
            "at": format_time(self.now()),
            **extra,
        }
        with self.lock:
            self.requests.append(entry)
        return entry

    # --- lifecycle ------------------------------------------------------------------------

    def _clear_messages(self) -> None:
        self.messages: dict[str, Message] = {}
        self._by_account: dict[str, list[str]] = {}
        self._by_phone: dict[tuple[str, str], list[str]] = {}
        self._by_unique_id: dict[tuple[str, str], list[str]] = {}
        self._by_ic: dict[int, list[str]] = {}
        self._active: dict[str, None] = {}  # unfinished messages, in sending order
        self._timer: list[tuple[float, str]] = []
        self._next_id = 1
        self.incoming_messages: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.mails: list[dict[str, Any]] = []  # every Email2SMS mail and what became of it

    def reset(self, accounts: bool = False) -> None:
        """Forget messages, requests and faults (and the accounts, when asked)."""
        with self.lock:
            self.generation += 1
            self._clear_messages()
            self.faults.reset()
            if accounts:
                self.accounts = []
            self.frozen_now = None
            self.changes += 1
