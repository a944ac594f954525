"""The message state machine and the counting rule: pure functions, no database, no clock.

Statuses are SerwerSMS's own words. Status only moves forward:
pending (submitting/saved/queued/in_progress) -> sent -> delivered | undelivered;
pending -> unsent. A final status never changes. Counted for commission: sent, delivered,
undelivered (SerwerSMS dispatched them); unsent never; pending is only a forecast.

A dispatched message counts when its ic is proven (IcProof: sent by the product, or confirmed
by SerwerSMS's partner billing); only reported by partner software, it is shown apart, never
billed; refuted, it never counts, whatever its status (docs/commission.md).
"""

from __future__ import annotations

import enum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    SUBMITTING = "submitting", _("submitting")
    SAVED = "saved", _("scheduled")
    QUEUED = "queued", _("queued")
    IN_PROGRESS = "in_progress", _("in progress")
    SENT = "sent", _("sent")
    DELIVERED = "delivered", _("delivered")
    UNDELIVERED = "undelivered", _("undelivered")
    UNSENT = "unsent", _("unsent")


PENDING = frozenset({Status.SUBMITTING, Status.SAVED, Status.QUEUED, Status.IN_PROGRESS})
COUNTED = frozenset({Status.SENT, Status.DELIVERED, Status.UNDELIVERED})
NEVER_COUNTED = frozenset({Status.UNSENT})
FINAL = frozenset({Status.DELIVERED, Status.UNDELIVERED, Status.UNSENT})
NOT_FINAL = frozenset(Status) - FINAL
# The named sets every other module takes (tests/billing/test_status_sets.py: no module spells a
# list of statuses itself).
AT_SERWERSMS = frozenset({Status.SAVED, Status.QUEUED, Status.IN_PROGRESS})  # taken, not yet sent
# What partner software may report for a message it sent (SerwerSMS's answer to its send, or a
# later wait); dispatch is only ever taken from SerwerSMS's reports. In the API schema's order.
REPORTABLE = (Status.QUEUED, Status.SAVED, Status.IN_PROGRESS, Status.UNSENT)
WITH_REASON = frozenset({Status.UNSENT, Status.UNDELIVERED})  # SerwerSMS says why
# The handset answered (a delivery report): the report's time is the delivery time.
DELIVERY_REPORTED = frozenset({Status.DELIVERED, Status.UNDELIVERED})


def values(statuses) -> tuple[str, ...]:
    """The plain words of `statuses` (SQL parameters, schema literals); a set in sorted order."""
    ordered = statuses if isinstance(statuses, tuple | list) else sorted(statuses)
    return tuple(Status(status).value for status in ordered)


# Position on the forward path; a transition must go strictly up.
_RANK = {
    Status.SUBMITTING: 0,
    Status.SAVED: 1,
    Status.QUEUED: 2,
    Status.IN_PROGRESS: 3,
    Status.SENT: 4,
    Status.DELIVERED: 5,
    Status.UNDELIVERED: 5,
    Status.UNSENT: 5,
}


class IcProof(models.TextChoices):
    SENT = "sent", _("sent by the product")  # the ic was added by construction (ic.py)
    REPORTED = "reported", _("reported, not yet confirmed")  # the partner's word only
    CONFIRMED = "confirmed", _("confirmed by SerwerSMS")  # SerwerSMS's partner billing lists it
    REFUTED = "refuted", _("refuted by SerwerSMS")  # that month's partner billing does not


PROVEN = frozenset({IcProof.SENT, IcProof.CONFIRMED})


class BillingClass(enum.StrEnum):
    COUNTED = "counted"
    PENDING = "pending"
    UNCONFIRMED = "unconfirmed"  # dispatched, reported, its ic not yet confirmed: shown apart
    NEVER = "never"


class Outcome(enum.StrEnum):
    APPLY = "apply"  # a forward move: change the message
    SAME = "same"  # the status it already has: nothing to do (duplicate report)
    BACKWARD = "backward"  # would move back or leave a final status: record, ignore
    UNKNOWN = "unknown"  # not a SerwerSMS status we know: record, ignore


def parse_status(value: object) -> Status | None:
    """SerwerSMS's status word as a Status, or None when it is not one we know."""
    if isinstance(value, Status):
        return value
    try:
        return Status(str(value).strip().lower())
    except ValueError:
        return None


def decide(current: str, reported: object) -> Outcome:
    """What to do with a status reported for a message that has status `current`."""
    new = parse_status(reported)
    if new is None:
        return Outcome.UNKNOWN
    old = Status(current)
    if new == old:
        return Outcome.SAME
    # Strictly up the path (a final status has the top rank); once dispatched (sent), a message
    # can no longer become unsent.
    if _RANK[new] <= _RANK[old] or (new == Status.UNSENT and old not in PENDING):
        return Outcome.BACKWARD
    return Outcome.APPLY


def billing_class(status: str, ic_proof: str = IcProof.SENT) -> BillingClass:
    """The counting rule (the module's docstring) for a message's status and ic proof."""
    status, proof = Status(status), IcProof(ic_proof)
    if status in NEVER_COUNTED or proof == IcProof.REFUTED:
        return BillingClass.NEVER
    if status in COUNTED:
        return BillingClass.COUNTED if proof in PROVEN else BillingClass.UNCONFIRMED
    return BillingClass.PENDING
