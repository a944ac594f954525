"""The state machine and counting rule (pure)."""

import pytest

from billing.statuses import BillingClass, Outcome, Status, billing_class, decide


@pytest.mark.parametrize(
    ("current", "reported", "outcome"),
    [
        ("submitting", "queued", Outcome.APPLY),
        ("queued", "sent", Outcome.APPLY),
        ("queued", "delivered", Outcome.APPLY),
        ("sent", "delivered", Outcome.APPLY),
        ("sent", "undelivered", Outcome.APPLY),
        ("queued", "unsent", Outcome.APPLY),
        ("submitting", "unsent", Outcome.APPLY),
        ("sent", "unsent", Outcome.BACKWARD),
        ("delivered", "sent", Outcome.BACKWARD),
        ("delivered", "undelivered", Outcome.BACKWARD),
        ("unsent", "delivered", Outcome.BACKWARD),
        ("sent", "queued", Outcome.BACKWARD),
        ("delivered", "delivered", Outcome.SAME),
        ("queued", "exploded", Outcome.UNKNOWN),
        ("queued", "DELIVERED", Outcome.APPLY),
    ],
)
def test_decide(current, reported, outcome):
    assert decide(current, reported) == outcome


def test_counting_rule():
    assert billing_class(Status.SENT) == BillingClass.COUNTED
    assert billing_class(Status.DELIVERED) == BillingClass.COUNTED
    assert billing_class(Status.UNDELIVERED) == BillingClass.COUNTED
    assert billing_class(Status.UNSENT) == BillingClass.NEVER
    for pending in ("submitting", "saved", "queued", "in_progress"):
        assert billing_class(pending) == BillingClass.PENDING
