"""Typed SerwerSMS failures: every error keeps SerwerSMS's code, message and the HTTP status.

`may_have_been_sent` tells the send service whether a failed sending call could still have
reached SerwerSMS (then it looks the message up, never sends again) or surely did not.
"""

from __future__ import annotations


class SerwerSMSError(Exception):
    """A call to SerwerSMS failed. SerwerSMS answered, so nothing was sent unless said otherwise."""

    may_have_been_sent = False
    default_code = "error"

    def __init__(
        self, code: str | int | None = None, message: str = "", http_status: int | None = None
    ):
        self.code = str(code) if code not in (None, "") else self.default_code
        self.message = message or self.__class__.__name__
        self.http_status = http_status
        super().__init__(self.describe())

    def describe(self) -> str:
        status = f", HTTP {self.http_status}" if self.http_status else ""
        return f"SerwerSMS error {self.code}{status}: {self.message}"


class InvalidCredentials(SerwerSMSError):
    default_code = "invalid_credentials"


class LimitExhausted(SerwerSMSError):
    default_code = "limit_exhausted"


class InvalidInput(SerwerSMSError):
    default_code = "invalid_input"


class RateLimited(SerwerSMSError):
    """HTTP 429: SerwerSMS refused the call before doing anything."""

    default_code = "rate_limited"

    def __init__(self, *args, retry_after: float | None = None, **kwargs):
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class ServerError(SerwerSMSError):
    """HTTP 5xx."""

    default_code = "server_error"


class MalformedResponse(SerwerSMSError):
    """The answer is not the JSON or XML SerwerSMS speaks."""

    default_code = "malformed_response"


class TransportError(SerwerSMSError):
    """No answer: the connection failed, timed out or was dropped.

    `may_have_been_sent` is False only when the request surely never reached SerwerSMS
    (connection refused, connect timeout, unknown host); a read timeout or a dropped
    connection after the request went out may have sent it.
    """

    default_code = "transport_error"

    def __init__(self, message: str = "", *, may_have_been_sent: bool):
        self.may_have_been_sent = may_have_been_sent
        code = "timeout_or_dropped" if may_have_been_sent else "not_connected"
        super().__init__(code, message, None)


class ConfigurationError(SerwerSMSError):
    """The account cannot use this channel (e.g. the XML API needs a username and password)."""

    default_code = "configuration"


# Error codes the simulator (and, as far as known, SerwerSMS) uses, by family.
_BY_TYPE = {
    "InvalidCredentials": InvalidCredentials,
    "LimitExhausted": LimitExhausted,
    "ValidationError": InvalidInput,
}


def error_class_for(code: str | int | None, type_name: str = "", http_status: int | None = None):
    """The exception class for an error answer: 429/5xx first, then type, HTTP status, code."""
    if http_status == 429:
        return RateLimited
    if http_status is not None and http_status >= 500:
        return ServerError
    if type_name in _BY_TYPE:
        return _BY_TYPE[type_name]
    if http_status in (401, 403):
        return InvalidCredentials
    if http_status == 402:
        return LimitExhausted
    if http_status in (400, 422):
        return InvalidInput
    text = str(code or "")
    if len(text) == 4 and text[0] in "123":
        return {"1": InvalidCredentials, "2": InvalidInput, "3": LimitExhausted}[text[0]]
    return SerwerSMSError
