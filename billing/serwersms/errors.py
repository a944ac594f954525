"""Typed SerwerSMS failures (serwersms-api.md §2, §4): each keeps SerwerSMS's code and message and
the HTTP status; the codes' classes and the outcomes are tabled in docs/gateway.md.
"""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    NOTHING_DONE = "nothing_done"  # surely nothing done: may be asked again
    MAYBE_DONE = "maybe_done"  # it may have taken the message: look it up, never resend blindly
    REFUSED = "refused"  # answered on purpose: asking again fails the same way; a send is unsent


class SerwerSMSError(Exception):
    """A call to SerwerSMS failed; `outcome` says whether anything may have been done."""

    outcome = Outcome.REFUSED
    default_code = "error"

    def __init__(
        self, code: str | int | None = None, message: str = "", http_status: int | None = None
    ):
        self.code = str(code) if code not in (None, "") else self.default_code
        self.message = message or self.__class__.__name__
        self.http_status = http_status
        super().__init__(self.describe())

    @property
    def may_have_been_sent(self) -> bool:
        return self.outcome == Outcome.MAYBE_DONE

    def describe(self) -> str:
        status = f", HTTP {self.http_status}" if self.http_status else ""
        return f"SerwerSMS error {self.code}{status}: {self.message}"


class InvalidCredentials(SerwerSMSError):
    default_code = "invalid_credentials"


class PermissionDenied(SerwerSMSError):
    default_code = "permission_denied"


class InvalidAction(SerwerSMSError):
    default_code = "invalid_action"


class NotFound(SerwerSMSError):
    default_code = "not_found"


class InvalidInput(SerwerSMSError):
    default_code = "invalid_input"


class LimitExhausted(SerwerSMSError):
    default_code = "limit_exhausted"


class SendingNotAllowed(SerwerSMSError):
    default_code = "sending_not_allowed"


class RateLimited(SerwerSMSError):
    """HTTP 429, read as a refusal before anything was done: our reading, since SerwerSMS
    documents no rate limit (serwersms-api.md). `retry_after` is the answer's Retry-After in
    seconds (None when absent or not a number); the retry policy waits at least that long."""

    outcome = Outcome.NOTHING_DONE
    default_code = "rate_limited"

    def __init__(self, *args, retry_after: float | None = None, **kwargs):
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class ServerError(SerwerSMSError):
    """HTTP 5xx: SerwerSMS failed somewhere, possibly after taking the message."""

    outcome = Outcome.MAYBE_DONE
    default_code = "server_error"


class MalformedResponse(SerwerSMSError):
    """The answer is not the JSON or XML SerwerSMS speaks: it may have acted before answering."""

    outcome = Outcome.MAYBE_DONE
    default_code = "malformed_response"


class TransportError(SerwerSMSError):
    """No answer: NOTHING_DONE only when the request surely never reached SerwerSMS (refused,
    connect timeout, unknown host); a read timeout or a dropped connection may have sent it."""

    default_code = "transport_error"

    def __init__(self, message: str = "", *, may_have_been_sent: bool):
        self.outcome = Outcome.MAYBE_DONE if may_have_been_sent else Outcome.NOTHING_DONE
        code = "timeout_or_dropped" if may_have_been_sent else "not_connected"
        super().__init__(code, message, None)


class ConfigurationError(SerwerSMSError):
    """The account cannot use this channel (e.g. the XML API needs a username and password)."""

    default_code = "configuration"


# §2 (C): API v2 codes -> our classes (meanings: docs/gateway.md). Every code is a refusal:
# SerwerSMS answered on purpose. InvalidInput also carries SMTP refusals (email2sms.py).
API_CODES: dict[int, type[SerwerSMSError]] = {
    1000: InvalidAction,
    1001: InvalidCredentials,
    1004: NotFound,
    **dict.fromkeys((1002, 1003, 1005, 1007, 1008), PermissionDenied),
    **dict.fromkeys((1006, 2000, 2001, 2002, 3101, 3102), InvalidInput),
    **dict.fromkeys((3000, 3002, 3004, 3006), LimitExhausted),
    **dict.fromkeys((3001, 3003, 3005, 3007, 3008, 3009, 3100), SendingNotAllowed),
}
# §4 (C): the XML API's numeric <Blad> codes.
XML_CODES: dict[int, type[SerwerSMSError]] = {
    106: InvalidAction,
    **dict.fromkeys((100, 101), InvalidCredentials),
    **dict.fromkeys((102, 103, 104, 105, 107), PermissionDenied),
    **dict.fromkeys((1000, 1002), LimitExhausted),
    **dict.fromkeys((1001, 1003), SendingNotAllowed),
}


def error_class_for(code: object, codes: dict = API_CODES) -> type[SerwerSMSError]:
    """The class of an API v2 (or, given `XML_CODES`, a `<Blad>`) code; text (the XML default
    form) or an undocumented code is a plain refusal."""
    try:
        return codes.get(int(str(code).strip()), SerwerSMSError)
    except (TypeError, ValueError):
        return SerwerSMSError


def http_error_class_for(status: int) -> type[SerwerSMSError] | None:
    """429 and 5xx decide by themselves, whatever the body says; None for other statuses."""
    if status == 429:
        return RateLimited
    return ServerError if status >= 500 else None
