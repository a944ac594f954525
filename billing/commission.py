"""Commission rules as pure functions over plain values: rates, tiers, per-message amounts,
Europe/Warsaw billing months, rounding, credits and VAT. No database, no clock: callers pass
times and zones. Amounts stay exact until shown or totalled: docs/commission.md, "Money".
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

BILLING_ZONE = ZoneInfo("Europe/Warsaw")
TOTAL_QUANTUM = Decimal("0.01")  # anything shown as money, and statement totals
RATE_DECIMALS = 6  # rates and percentages keep at least this many decimals
AMOUNT_DECIMALS = 12  # exact per-message amounts: a 6-decimal rate x a 4-decimal cost / 100
ZERO = Decimal("0")
HUNDRED = Decimal("100")
MESSAGE_TYPES = ("eco", "full", "mms", "voice")

PER_MESSAGE = "per_message"
PER_PART = "per_part"
PERCENT_OF_COST = "percent_of_cost"
BASES = (PER_MESSAGE, PER_PART, PERCENT_OF_COST)

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


# --- money -------------------------------------------------------------------------------------


def round_total(amount: Decimal) -> Decimal:
    """Money as shown or totalled: 0.01 PLN, half-up, never truncated."""
    return Decimal(amount).quantize(TOTAL_QUANTUM, rounding=ROUND_HALF_UP)


def exact(amount: Decimal) -> Decimal:
    """An exact amount as stored (12 decimals hold every product of our rates and costs)."""
    return Decimal(amount).quantize(Decimal(1).scaleb(-AMOUNT_DECIMALS), rounding=ROUND_HALF_UP)


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


def rate_for(terms: Terms, message_type: str, ordinal: int) -> Decimal:
    """The rate of the `ordinal`-th (1-based) counted message of the month: the highest tier
    whose from_volume is below the ordinal, else the base rates."""
    if ordinal < 1:
        raise ValueError("The ordinal of a counted message starts at 1.")
    rates = terms.rates
    for tier in terms.tiers:
        if ordinal <= tier.from_volume:
            break
        rates = tier.rates
    return rates.for_type(message_type)


def message_amount(basis: str, rate: Decimal, parts: int, cost: Decimal | None) -> Decimal:
    """The exact commission of one counted message (never rounded: rounding is at the total):
    the rate, rate x parts, or cost x rate / 100 (an unknown cost earns nothing)."""
    rate = Decimal(rate)
    if basis == PER_MESSAGE:
        return exact(rate)
    if basis == PER_PART:
        return exact(rate * int(parts))
    if basis == PERCENT_OF_COST:
        return exact(ZERO if cost is None else Decimal(cost) * rate / HUNDRED)
    raise ValueError(f"Unknown commission basis {basis!r}.")


# --- the same two rules as SQL (the statement build prices a month in PostgreSQL) --------------
#
# Twins of rate_for and message_amount built from the same Terms, so the rule is written once
# (rates and volumes are parameters). tests/billing/test_pricing_sql.py checks every tier
# boundary and basis against the Python functions.


def _rates_by_type_sql(rates: Rates, message_type: str) -> tuple[str, list]:
    whens = " ".join(f"WHEN '{t}' THEN CAST(%s AS numeric)" for t in MESSAGE_TYPES)
    return f"CASE {message_type} {whens} END", [rates.for_type(t) for t in MESSAGE_TYPES]


def rate_sql(terms: Terms, *, ordinal: str, message_type: str) -> tuple[str, list]:
    """rate_for as a SQL expression over the SQL expressions `ordinal` and `message_type`;
    returns (sql, params): a CASE over the tiers from the highest down, else the base rates.
    An unknown message type gives NULL (rate_for raises)."""
    base, params = _rates_by_type_sql(terms.rates, message_type)
    if not terms.tiers:
        return base, params
    whens, tier_params = [], []
    for tier in reversed(terms.tiers):
        rates, rate_params = _rates_by_type_sql(tier.rates, message_type)
        whens.append(f"WHEN {ordinal} > %s THEN {rates}")
        tier_params += [tier.from_volume, *rate_params]
    return f"CASE {' '.join(whens)} ELSE {base} END", tier_params + params


def amount_sql(basis: str, *, rate: str, parts: str, cost: str) -> str:
    """message_amount as a SQL expression over the SQL expressions `rate`, `parts`, `cost`.

    Exact like the Python rule: numeric products only (a percentage is cost x rate x 0.01, no
    division), then round() to AMOUNT_DECIMALS (halves away from zero, as ROUND_HALF_UP does:
    amounts are never negative). A NULL cost earns 0."""
    expressions = {
        PER_MESSAGE: rate,
        PER_PART: f"{rate} * {parts}",
        PERCENT_OF_COST: f"COALESCE({cost} * {rate} * 0.01, 0)",
    }
    if basis not in expressions:
        raise ValueError(f"Unknown commission basis {basis!r}.")
    return f"round(CAST({expressions[basis]} AS numeric), {AMOUNT_DECIMALS})"


def forecast_amount(
    terms: Terms, counted_so_far: int, pending: Sequence[tuple[str, int, Decimal | None]]
) -> Decimal:
    """What pending (message type, parts, cost) would earn if all get dispatched, exact: they
    rank after the month's `counted_so_far` counted messages, in the order given."""
    total = ZERO
    for offset, (message_type, parts, cost) in enumerate(pending, start=1):
        rate = rate_for(terms, message_type, counted_so_far + offset)
        total += message_amount(terms.basis, rate, parts, cost)
    return total


@dataclass(frozen=True)
class TierProgress:
    """Where a month's counted volume stands against an agreement's tiers."""

    counted: int
    tier: int  # 0: the base rates; n: the n-th tier (1-based) applies to the next message
    next_from_volume: int | None  # the next tier starts after this many counted messages
    remaining: int | None  # counted messages still needed to reach it

    @property
    def percent(self) -> Decimal | None:
        if not self.next_from_volume:
            return None
        share = Decimal(self.counted) * HUNDRED / Decimal(self.next_from_volume)
        return min(share, HUNDRED).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def tier_progress(terms: Terms, counted: int) -> TierProgress:
    """The tier the next counted message falls in and the distance to the next tier."""
    for index, tier in enumerate(terms.tiers):
        if counted < tier.from_volume:
            return TierProgress(counted, index, tier.from_volume, tier.from_volume - counted)
    return TierProgress(counted, len(terms.tiers), None, None)


# --- statements as printed ---------------------------------------------------------------------


@dataclass(frozen=True)
class Presentation:
    """A statement as printed, every figure half-up to the grosz: printed lines + printed
    adjustments + opening credit + rounding + credit carried forward == total."""

    lines: tuple[Decimal, ...]
    adjustments: tuple[Decimal, ...]
    opening_credit: Decimal  # <= 0: a negative balance carried from an earlier statement
    rounding: Decimal  # what rounding each printed figure left over, so that they add up
    balance: Decimal  # half-up rounding of the exact sum of everything
    carried_forward: Decimal  # >= 0: added back when the balance is negative (the credit)
    total: Decimal  # payable: never below zero

    @property
    def credit_to_carry(self) -> Decimal:
        """The negative balance the next statement opens with (0 when nothing is owed back)."""
        return -self.carried_forward


def present_statement(
    lines: Sequence[Decimal],
    adjustments: Sequence[Decimal] = (),
    opening_credit: Decimal = ZERO,
) -> Presentation:
    """Round a statement for print from its exact line and adjustment amounts (the rounding
    line and credits: docs/commission.md, "Money")."""
    opening = round_total(Decimal(opening_credit))
    if opening > ZERO:
        raise ValueError("An opening credit is a negative balance carried forward.")
    exact_sum = sum(map(Decimal, lines), ZERO) + sum(map(Decimal, adjustments), ZERO)
    balance = round_total(exact_sum + opening)
    printed_lines = tuple(map(round_total, lines))
    printed_adjustments = tuple(map(round_total, adjustments))
    rounding = balance - sum(printed_lines, ZERO) - sum(printed_adjustments, ZERO) - opening
    carried = -balance if balance < ZERO else ZERO
    return Presentation(
        lines=printed_lines,
        adjustments=printed_adjustments,
        opening_credit=opening,
        rounding=rounding,
        balance=balance,
        carried_forward=carried,
        total=balance + carried,
    )


@dataclass(frozen=True)
class TaxSplit:
    net: Decimal
    vat: Decimal
    gross: Decimal


def vat_split(net: Decimal, vat_rate: Decimal | None) -> TaxSplit:
    """Net, VAT (rate in percent, rounded half-up to the grosz) and gross of a payable total."""
    net = round_total(Decimal(net))
    if vat_rate is None:
        return TaxSplit(net, ZERO, net)
    vat = round_total(net * Decimal(vat_rate) / HUNDRED)
    return TaxSplit(net, vat, net + vat)


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


def previous_month(period: date) -> date:
    return (period.replace(day=1) - timedelta(days=1)).replace(day=1)


def local_midnight_utc(day: date, zone: ZoneInfo = BILLING_ZONE) -> datetime:
    """The UTC instant at which `day` starts in `zone`."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def month_bounds_utc(period: date, zone: ZoneInfo = BILLING_ZONE) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the billing month that starts on `period` in `zone`."""
    first = period.replace(day=1)
    return local_midnight_utc(first, zone), local_midnight_utc(next_month(first), zone)


def billing_instant(dispatched_at: datetime | None, created_at: datetime) -> datetime:
    """The instant that decides a message's billing month (Message.billing_at): its dispatch
    time (sent, else queued), else (refused, still submitting) the time it was submitted."""
    return dispatched_at if dispatched_at is not None else created_at


def billing_day(instant: datetime, zone: ZoneInfo = BILLING_ZONE) -> date:
    """The date in `zone` of an aware billing instant: the days of a billing month are exactly
    the days whose month it is (daily rollups)."""
    if instant.tzinfo is None:
        raise ValueError("The dispatch time must be timezone-aware.")
    return instant.astimezone(zone).date()


def billing_month(dispatched_at: datetime, zone: ZoneInfo = BILLING_ZONE) -> date:
    """The billing month (first day) of an aware billing instant."""
    return billing_day(dispatched_at, zone).replace(day=1)


def months_earlier(instant: datetime, months: int, zone: ZoneInfo = BILLING_ZONE) -> datetime:
    """`instant` moved back by whole months of `zone`'s calendar, at the same local wall time
    (the day clamped to the shorter month's last day); aware, in `zone`."""
    if instant.tzinfo is None:
        raise ValueError("The instant must be timezone-aware.")
    local = instant.astimezone(zone)
    year, month = divmod(local.year * 12 + local.month - 1 - months, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


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

    def at(self, instant: datetime) -> Terms | None:
        # The latest version started by `instant`, if it has not ended (a few versions: a scan).
        for span in reversed(self.spans):
            if span.start <= instant:
                return span.terms if span.end is None or instant < span.end else None
        return None
