"""Fault injection, per channel and seeded: what a real SerwerSMS (or the network) may do wrong.

Channels: `api_v2` and `xml_api` (HTTP), `email2sms` (SMTP). Each channel has a queue of named
faults for its next requests (one fault per request, in order) and a random rate over a set of
kinds, drawn from `random.Random(f"{seed}:{channel}")`, so a seeded run repeats exactly.
Whether a fault comes BEFORE or AFTER the message was taken is in its name (docs/simulator.md).
A slow fault may carry its own delay: `slow:16` answers after 16 s, whatever `slow_seconds` says.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from .protocol import ControlError

HTTP_CHANNELS = ("api_v2", "xml_api")
CHANNELS = (*HTTP_CHANNELS, "email2sms")

# name -> (taken: does SerwerSMS keep the message?, what the caller sees)
HTTP_FAULTS = {
    "http_500": (False, "HTTP 500 before anything is done"),
    "http_503": (False, "HTTP 503 before anything is done"),
    "http_429": (False, "HTTP 429 with Retry-After before anything is done"),
    "drop": (False, "the connection closes before anything is done"),
    "slow": (True, "the message is taken at once, the answer comes after slow_seconds"),
    "slow_take": (True, "the message is taken after slow_seconds (SerwerSMS busy), then answered"),
    "accept_then_drop": (True, "the message is taken, then the connection closes unanswered"),
    "accept_then_500": (True, "the message is taken, then HTTP 500 is answered"),
    "malformed": (True, "the message is taken, then half an answer is sent"),
}
SMTP_FAULTS = {
    "smtp_421": (False, "421 service not available, at MAIL FROM (nothing taken)"),
    "smtp_451": (False, "451 local error, after DATA (nothing taken)"),
    "smtp_554": (False, "554 transaction failed, after DATA (nothing taken)"),
    "smtp_drop": (False, "the connection closes after DATA before anything is taken"),
    "smtp_accept_then_drop": (True, "the message is taken, then the connection closes"),
    "smtp_slow": (True, "the message is taken, the 250 reply comes after slow_seconds"),
}
KINDS = {"api_v2": HTTP_FAULTS, "xml_api": HTTP_FAULTS, "email2sms": SMTP_FAULTS}
SLOW_KINDS = frozenset({"slow", "slow_take", "smtp_slow"})  # may be named `kind:seconds`


def split_fault(name: str) -> tuple[str, float | None]:
    """`slow:16` -> ("slow", 16.0); `drop` -> ("drop", None). ControlError for a bad delay."""
    kind, colon, seconds = name.partition(":")
    if not colon:
        return name, None
    if kind not in SLOW_KINDS:
        raise ControlError(f"Only {', '.join(sorted(SLOW_KINDS))} take a delay ({name!r}).")
    try:
        delay = float(seconds)
    except ValueError:
        delay = -1.0
    if not 0 <= delay <= 3600:
        raise ControlError(f"{name!r}: the delay must be 0-3600 seconds.")
    return kind, delay


@dataclass
class ChannelFaults:
    queue: list[str] = field(default_factory=list)
    rate: float = 0.0
    kinds: list[str] = field(default_factory=list)
    sending_only: bool = False  # random faults only on sending actions
    rng: random.Random = field(default_factory=random.Random)
    injected: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "queue": list(self.queue),
            "rate": self.rate,
            "kinds": list(self.kinds),
            "sending_only": self.sending_only,
            "injected": dict(self.injected),
        }


class FaultPlan:
    """The faults still to come on each channel."""

    def __init__(self, seed: int = 0, slow_seconds: float = 20.0):
        self.seed = seed
        self.slow_seconds = slow_seconds
        self.lock = threading.Lock()
        self.channels: dict[str, ChannelFaults] = {}
        self.slow_in_flight = 0  # slow requests still in their delay (tests wait for 0)
        self.reset()

    def slow_started(self) -> None:
        with self.lock:
            self.slow_in_flight += 1

    def slow_finished(self) -> None:
        with self.lock:
            self.slow_in_flight -= 1

    def delay_of(self, fault: str) -> float:
        """The seconds a slow fault waits: its own (`slow:16`) or `slow_seconds`."""
        delay = split_fault(fault)[1]
        return self.slow_seconds if delay is None else delay

    def reset(self, seed: int | None = None) -> None:
        """No faults queued, rates 0, random sources re-seeded."""
        with self.lock:
            if seed is not None:
                self.seed = seed
            self.channels = {
                channel: ChannelFaults(
                    kinds=list(KINDS[channel]), rng=random.Random(f"{self.seed}:{channel}")
                )
                for channel in CHANNELS
            }
            # Faults queued for "http" go to whichever HTTP request comes first.
            self.http_queue: list[str] = []

    def configure(
        self,
        channel: str | list[str],
        *,
        queue: list[str] | None = None,
        rate: float | None = None,
        kinds: list[str] | None = None,
        sending_only: bool | None = None,
        seed: int | None = None,
    ) -> None:
        """Queue faults and/or set the random rate on `channel`; ControlError on bad input.

        `channel` is one of CHANNELS, `http` (faults queued for the next HTTP request of either
        API; rate and kinds for both), `all`, or a list of names.
        """
        shared = channel == "http"
        channels = expand_channels(channel)
        if not channels or any(c not in CHANNELS for c in channels):
            raise ControlError(f"channel must be one of {', '.join(CHANNELS)} (or http, all).")
        for each in channels:
            for name in (queue or []) + (kinds or []):
                if split_fault(name)[0] not in KINDS[each]:
                    raise ControlError(
                        f"{name!r} is not a fault of {each}: {', '.join(KINDS[each])}."
                    )
        if rate is not None and not 0 <= rate <= 1:
            raise ControlError("rate must be between 0 and 1.")
        if seed is not None:
            self.reset(seed)
        with self.lock:
            if shared:
                self.http_queue.extend(queue or [])
            for name in channels:
                plan = self.channels[name]
                if not shared:
                    plan.queue.extend(queue or [])
                if rate is not None:
                    plan.rate = rate
                if kinds:
                    plan.kinds = list(kinds)
                if sending_only is not None:
                    plan.sending_only = sending_only

    def next(self, channel: str, *, sending: bool) -> str | None:
        """The fault for this request of `channel`: a queued one, else a random one, else None."""
        with self.lock:
            plan = self.channels[channel]
            fault = None
            if plan.queue:
                fault = plan.queue.pop(0)
            elif channel in HTTP_CHANNELS and self.http_queue:
                fault = self.http_queue.pop(0)
            elif plan.rate and (sending or not plan.sending_only):
                if plan.rng.random() < plan.rate:
                    fault = plan.rng.choice(plan.kinds)
            if fault:
                plan.injected[fault] = plan.injected.get(fault, 0) + 1
            return fault

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "seed": self.seed,
                "http_queue": list(self.http_queue),
                "slow_seconds": self.slow_seconds,
                "slow_in_flight": self.slow_in_flight,
                "channels": {name: plan.as_json() for name, plan in self.channels.items()},
                "kinds": {
                    name: {kind: text for kind, (_taken, text) in KINDS[name].items()}
                    for name in CHANNELS
                },
            }


def expand_channels(value: Any) -> list[str]:
    """`http` = both HTTP channels, `all` = every channel; a string or a list of names."""
    names = [value] if isinstance(value, str) else list(value or ["http"])
    result: list[str] = []
    for name in names:
        if name == "http":
            result.extend(HTTP_CHANNELS)
        elif name == "all":
            result.extend(CHANNELS)
        else:
            result.append(str(name))
    return list(dict.fromkeys(result))
