"""Each message's fate (§8 lifecycle, I): the statuses it passes through and when, seeded.

The fate depends only on (seed, message id), so the same seed and the same sends give the same
statuses, reasons and delays in every run.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass
from decimal import Decimal

from .protocol import ControlError

FINAL = frozenset({"delivered", "undelivered", "unsent"})
COUNTED = frozenset({"sent", "delivered", "undelivered"})
PENDING = frozenset({"saved", "queued", "in_progress"})
# What the simulator bills per part (I: any plausible price; reports carry `cost`).
PRICE_PER_PART = {
    "eco": Decimal("0.0550"),
    "full": Decimal("0.1600"),
    "mms": Decimal("0.2900"),
    "voice": Decimal("0.1900"),
}

# Reasons SerwerSMS documents; split by where in the life of a message they can happen.
UNSENT_REASONS = (
    "wrong_number",
    "unsupported_number",
    "number_is_blacklisted",
    "lock_send",
    "sending_to_foreign_networks_is_locked",
    "no_permission_to_send_messages",
    "other_error",
)
UNDELIVERED_REASONS = (
    "message_expired",
    "message_rejected",
    "operator_error",
    "missed_call",
    "other_error",
)

UNSENT_SHARE = 0.05  # of all messages
UNDELIVERED_SHARE = 0.10  # of the dispatched ones


@dataclass(frozen=True)
class Step:
    status: str
    delay: float  # seconds after the previous step, before scaling by the speed
    reason: str = ""


def fate(seed: int, message_id: str) -> tuple[Step, ...]:
    """The steps after `queued` that message `message_id` will take."""
    rng = random.Random(f"{seed}:{message_id}")
    if rng.random() < UNSENT_SHARE:
        return (Step("unsent", rng.uniform(1, 10), rng.choice(UNSENT_REASONS)),)
    steps = [Step("in_progress", rng.uniform(1, 5)), Step("sent", rng.uniform(2, 20))]
    if rng.random() < UNDELIVERED_SHARE:
        steps.append(Step("undelivered", rng.uniform(10, 180), rng.choice(UNDELIVERED_REASONS)))
    else:
        steps.append(Step("delivered", rng.uniform(5, 120)))
    return tuple(steps)


class ScheduleMixin:
    """Moving messages along their fates: on a timer (speed > 0) or at once (`advance`)."""

    def _plan(self, message, now) -> None:
        """Put the message's next step on the timer (none when the speed is 0: manual only)."""
        message.next_due = None
        if message.status in FINAL:
            return
        if message.status == "saved":
            due = message.scheduled.timestamp()
        elif self.speed > 0:
            due = now.timestamp() + message.fate[message.step].delay / self.speed
        else:
            return
        message.next_due = due
        heapq.heappush(self._timer, (due, message.id))

    def _step(self, message, now) -> None:
        """Move `message` one step along its fate and tell the listeners."""
        if message.status == "saved":
            message.status = "queued"
            message.queued = now
        else:
            step: Step = message.fate[message.step]
            message.step += 1
            message.status = step.status
            message.reason = step.reason
            if step.status == "sent":
                message.sent = now
                message.cost = PRICE_PER_PART[message.type] * message.parts
            elif step.status in ("delivered", "undelivered"):
                message.delivered = now if step.status == "delivered" else None
            elif step.status == "unsent":
                message.cost = Decimal("0.0000")
                account = self.account_named(message.account)
                if account is not None and account.limit is not None:
                    account.limit += message.parts  # "unsent" is never billed (§3, C)
        message.changed = now
        if message.status in FINAL:
            self._active.pop(message.id, None)
        self._plan(message, now)
        self.changes += 1
        account = self.account_named(message.account)
        if account is not None:
            for listener in self.listeners:
                listener(account, message)

    def tick(self) -> int:
        """Apply every step whose time has come; the number of steps applied."""
        applied = 0
        with self.lock:
            now = self.now()
            stamp = now.timestamp()
            while self._timer and self._timer[0][0] <= stamp:
                due, message_id = heapq.heappop(self._timer)
                message = self.messages.get(message_id)
                if message is None or message.next_due != due:
                    continue  # stale entry: deleted, or moved on by advance()
                self._step(message, now)
                applied += 1
        return applied

    def advance(self, steps: int = 1, to_final: bool = False) -> int:
        """Move every unfinished message `steps` steps (or to its final status) at once."""
        if steps < 1 and not to_final:
            raise ControlError("steps must be at least 1.")
        applied = 0
        with self.lock:
            now = self.now()
            rounds = itertools.count() if to_final else range(steps)
            for _ in rounds:
                if not self._active:
                    break
                for message_id in list(self._active):
                    self._step(self.messages[message_id], now)
                    applied += 1
        return applied
