"""The money rules of commission.py: exact amounts, one rounding, a statement that adds up as
printed, credits carried forward, tiers in the forecast, VAT, the billing instant."""

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.commission import (
    PER_MESSAGE,
    PER_PART,
    PERCENT_OF_COST,
    Rates,
    Terms,
    Tier,
    billing_instant,
    billing_month,
    forecast_amount,
    message_amount,
    present_statement,
    round_total,
    tier_progress,
    vat_split,
)

D = Decimal
CENT = D("0.01")

# Exact amounts as the statement lines hold them (up to 12 decimals), positive and negative.
exact_amounts = st.decimals(
    min_value=D("-50"), max_value=D("500"), places=12, allow_nan=False, allow_infinity=False
)
opening_credits = st.decimals(
    min_value=D("-100"), max_value=D("0"), places=2, allow_nan=False, allow_infinity=False
)


def test_percent_of_cost_is_rounded_once_at_the_total():
    # The case: 1,000 ECO messages at cost 0.0650 with 12.5 %: 0.008125 each.
    amounts = [message_amount(PERCENT_OF_COST, D("12.5"), 1, D("0.0650")) for _ in range(1000)]
    assert amounts[0] == D("0.008125")
    assert present_statement([sum(amounts)]).total == D("8.13")  # not 8.10 (0.0081 x 1000)


def test_rates_keep_six_decimals():
    assert message_amount(PER_PART, D("0.003125"), 3, None) == D("0.009375")
    assert message_amount(PERCENT_OF_COST, D("12.345678"), 1, D("0.1234")) == D("0.015234566652")


@pytest.mark.parametrize(
    ("lines", "adjustments", "printed_lines", "rounding", "total"),
    [
        # Three lines of 0.005 print as 0.01 each (half-up) but add up to 0.015 -> 0.02.
        ([D("0.005")] * 3, [], [CENT] * 3, D("-0.01"), D("0.02")),
        # 20.494 + 0.004 adjustment: printed 20.49 + 0.00, total 20.50 (half-up of 20.498).
        ([D("20.494")], [D("0.004")], [D("20.49")], D("0.01"), D("20.50")),
        # Nothing to round: no rounding line.
        ([D("1.25"), D("2.50")], [D("-0.75")], [D("1.25"), D("2.50")], D("0"), D("3.00")),
    ],
    ids=["three half grosze", "adjustment tips the total", "round figures"],
)
def test_statement_rounding_line_hand_worked(lines, adjustments, printed_lines, rounding, total):
    shown = present_statement(lines, adjustments)
    assert list(shown.lines) == printed_lines
    assert shown.rounding == rounding
    assert shown.total == total


def test_negative_balance_is_carried_forward_as_a_credit():
    # A correction after a closed month (parts 3 -> 1) makes the month -0.02: nothing is paid.
    shown = present_statement([], [D("-0.0210")])
    assert shown.total == D("0.00")
    assert shown.balance == D("-0.02")
    assert shown.carried_forward == D("0.02")
    assert shown.credit_to_carry == D("-0.02")
    # The next month opens with that credit and pays the rest.
    following = present_statement([D("1.004")], [], opening_credit=shown.credit_to_carry)
    assert following.opening_credit == D("-0.02")
    assert following.total == D("0.98")
    assert following.carried_forward == D("0")


def test_an_opening_credit_cannot_be_positive():
    with pytest.raises(ValueError, match="negative balance"):
        present_statement([D("1")], [], opening_credit=D("0.50"))


@given(
    lines=st.lists(exact_amounts, max_size=40),
    adjustments=st.lists(exact_amounts, max_size=20),
    opening=opening_credits,
)
def test_printed_statement_adds_up_and_total_is_the_rounded_exact_sum(lines, adjustments, opening):
    """For any month: printed lines + adjustments + opening credit + rounding + credit carried
    forward equal the printed total; the total is the half-up rounding of the exact sum (or 0
    with the negative balance carried forward); every printed figure has two decimals."""
    shown = present_statement(lines, adjustments, opening)
    printed = (
        sum(shown.lines, D(0))
        + sum(shown.adjustments, D(0))
        + shown.opening_credit
        + shown.rounding
        + shown.carried_forward
    )
    assert printed == shown.total
    exact_sum = sum(lines, D(0)) + sum(adjustments, D(0)) + opening
    rounded = exact_sum.quantize(CENT, rounding=ROUND_HALF_UP)
    assert shown.balance == rounded
    assert shown.total == max(rounded, D(0))
    assert shown.total >= 0 and shown.carried_forward >= 0
    for figure in (*shown.lines, *shown.adjustments, shown.rounding, shown.total):
        assert figure == figure.quantize(CENT)
    # Rounding never truncates: each printed line is the half-up rounding of its exact amount.
    assert list(shown.lines) == [v.quantize(CENT, rounding=ROUND_HALF_UP) for v in lines]


@given(st.decimals(min_value=D("-1000"), max_value=D("1000"), places=6, allow_nan=False))
def test_round_total_is_half_up_never_truncated(value):
    rounded = round_total(value)
    assert abs(rounded - value) <= D("0.005")
    if abs(rounded - value) == D("0.005"):
        assert abs(rounded) > abs(value)  # ties go away from zero (half-up)


TIERED = Terms(
    PER_MESSAGE,
    Rates(eco=D("0.02"), full=D("0.05")),
    tiers=(Tier(3, Rates(eco=D("0.01"), full=D("0.04"))),),
)


def test_forecast_prices_pending_messages_with_the_tier_they_would_reach():
    # 2 counted already; 3 pending ECO: the 3rd counted is at 0.02, the 4th and 5th at 0.01.
    pending = [("eco", 1, None)] * 3
    assert forecast_amount(TIERED, 2, pending) == D("0.04")
    # Already past the tier: all at the tier rate.
    assert forecast_amount(TIERED, 10, pending) == D("0.03")


@pytest.mark.parametrize(
    ("counted", "tier", "next_from", "remaining"),
    [(0, 0, 3, 3), (2, 0, 3, 1), (3, 1, None, None), (50, 1, None, None)],
    ids=["nothing yet", "one short", "tier reached", "far past"],
)
def test_tier_progress(counted, tier, next_from, remaining):
    progress = tier_progress(TIERED, counted)
    assert (progress.tier, progress.next_from_volume, progress.remaining) == (
        tier,
        next_from,
        remaining,
    )


def test_vat_split_rounds_half_up_to_the_grosz():
    split = vat_split(D("20.50"), D("23"))
    assert (split.net, split.vat, split.gross) == (D("20.50"), D("4.72"), D("25.22"))  # 4.715
    assert vat_split(D("20.50"), None).gross == D("20.50")


def test_a_message_refused_at_send_time_belongs_to_its_submission_month():
    submitted = datetime(2024, 10, 31, 23, 30, tzinfo=UTC)  # 1 November 00:30 in Warsaw
    assert billing_month(billing_instant(None, submitted)) == date(2024, 11, 1)
    queued = datetime(2024, 10, 31, 22, 59, 59, tzinfo=UTC)
    earlier = datetime(2024, 10, 30, 12, 0, tzinfo=UTC)
    assert billing_instant(queued, earlier) == queued
