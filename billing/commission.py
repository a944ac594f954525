"""Commission rules as pure functions over plain values: rates, tiers, per-message amounts,
Europe/Warsaw billing months and rounding. No database, no clock: callers pass times and zones.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

BILLING_ZONE = ZoneInfo("Europe/Warsaw")
MESSAGE_QUANTUM = Decimal("0.0001")  # per-message amounts
TOTAL_QUANTUM = Decimal("0.01")  # statement totals
ZERO = Decimal("0")
HUNDRED = Decimal("100")
MESSAGE_TYPES = ("eco", "full", "mms", "voice")

PER_MESSAGE = "per_message"
PER_PART = "per_part"
PERCENT_OF_COST = "percent_of_cost"
BASES = (PER_MESSAGE, PER_PART, PERCENT_OF_COST)

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


# --- money -------------------------------------------------------------------------------------


def round_message(amount: Decimal) -> Decimal:
    """A per-message amount: 4 decimals, half-up."""
    return Decimal(amount).quantize(MESSAGE_QUANTUM, rounding=ROUND_HALF_UP)


def round_total(amount: Decimal) -> Decimal:
    """A statement total: 0.01 PLN, half-up."""
    return Decimal(amount).quantize(TOTAL_QUANTUM, rounding=ROUND_HALF_UP)


# --- terms -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rates:
    eco: Decimal = ZERO
    full: Decimal = ZERO
    mms: Decimal = ZERO
    voice: Decimal = ZERO

    def for_type(self, message_type: str) -> Decimal:
        if message_type not in MESSAGE_TYPES:
            raise ValueError(f"Unknown message type {message_type!r}.")
        return getattr(self, message_type)

    @classmethod
    def of(cls, obj) -> Rates:
        """Rates from anything with rate_eco/rate_full/rate_mms/rate_voice attributes."""
        return cls(*(Decimal(getattr(obj, f"rate_{t}")) for t in MESSAGE_TYPES))


@dataclass(frozen=True)
class Tier:
    """From the (from_volume + 1)-th counted message of the month on, these rates apply."""

    from_volume: int
    rates: Rates


@dataclass(frozen=True)
class Terms:
    """One agreement version as plain values."""

    basis: str
    rates: Rates
    tiers: tuple[Tier, ...] = field(default=())
    ref: object = None  # the caller's id for this version (e.g. the Agreement pk)

    def __post_init__(self) -> None:
        if self.basis not in BASES:
            raise ValueError(f"Unknown commission basis {self.basis!r}.")
        object.__setattr__(self, "tiers", tuple(sorted(self.tiers, key=lambda t: t.from_volume)))

    def rate(self, message_type: str, ordinal: int) -> Decimal:
        """The rate for the `ordinal`-th (1-based) counted message of the month."""
        return rate_for(self, message_type, ordinal)


def rate_for(terms: Terms, message_type: str, ordinal: int) -> Decimal:
    """Graduated rates: the highest tier whose from_volume is below the ordinal, else the base."""
    if ordinal < 1:
        raise ValueError("The ordinal of a counted message starts at 1.")
    rates = terms.rates
    for tier in terms.tiers:
        if ordinal > tier.from_volume:
            rates = tier.rates
        else:
            break
    return rates.for_type(message_type)


def message_amount(basis: str, rate: Decimal, parts: int, cost: Decimal | None) -> Decimal:
    """The commission of one counted message, 4 decimals.

    per message: the rate; per part: rate x parts; percent of cost: cost x rate / 100
    (a message whose cost is unknown earns nothing on that basis).
    """
    rate = Decimal(rate)
    if basis == PER_MESSAGE:
        return round_message(rate)
    if basis == PER_PART:
        return round_message(rate * int(parts))
    if basis == PERCENT_OF_COST:
        if cost is None:
            return round_message(ZERO)
        return round_message(Decimal(cost) * rate / HUNDRED)
    raise ValueError(f"Unknown commission basis {basis!r}.")


def forecast_amount(
    basis: str, rate: Decimal, messages: int, parts: int, cost: Decimal | None
) -> Decimal:
    """What pending messages would earn at the base rate if they all get dispatched."""
    rate = Decimal(rate)
    if basis == PER_MESSAGE:
        return round_message(rate * messages)
    if basis == PER_PART:
        return round_message(rate * (parts or 0))
    if basis == PERCENT_OF_COST:
        return round_message(Decimal(cost or 0) * rate / HUNDRED)
    raise ValueError(f"Unknown commission basis {basis!r}.")


# --- billing months ----------------------------------------------------------------------------


def parse_period(value: str) -> date:
    """'YYYY-MM' as the first day of that month; a clear ValueError otherwise."""
    match = _PERIOD.match(str(value).strip())
    if not match:
        raise ValueError(f"The period must look like YYYY-MM, got {value!r}.")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or not 2000 <= year <= 2999:
        raise ValueError(f"No such billing month: {value!r} (from 2000-01 to 2999-12).")
    return date(year, month, 1)


def format_period(period: date) -> str:
    return f"{period.year:04d}-{period.month:02d}"


def next_month(period: date) -> date:
    return date(period.year + period.month // 12, period.month % 12 + 1, 1)


def local_midnight_utc(day: date, zone: ZoneInfo = BILLING_ZONE) -> datetime:
    """The UTC instant at which `day` starts in `zone`."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def month_bounds_utc(period: date, zone: ZoneInfo = BILLING_ZONE) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the billing month that starts on `period` in `zone`."""
    first = period.replace(day=1)
    return local_midnight_utc(first, zone), local_midnight_utc(next_month(first), zone)


def billing_month(dispatched_at: datetime, zone: ZoneInfo = BILLING_ZONE) -> date:
    """The billing month (first day) of an aware dispatch instant."""
    if dispatched_at.tzinfo is None:
        raise ValueError("The dispatch time must be timezone-aware.")
    local = dispatched_at.astimezone(zone)
    return date(local.year, local.month, 1)


def date_range_utc(
    valid_from: date, valid_to: date | None, zone: ZoneInfo = BILLING_ZONE
) -> tuple[datetime, datetime | None]:
    """[start, end) in UTC of an inclusive range of local dates; end None is open."""
    end = local_midnight_utc(valid_to + timedelta(days=1), zone) if valid_to else None
    return local_midnight_utc(valid_from, zone), end


def review_window_end(period: date, days: int, zone: ZoneInfo = BILLING_ZONE) -> datetime:
    """The UTC instant from which a month may be closed: its end plus `days` local days."""
    return local_midnight_utc(next_month(period) + timedelta(days=days), zone)


def can_close(period: date, now: datetime, days: int, zone: ZoneInfo = BILLING_ZONE) -> bool:
    return now >= review_window_end(period, days, zone)


@dataclass(frozen=True)
class VersionSpan:
    """One agreement version's validity as UTC instants, for picking by dispatch time."""

    start: datetime
    end: datetime | None
    terms: Terms


class VersionPicker:
    """Finds the version valid at an instant; versions never overlap (Agreement.clean)."""

    def __init__(self, spans: Sequence[VersionSpan]):
        self.spans = sorted(spans, key=lambda s: s.start)
        self._starts = [s.start for s in self.spans]

    def at(self, instant: datetime) -> Terms | None:
        index = bisect.bisect_right(self._starts, instant) - 1
        if index < 0:
            return None
        span = self.spans[index]
        if span.end is not None and instant >= span.end:
            return None
        return span.terms
