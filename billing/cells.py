"""The one neutralising rule for spreadsheet cells (CSV and XLSX exports of messages and
statements). Pure: no Django, no models."""

from __future__ import annotations

import re

# A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# ...unless it is only a number: "+48500600700" (a phone in E.164) or "-12" cannot run anything.
_PLAIN_NUMBER = re.compile(r"[+-]?\d[\d ]*\Z")


def neutralise(value):
    """Text that a spreadsheet would run as a formula gets a leading apostrophe.

    Phones such as "+48500600700" and other plain signed numbers stay as they are; other values
    (numbers, dates, None) are returned unchanged.
    """
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_START)
        and not _PLAIN_NUMBER.match(value)
    ):
        return "'" + value
    return value
