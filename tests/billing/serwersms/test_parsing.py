"""SerwerSMS times (Europe/Warsaw "YYYY-MM-DD HH:MM:SS") become aware UTC datetimes."""

from datetime import UTC, datetime

import pytest

from billing.serwersms.parsing import format_time, parse_time


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-01-15 10:00:00", datetime(2026, 1, 15, 9, 0, tzinfo=UTC)),  # CET
        ("2026-07-15 10:00:00", datetime(2026, 7, 15, 8, 0, tzinfo=UTC)),  # CEST
        ("2026-07-15T10:00:00+00:00", datetime(2026, 7, 15, 10, 0, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("0000-00-00 00:00:00", None),
    ],
)
def test_parse_time(raw, expected):
    assert parse_time(raw) == expected


def test_parse_time_refuses_garbage():
    with pytest.raises(ValueError):
        parse_time("yesterday")


def test_format_time_is_warsaw_local():
    assert format_time(datetime(2026, 7, 15, 8, 0, tzinfo=UTC)) == "2026-07-15 10:00:00"


@pytest.mark.parametrize("raw", [10**20, 99999999999999999, float("inf")])
def test_parse_time_refuses_a_timestamp_out_of_range_with_value_error(raw):
    """A send answer's `queued` as a huge number is a malformed answer, not a crash."""
    with pytest.raises(ValueError):
        parse_time(raw)
