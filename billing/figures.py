"""The one validation rule for the figures a writer stores: parts, cost and times (pure).

Every writer (the status path of billing/services/status_updates.py, the claims of
billing/services/reporting.py) checks what it is given here before it stores anything. A figure
outside them is an error or a forgery: refused (reported ingestion) or recorded as ignored
(status path), never billed. No ORM, no clock, no settings: callers pass `now` and the skew.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

# A message costs less than this (PLN): no SMS, MMS or voice message comes near it.
MAX_COST = Decimal("1000000")
# More parts than any message SerwerSMS takes (a long MMS or voice message included).
MAX_PARTS = 1000


def cost_problem(cost: Decimal | None) -> str:
    """Why a cost cannot be a message's ("" when it can; None is unknown and fine)."""
    if cost is None or (isinstance(cost, Decimal) and cost.is_finite() and 0 <= cost < MAX_COST):
        return ""
    return f"cost {cost} out of range (0 to {MAX_COST} excluded)"


def parts_problem(parts: int | None) -> str:
    """Why a number of parts cannot be a message's ("" when it can; None is unknown)."""
    if parts is None:
        return ""
    if isinstance(parts, bool) or not isinstance(parts, int) or not 0 <= parts <= MAX_PARTS:
        return f"parts {parts} out of range (0 to {MAX_PARTS})"
    return ""


def _show(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}"


def times_problems(
    *,
    life_start: datetime,
    now: datetime,
    skew: timedelta,
    queued: datetime | None = None,
    sent: datetime | None = None,
    delivered: datetime | None = None,
    known_queued: datetime | None = None,
    known_sent: datetime | None = None,
) -> list[str]:
    """Why report times cannot be true of a message ([] when they can).

    A time lies within [life_start, now] (its creation or queue time, and now), give or take
    `skew` (clocks and SerwerSMS's local times); `sent` is not before the queue time, and
    `delivered` not before the dispatch (else queue) time, the report's own or `known_*`.
    """
    problems: list[str] = []
    low, high = life_start - skew, now + skew
    for name, value in (("queued", queued), ("sent", sent), ("delivered", delivered)):
        if value is None:
            continue
        if value < low:
            problems.append(f"{name} {_show(value)} before the message's life ({_show(low)})")
        elif value > high:
            problems.append(f"{name} {_show(value)} after now ({_show(high)})")
    queue_time = queued or known_queued
    dispatch_time = sent or known_sent or queue_time
    for name, value, earliest, what in (
        ("sent", sent, queue_time, "queued"),
        ("delivered", delivered, dispatch_time, "dispatched"),
    ):
        if value is not None and earliest is not None and value < earliest - skew:
            problems.append(f"{name} {_show(value)} before it was {what} ({_show(earliest)})")
    return problems


def claim_difference(
    *,
    claimed_type: str,
    claimed_parts: int | None,
    claimed_cost: Decimal | None,
    claimed_sent_at: datetime | None,
    message_type: str,
    parts: int,
    cost: Decimal | None,
    sent_at: datetime | None,
    skew: timedelta,
) -> str:
    """How partner software's claim differs from SerwerSMS's figures, e.g. "claimed FULL x100,
    SerwerSMS: ECO x1"; "" when they agree. Call only once SerwerSMS has given its figures."""
    differences = []
    if (claimed_type and claimed_type != message_type) or (
        claimed_parts is not None and claimed_parts != parts
    ):
        claimed = f"{(claimed_type or message_type).upper()} x{claimed_parts or parts}"
        differences.append(f"claimed {claimed}, SerwerSMS: {message_type.upper()} x{parts}")
    if claimed_cost is not None and claimed_cost != cost:
        known = "unknown" if cost is None else f"{cost:.4f}"
        differences.append(f"claimed cost {claimed_cost:.4f}, SerwerSMS: {known}")
    if claimed_sent_at and sent_at and abs(sent_at - claimed_sent_at) > skew:
        differences.append(
            f"claimed sent {_show(claimed_sent_at)} UTC, SerwerSMS: {_show(sent_at)} UTC"
        )
    return "; ".join(differences)


def reported_time_problem(
    sent_at: datetime, now: datetime, max_age_days: int, skew: timedelta
) -> str:
    """Why a reported send time cannot be right ("" when plausible): times_problems' rule,
    within the API's age limit and not after now, give or take the status path's skew."""
    oldest = now - timedelta(days=max_age_days)
    if not times_problems(life_start=oldest, now=now, skew=skew, sent=sent_at):
        return ""
    if sent_at > now:
        return "The send time is in the future."
    return f"The send time is more than {max_age_days} days ago."
