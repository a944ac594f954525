"""The one place that decides whether a request carries the partner's ic, and attaches it.

Only requests that send a message carry the ic (SerwerSMS partner programme): API v2 `send_*`
actions get body field `ic`, XML API `wyslij_sms` gets form field `ic`, an Email2SMS mail gets
the header `SerwerSMS-Dealer`. Every other request is stripped of any ic.
"""

from __future__ import annotations

API_V2 = "api_v2"
XML_API = "xml_api"
EMAIL2SMS = "email2sms"

SENDING_ACTIONS: dict[str, frozenset[str]] = {
    API_V2: frozenset(
        {
            "messages/send_sms",
            "messages/send_personalized",
            "messages/send_voice",
            "messages/send_mms",
        }
    ),
    XML_API: frozenset({"wyslij_sms"}),
    EMAIL2SMS: frozenset({"send"}),
}

IC_FIELD = {API_V2: "ic", XML_API: "ic", EMAIL2SMS: "SerwerSMS-Dealer"}


def is_sending(channel: str, action: str) -> bool:
    if channel not in SENDING_ACTIONS:
        raise ValueError(f"Unknown SerwerSMS channel {channel!r}.")
    return action in SENDING_ACTIONS[channel]


def with_ic(channel: str, action: str, payload: dict, ic: int | None) -> dict:
    """A copy of `payload` (API v2 body, XML form or mail headers) with the ic set or removed."""
    field = IC_FIELD[channel]
    result = {key: value for key, value in payload.items() if key.lower() != field.lower()}
    if not is_sending(channel, action):
        return result
    if isinstance(ic, bool) or not isinstance(ic, int) or ic < 1:
        raise ValueError(
            f"A sending request needs the partner's ic (a positive integer), got {ic!r}."
        )
    result[field] = ic if channel == API_V2 else str(ic)
    return result
