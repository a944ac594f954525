"""Each message's fate: the statuses it will pass through and when, from a seeded random source.

The fate depends only on (seed, message id), so the same seed and the same sends give the same
statuses, reasons and delays in every run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

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
