"""The pure commission rules: rates, tiers, amounts, Warsaw billing months, rounding."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.commission import (
    BILLING_ZONE,
    PER_MESSAGE,
    PER_PART,
    PERCENT_OF_COST,
    Rates,
    Terms,
    Tier,
    VersionPicker,
    VersionSpan,
    billing_month,
    can_close,
    date_range_utc,
    message_amount,
    month_bounds_utc,
    months_earlier,
    parse_period,
    rate_for,
    review_window_end,
    round_total,
)

D = Decimal


def test_per_message_amount_is_the_rate_whatever_the_parts():
    assert message_amount(PER_MESSAGE, D("0.0150"), parts=3, cost=D("0.50")) == D("0.0150")


def test_per_part_amount_multiplies_the_rate_by_the_parts():
    # 3 parts x 0.012 PLN = 0.036 PLN
    assert message_amount(PER_PART, D("0.012"), parts=3, cost=None) == D("0.0360")


def test_percent_of_cost_takes_the_percentage_of_the_message_cost():
    # 7.5 % of 0.1650 PLN = 0.012375, kept exact: rounding happens once, at the total
    assert message_amount(PERCENT_OF_COST, D("7.5"), parts=1, cost=D("0.1650")) == D("0.012375")


def test_percent_of_unknown_cost_earns_nothing():
    assert message_amount(PERCENT_OF_COST, D("10"), parts=1, cost=None) == D("0")


def test_tiers_hand_worked():
    # First 10,000 counted messages at 0.02, the next up to 50,000 at 0.015, then 0.01 (ECO).
    terms = Terms(
        PER_MESSAGE,
        Rates(eco=D("0.02"), full=D("0.05")),
        tiers=(Tier(50_000, Rates(eco=D("0.01"))), Tier(10_000, Rates(eco=D("0.015")))),
    )
    assert rate_for(terms, "eco", 1) == D("0.02")
    assert rate_for(terms, "eco", 10_000) == D("0.02")
    assert rate_for(terms, "eco", 10_001) == D("0.015")
    assert rate_for(terms, "eco", 50_000) == D("0.015")
    assert rate_for(terms, "eco", 50_001) == D("0.01")
    assert rate_for(terms, "full", 1) == D("0.05")
    assert rate_for(terms, "full", 10_001) == D("0")  # tier rate for full not given: 0
    # 12,000 ECO messages: 10,000 x 0.02 + 2,000 x 0.015 = 200 + 30 = 230.00 PLN
    total = sum(
        message_amount(PER_MESSAGE, rate_for(terms, "eco", n), 1, None) for n in range(1, 12_001)
    )
    assert total == D("230.0000")


def test_round_total_is_half_up():
    assert round_total(D("10.005")) == D("10.01")
    assert round_total(D("10.0049")) == D("10.00")
    assert round_total(D("-0.005")) == D("-0.01")


def test_parse_period():
    assert parse_period("2024-10") == date(2024, 10, 1)
    for bad in ["2024-13", "2024-1", "24-10", "", "2024/10", "1999-01"]:
        with pytest.raises(ValueError):
            parse_period(bad)


@pytest.mark.parametrize(
    ("instant", "month"),
    [
        # 31 Jan 23:00 UTC is 1 Feb 00:00 in Warsaw (CET, UTC+1).
        (datetime(2024, 1, 31, 22, 59, 59, tzinfo=UTC), date(2024, 1, 1)),
        (datetime(2024, 1, 31, 23, 0, 0, tzinfo=UTC), date(2024, 2, 1)),
        # 30 Jun 22:00 UTC is 1 Jul 00:00 in Warsaw (CEST, UTC+2).
        (datetime(2024, 6, 30, 21, 59, 59, tzinfo=UTC), date(2024, 6, 1)),
        (datetime(2024, 6, 30, 22, 0, 0, tzinfo=UTC), date(2024, 7, 1)),
        # Around the October change (27 Oct 2024, 03:00 CEST -> 02:00 CET): still October.
        (datetime(2024, 10, 27, 0, 30, tzinfo=UTC), date(2024, 10, 1)),
        (datetime(2024, 10, 27, 1, 30, tzinfo=UTC), date(2024, 10, 1)),
        # 31 Oct 23:00 UTC is 1 Nov 00:00 CET: already November.
        (datetime(2024, 10, 31, 22, 59, 59, tzinfo=UTC), date(2024, 10, 1)),
        (datetime(2024, 10, 31, 23, 0, 0, tzinfo=UTC), date(2024, 11, 1)),
    ],
)
def test_billing_month_is_the_warsaw_month(instant, month):
    assert billing_month(instant) == month


def test_month_bounds_follow_daylight_saving():
    start, end = month_bounds_utc(date(2024, 10, 1))
    assert start == datetime(2024, 9, 30, 22, 0, tzinfo=UTC)  # CEST
    assert end == datetime(2024, 10, 31, 23, 0, tzinfo=UTC)  # CET
    assert (end - start).total_seconds() == 31 * 86400 + 3600  # October has 25-hour day


@given(
    st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    )
)
def test_an_instant_lies_within_the_bounds_of_its_billing_month(instant):
    start, end = month_bounds_utc(billing_month(instant))
    assert start <= instant < end


def test_review_window():
    period = date(2024, 10, 1)
    # October ends 31 Oct 23:00 UTC; +3 days = 3 Nov 23:00 UTC (Warsaw midnight of 4 Nov).
    assert review_window_end(period, 3) == datetime(2024, 11, 3, 23, 0, tzinfo=UTC)
    assert not can_close(period, datetime(2024, 11, 3, 22, 59, tzinfo=UTC), 3)
    assert can_close(period, datetime(2024, 11, 3, 23, 0, tzinfo=UTC), 3)


def test_version_picker_uses_inclusive_warsaw_dates():
    v1 = Terms(PER_MESSAGE, Rates(eco=D("1")), ref=1)
    v2 = Terms(PER_MESSAGE, Rates(eco=D("2")), ref=2)
    picker = VersionPicker(
        [
            VersionSpan(*date_range_utc(date(2024, 1, 1), date(2024, 10, 15)), v1),
            VersionSpan(*date_range_utc(date(2024, 10, 16), None), v2),
        ]
    )
    # 15 Oct 23:59 Warsaw (21:59 UTC) is still v1; 16 Oct 00:00 Warsaw is v2.
    assert picker.at(datetime(2024, 10, 15, 21, 59, tzinfo=UTC)).ref == 1
    assert picker.at(datetime(2024, 10, 15, 22, 0, tzinfo=UTC)).ref == 2
    assert picker.at(datetime(2023, 12, 31, 22, 59, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("instant", "months", "expected"),
    [
        # 13 months before 15 Mar 2026 13:00 CET is 15 Feb 2025 13:00 CET.
        (datetime(2026, 3, 15, 12, 0, tzinfo=UTC), 13, datetime(2025, 2, 15, 12, 0, tzinfo=UTC)),
        # The same wall time across daylight saving: 12:00 CEST in July, 12:00 CET in January.
        (datetime(2025, 7, 1, 10, 0, tzinfo=UTC), 6, datetime(2025, 1, 1, 11, 0, tzinfo=UTC)),
        # 31 Mar 00:30 CEST (30 Mar 22:30 UTC) back one month: 28 Feb 00:30 CET (the day
        # clamped), a UTC instant on 27 Feb.
        (datetime(2025, 3, 30, 22, 30, tzinfo=UTC), 1, datetime(2025, 2, 27, 23, 30, tzinfo=UTC)),
        # The Warsaw month, not the UTC one: 1 Nov 00:30 CET (31 Oct in UTC) back one month is
        # 1 Oct 00:30 CEST, not 30 Sep.
        (
            datetime(2025, 10, 31, 23, 30, tzinfo=UTC),
            1,
            datetime(2025, 9, 30, 22, 30, tzinfo=UTC),
        ),
    ],
)
def test_months_earlier_moves_back_on_the_warsaw_calendar(instant, months, expected):
    moved = months_earlier(instant, months)
    assert moved == expected
    assert moved.tzinfo is BILLING_ZONE
    assert billing_month(moved) == billing_month(expected)


def test_months_earlier_refuses_a_naive_time():
    with pytest.raises(ValueError):
        months_earlier(datetime(2025, 1, 1), 1)
