"""commission.rate_sql / amount_sql, evaluated by PostgreSQL, equal rate_for / message_amount."""

from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.commission import (
    BASES,
    MESSAGE_TYPES,
    PER_MESSAGE,
    PER_PART,
    PERCENT_OF_COST,
    Rates,
    Terms,
    Tier,
    amount_sql,
    message_amount,
    rate_for,
    rate_sql,
)

pytestmark = pytest.mark.django_db
D = Decimal


def rates(base: str) -> Rates:
    """Different rates per type, so a wrong type or tier shows."""
    value = D(base)
    return Rates(eco=value, full=value * 2, mms=value * 5 + D("0.000001"), voice=value * 3)


TERMS = {
    "no tiers": Terms(PER_MESSAGE, rates("0.0100")),
    "one tier": Terms(PER_MESSAGE, rates("0.0100"), (Tier(10_000, rates("0.0050")),)),
    "a tier from the first message": Terms(
        PER_PART, rates("0.0100"), (Tier(0, rates("0.0090")), Tier(2, rates("0.0080")))
    ),
    "three tiers, given unsorted": Terms(
        PERCENT_OF_COST,
        rates("12.5"),
        (
            Tier(100_000, rates("7.123456")),
            Tier(1, rates("10")),
            Tier(50_000, rates("9.000001")),
        ),
    ),
}


def sql_rates(terms: Terms, cases: list[tuple[int, str]]) -> list[Decimal]:
    expression, params = rate_sql(terms, ordinal="v.ordinal", message_type="v.message_type")
    values = ", ".join(["(CAST(%s AS bigint), CAST(%s AS text), %s)"] * len(cases))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {expression} FROM (VALUES {values}) AS v(ordinal, message_type, n) "
            "ORDER BY v.n",
            [*params, *(x for i, case in enumerate(cases) for x in (*case, i))],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.parametrize("name", list(TERMS))
def test_sql_rate_equals_rate_for_at_every_tier_boundary(name):
    terms = TERMS[name]
    ordinals = {1, 2, 3, 9_999, 10_000, 10_001, 10**7}
    for tier in terms.tiers:
        ordinals |= {v for v in (tier.from_volume, tier.from_volume + 1) if v >= 1}
    cases = [(o, t) for o in sorted(ordinals) for t in MESSAGE_TYPES]
    assert sql_rates(terms, cases) == [rate_for(terms, t, o) for o, t in cases]


def test_an_unknown_message_type_has_no_sql_rate():
    assert sql_rates(TERMS["one tier"], [(1, "fax")]) == [None]


def sql_amounts(basis: str, cases: list[tuple[Decimal, int, Decimal | None]]) -> list[Decimal]:
    expression = amount_sql(basis, rate="v.rate", parts="v.parts", cost="v.cost")
    values = ", ".join(
        ["(CAST(%s AS numeric(14, 6)), CAST(%s AS int), CAST(%s AS numeric(12, 4)), %s)"]
        * len(cases)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {expression} FROM (VALUES {values}) AS v(rate, parts, cost, n) ORDER BY v.n",
            [x for i, case in enumerate(cases) for x in (*case, i)],
        )
        return [row[0] for row in cursor.fetchall()]


AMOUNT_CASES = [
    (D("0.0100"), 1, D("0.0650")),
    (D("7.5"), 3, D("0.0650")),  # 7.5 % of 0.0650 = 0.004875, never rounded
    (D("12.5"), 1, None),  # unknown cost: nothing on the percentage basis
    (D("0.000001"), 6, D("0.0001")),  # the smallest rate of the smallest cost
    (D("99999999.999999"), 1000, D("99999999.9999")),  # the largest the columns hold
    (D("0"), 2, D("1.0000")),
    (D("33.333333"), 2, D("0.0003")),
]


@pytest.mark.parametrize("basis", BASES)
def test_sql_amount_equals_message_amount_exactly(basis):
    expected = [message_amount(basis, rate, parts, cost) for rate, parts, cost in AMOUNT_CASES]
    got = sql_amounts(basis, AMOUNT_CASES)
    assert got == expected
    # The same digits, not only the same value: 12 decimals as stored.
    assert [f"{v:.12f}" for v in got] == [f"{v:.12f}" for v in expected]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    basis=st.sampled_from(BASES),
    rate=st.decimals("0", "1000", places=6),
    parts=st.integers(1, 1000),
    cost=st.one_of(st.none(), st.decimals("0", "999999", places=4)),
)
def test_sql_amount_property(basis, rate, parts, cost):
    assert sql_amounts(basis, [(rate, parts, cost)]) == [message_amount(basis, rate, parts, cost)]


def test_an_unknown_basis_has_no_sql():
    with pytest.raises(ValueError, match="basis"):
        amount_sql("per_minute", rate="r", parts="p", cost="c")
