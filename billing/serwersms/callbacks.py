"""SerwerSMS delivery-report callbacks (serwersms-api.md §5): the one place that reads them.

C: the parameters are `smsid` (SerwerSMS's message id), `stan` (the state) and `data` (a time),
by GET or POST; the handler answers `OK`.
I: the `stan` words and the time format of `data`. By default both forms we can justify are
understood: the API v2 status words and the XML `nat` words (DELIVRD, UNDELIV, PENDING), plus
the Polish report words; SERWERSMS_CALLBACK_STAN_WORDS replaces the table (docs/gateway.md).
A word not in the table is passed on as it is: the status service records it and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

from billing.statuses import DELIVERY_REPORTED

from .parsing import parse_time
from .types import ReportItem

DEFAULT_STAN_WORDS = {
    # API v2 status words (§3, C as statuses; I as callback words)
    "delivered": "delivered",
    "undelivered": "undelivered",
    "sent": "sent",
    "unsent": "unsent",
    # XML `nat` dlr_url words (§5, C for nat). ERR is left out on purpose: it does not say
    # whether the message was dispatched, and unsent earns nothing; the poll settles it.
    "DELIVRD": "delivered",
    "UNDELIV": "undelivered",
    "PENDING": "sent",
    # Polish report words (§4, I)
    **dict.fromkeys(("doreczone", "doreczona"), "delivered"),
    **dict.fromkeys(("niedoreczone", "niedoreczona"), "undelivered"),
    **dict.fromkeys(("wyslane", "wyslana"), "sent"),
    **dict.fromkeys(("niewyslane", "niewyslana"), "unsent"),
}


class CallbackError(ValueError):
    """A callback that cannot be understood; the message says which field and why."""


def status_for(stan: str) -> str:
    """Our status word for a callback's `stan` (exact, then case-insensitive); else `stan`."""
    words = settings.SERWERSMS_CALLBACK_STAN_WORDS or DEFAULT_STAN_WORDS
    folded = {key.lower(): value for key, value in words.items()}
    return words[stan] if stan in words else folded.get(stan.lower(), stan)


def parse_callback(data: Mapping[str, str]) -> ReportItem:
    """A callback's parameters as a ReportItem; CallbackError when they do not make one."""
    smsid, stan, when = ((data.get(name) or "").strip() for name in ("smsid", "stan", "data"))
    if not smsid:
        raise CallbackError("smsid: missing")
    if not stan:
        raise CallbackError("stan: missing")
    if len(smsid) > 64 or len(stan) > 32:
        raise CallbackError("smsid or stan: too long")
    try:
        at = parse_time(when) if when else None
    except ValueError as exc:
        raise CallbackError(f"data: expected YYYY-MM-DD HH:MM:SS, got {when!r}") from exc
    status = status_for(stan)
    return ReportItem(
        serwersms_id=smsid,
        phone="",
        status=status,
        sent_at=at if status == "sent" else None,
        delivered_at=at if status in DELIVERY_REPORTED else None,
    )
