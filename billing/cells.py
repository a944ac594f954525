"""The one neutralising rule for spreadsheet cells (CSV and XLSX exports of messages and
statements). Pure: no Django, no models."""

from __future__ import annotations

import re

# A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# ...unless it is only a number: "+48500600700" (a phone in E.164) or "-12" cannot run anything.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 ]*\Z")


def neutralise(value):
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; plain signed
    numbers ("+48500600700") and non-text values (numbers, dates, None) stay as they are."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not _PLAIN_NUMBER.match(value)
    ):
        return "'" + value
    return value


# The same rule in SQL, for exports written by PostgreSQL itself (COPY ... TO STDOUT). Built from
# FORMULA_START so the two cannot drift apart; tests/test_cells.py checks both agree on a table of
# tricky values. `[0-9]` (not `\d`) on both sides: Python's `\d` would also take other scripts'
# digits, which PostgreSQL's regular expressions may not.
_SQL_FORMULA_START = ", ".join(f"chr({ord(char)})" for char in FORMULA_START)
_SQL_PLAIN_NUMBER = "^[+-]?[0-9][0-9 ]*$"


def neutralise_sql(expression: str) -> str:
    """A PostgreSQL expression: `expression` (text) neutralised as `neutralise` does. It holds
    no `%` and no parameters, so it can sit in a statement psycopg formats with parameters."""
    return (
        f"(CASE WHEN left({expression}, 1) IN ({_SQL_FORMULA_START})"
        f" AND {expression} !~ '{_SQL_PLAIN_NUMBER}'"
        f" THEN chr(39) || {expression} ELSE {expression} END)"
    )
