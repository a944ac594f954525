"""Phone numbers as SerwerSMS reads them (serwersms-api.md §1, §6), written from the text alone.

`+48…` numbers; bare Polish 9-digit numbers (and Email2SMS's "48…" form) are corrected to +48;
foreign numbers need the `+` (C, PHP1 README). No third-party number rules.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-().]")


def normalize(raw: str) -> str | None:
    """The number as `+<digits>`, or None when SerwerSMS would not take it."""
    text = _SEPARATORS.sub("", str(raw or ""))
    if text.startswith("00"):
        text = "+" + text[2:]
    if re.fullmatch(r"\d{9}", text):
        return "+48" + text
    if re.fullmatch(r"48\d{9}", text):
        return "+" + text
    if re.fullmatch(r"\+48\d{9}", text):
        return text
    if re.fullmatch(r"\+[1-9]\d{6,14}", text) and not text.startswith("+48"):
        return text
    return None


def same_or_raw(raw: str) -> str:
    """The normalised number, or the raw text (to look up what was stored as given)."""
    return normalize(raw) or str(raw or "").strip()
