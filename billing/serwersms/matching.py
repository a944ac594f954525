"""Pairing a send answer's items with the recipients asked for: by unique_id when an item echoes
one, else by phone, never by position (serwersms-api.md §3: items carry `phone`; no source says
they carry `unique_id`, and the XML API lists queued and unsent numbers apart, §4).
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import MalformedResponse
from .types import SendItem


def digits(phone: str) -> str:
    return "".join(ch for ch in str(phone or "") if ch.isdigit())


def ends_with_number(answered: str, ours: str) -> bool:
    """Our E.164 number ends with the last 9 digits SerwerSMS answered (it may drop +48)."""
    got = digits(answered)
    return bool(got) and ours.lstrip("+").endswith(got[-9:])


def same_number(answered: str, asked: str) -> bool:
    """SerwerSMS may answer `+48…`, `48…` or the 9 digits asked for: the same number."""
    got, wanted = digits(answered), digits(asked)
    if not got or not wanted:
        return False
    if got == wanted:
        return True
    shorter, longer = sorted((got, wanted), key=len)
    return len(shorter) >= 9 and longer.endswith(shorter)


def match_items(
    items: Sequence[SendItem], phones: Sequence[str], unique_ids: Sequence[str] | None = None
) -> list[SendItem]:
    """The answer's items in the order of `phones`; MalformedResponse (may have been done: look
    it up) when an item is missing or extra, as the answer does not say what became of one."""
    if len(items) != len(phones):
        raise MalformedResponse(
            None, f"SerwerSMS answered {len(items)} items for {len(phones)} recipients."
        )
    remaining = list(items)
    ordered: list[SendItem] = []
    for index, phone in enumerate(phones):
        wanted = unique_ids[index] if unique_ids else None
        match = (  # by the echoed unique_id, else by number (an item echoing none first)
            next((i for i in remaining if wanted and i.unique_id == wanted), None)
            or next((i for i in remaining if not i.unique_id and same_number(i.phone, phone)), None)
            or next((i for i in remaining if same_number(i.phone, phone)), None)
        )
        if match is None:
            raise MalformedResponse(None, f"The send answer has no item for {phone}.")
        remaining.remove(match)
        ordered.append(match)
    return ordered
